"""The algorithm registry: versioned pure functions with JSON-Schema inputs and outputs."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from iplus.core.errors import Conflict, InvalidInput, NotFound
from iplus.core.jsondoc import json_problems

ALGORITHM_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
Schema = dict[str, Any]


def version_key(version: str) -> tuple[int, ...]:
    """Semantic versions compare by their numbers, so 1.10.0 is newer than 1.9.0."""
    return tuple(int(part) for part in version.split("."))


def _numeric_leaves(schema: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(schema, dict):
        return
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "number" in kinds or "integer" in kinds:
        yield path or "/", schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from _numeric_leaves(sub, f"{path}/{name}")
    if isinstance(schema.get("items"), dict):
        yield from _numeric_leaves(schema["items"], f"{path}/items")


def schema_problems(schema: Any, what: str) -> list[str]:
    """Why ``schema`` cannot describe algorithm data: it must be an object schema with units on numbers."""
    if not isinstance(schema, dict):
        return [f"{what}: must be a JSON Schema object"]
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return [f"{what}: not a valid JSON Schema: {exc.message}"]
    problems = []
    if schema.get("type") != "object":
        problems.append(f"{what}: the top level must be of type object")
    for path, leaf in _numeric_leaves(schema, ""):
        unit = leaf.get("unit")
        if not isinstance(unit, str) or not unit:
            # "1" is the dimensionless unit, as in UCUM and SenML
            problems.append(f'{what} {path}: a number must declare its unit ("unit": "1" if dimensionless)')
    return problems


def instance_problems(validator: jsonschema.Draft202012Validator, value: Any) -> list[str]:
    """Every reason ``value`` fails ``validator``, each with its JSON path."""
    return [
        f"{'/' + '/'.join(str(p) for p in err.absolute_path) if err.absolute_path else '/'}: {err.message}"
        for err in sorted(validator.iter_errors(value), key=lambda e: [str(p) for p in e.absolute_path])
    ]


@dataclass(frozen=True)
class Algorithm:
    """One version of a registered algorithm: what it takes, what it gives, and the function that does it."""

    id: str
    version: str
    title: str
    description: str
    inputs: Schema
    outputs: Schema
    fn: Callable[..., dict[str, Any]]
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    _in: jsonschema.Draft202012Validator = field(init=False, repr=False, compare=False)
    _out: jsonschema.Draft202012Validator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = []
        if not ALGORITHM_ID.match(self.id):
            problems.append(f"id {self.id!r}: use dotted lower-case names such as queueing.mmc")
        if not VERSION.match(self.version):
            problems.append(f"version {self.version!r}: use MAJOR.MINOR.PATCH")
        problems += schema_problems(self.inputs, "inputs")
        problems += schema_problems(self.outputs, "outputs")
        if problems:
            raise InvalidInput(f"algorithm {self.id} {self.version} cannot be registered", errors=problems)
        object.__setattr__(self, "_in", jsonschema.Draft202012Validator(self.inputs))
        object.__setattr__(self, "_out", jsonschema.Draft202012Validator(self.outputs))

    def describe(self) -> dict[str, Any]:
        """The public description: everything but the function."""
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "description": self.description,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "tags": list(self.tags),
            "references": list(self.references),
        }

    def invoke(self, inputs: Any) -> dict[str, Any]:
        """Check the inputs, run the function, and check that it kept its promise about the outputs."""
        # JSON Schema bounds let NaN through (every comparison with it is false)
        problems = instance_problems(self._in, inputs) + json_problems(inputs, "inputs")
        if problems:
            raise InvalidInput(f"the inputs of {self.id} {self.version} are not valid", errors=problems)
        # defaults declared in the schema apply when a caller leaves the input out
        args = {
            name: sub["default"]
            for name, sub in (self.inputs.get("properties") or {}).items()
            if isinstance(sub, dict) and "default" in sub
        }
        args.update(inputs)
        try:
            result = self.fn(**args)
        except (ValueError, ArithmeticError) as exc:
            # the function's own domain checks (e.g. an unstable queue) are the caller's to fix
            raise InvalidInput(f"{self.id} {self.version}: {exc}") from exc
        broken = instance_problems(self._out, result) + json_problems(result, "outputs")
        if broken:
            raise RuntimeError(f"{self.id} {self.version} broke its output schema: {broken}")
        return result


@dataclass(frozen=True)
class Invocation:
    """What one invocation returned and how long it took."""

    algorithm: str
    version: str
    outputs: dict[str, Any]
    elapsed_ms: float


class AlgorithmRegistry:
    """Every algorithm version the platform offers; the platform and domain applications register at start."""

    def __init__(self) -> None:
        self._versions: dict[str, dict[str, Algorithm]] = {}

    def register(self, algorithm: Algorithm) -> Algorithm:
        """Add one version; a version is immutable once registered."""
        versions = self._versions.setdefault(algorithm.id, {})
        if algorithm.version in versions:
            raise Conflict(f"algorithm {algorithm.id} {algorithm.version} is already registered")
        versions[algorithm.version] = algorithm
        return algorithm

    def ids(self) -> list[str]:
        """The registered algorithm ids, sorted."""
        return sorted(self._versions)

    def versions(self, algorithm_id: str) -> list[str]:
        """The versions of one algorithm, oldest first."""
        return sorted(self._of(algorithm_id), key=version_key)

    def _of(self, algorithm_id: str) -> dict[str, Algorithm]:
        versions = self._versions.get(algorithm_id)
        if not versions:
            raise NotFound(f"algorithm {algorithm_id} not found")
        return versions

    def get(self, algorithm_id: str, version: str | None = None) -> Algorithm:
        """One version, the newest when ``version`` is None."""
        versions = self._of(algorithm_id)
        if version is None:
            return versions[max(versions, key=version_key)]
        if version not in versions:
            raise NotFound(f"algorithm {algorithm_id} has no version {version}")
        return versions[version]

    def latest(self, *, tag: str | None = None, text: str | None = None) -> list[Algorithm]:
        """The newest version of each algorithm, optionally with a tag or containing a text."""
        found = [self.get(i) for i in self.ids()]
        if tag:
            found = [a for a in found if tag in a.tags]
        if text:
            needle = text.lower()
            found = [a for a in found if needle in f"{a.id} {a.title} {a.description}".lower()]
        return found

    def invoke(self, algorithm_id: str, inputs: Any, version: str | None = None) -> Invocation:
        """Run one algorithm version on ``inputs``."""
        algorithm = self.get(algorithm_id, version)
        started = time.perf_counter()
        outputs = algorithm.invoke(inputs)
        return Invocation(algorithm.id, algorithm.version, outputs, (time.perf_counter() - started) * 1000)
