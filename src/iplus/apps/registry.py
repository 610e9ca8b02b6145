"""The domain packages, found by their manifests, and the algorithms and simulation scenarios they register.

Every package ``iplus.apps.<domain>`` with a ``manifest.toml`` is a domain. Its manifest says what it is and
lists the ids of the algorithms it registers; its ``algorithms`` module holds them in ``ALGORITHMS``. The
two must agree, so a manifest can be read (by people, the portal or a catalogue) without importing code.
A package with a ``scenarios`` module lists its simulation scenario kinds there in ``SCENARIOS``, each named
``<domain>.<kind>``.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import iplus.apps
from iplus.core.errors import ConfigurationError
from iplus.engines.sim.runner import register
from iplus.platform.knowledge.algorithms import Algorithm, AlgorithmRegistry

MANIFEST = "manifest.toml"


@dataclass(frozen=True)
class DomainManifest:
    """What a domain package says about itself."""

    id: str
    package: str
    title: str
    description: str
    version: str
    depends: tuple[str, ...]
    algorithms: tuple[str, ...]
    standards: dict[str, str]


def _parse(name: str, text: str) -> DomainManifest:
    try:
        doc = tomllib.loads(text)
        domain = doc["domain"]
        listed = doc.get("algorithms", [])
        manifest = DomainManifest(
            id=str(domain["id"]),
            package=f"{iplus.apps.__name__}.{name}",
            title=str(domain["title"]),
            description=str(domain["description"]),
            version=str(domain["version"]),
            depends=tuple(str(d) for d in domain.get("depends", [])),
            algorithms=tuple(str(a["id"]) for a in listed),
            standards={str(a["id"]): str(a.get("standard", "")) for a in listed},
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"iplus.apps.{name}/{MANIFEST} is not a valid manifest: {exc!r}") from exc
    problems = []
    if manifest.id != name:
        problems.append(f"domain.id {manifest.id!r} must be the package name {name!r}")
    problems += [
        f"algorithm {a!r} must start with {name}."
        for a in manifest.algorithms
        if not a.startswith(f"{name}.")
    ]
    if len(set(manifest.algorithms)) != len(manifest.algorithms):
        problems.append("an algorithm id is listed twice")
    if problems:
        raise ConfigurationError(f"iplus.apps.{name}/{MANIFEST}: " + "; ".join(problems))
    return manifest


@cache
def domain_manifests() -> tuple[DomainManifest, ...]:
    """Every domain package's manifest, sorted by domain id."""
    found = []
    for module in pkgutil.iter_modules(iplus.apps.__path__):
        if not module.ispkg:
            continue
        path = resources.files(f"{iplus.apps.__name__}.{module.name}").joinpath(MANIFEST)
        if path.is_file():
            found.append(_parse(module.name, path.read_text(encoding="utf-8")))
    return tuple(sorted(found, key=lambda m: m.id))


def domain_algorithms(manifest: DomainManifest) -> tuple[Algorithm, ...]:
    """The algorithms a domain registers, checked against its manifest."""
    module = importlib.import_module(f"{manifest.package}.algorithms")
    algorithms: tuple[Algorithm, ...] = tuple(getattr(module, "ALGORITHMS", ()))
    ids = tuple(a.id for a in algorithms)
    if sorted(ids) != sorted(manifest.algorithms):
        raise ConfigurationError(
            f"{manifest.package}: the manifest lists {sorted(manifest.algorithms)} "
            f"but the algorithms module defines {sorted(ids)}"
        )
    return algorithms


def register_algorithms(registry: AlgorithmRegistry) -> None:
    """Register every domain package's algorithms (call once at start, after the platform's own)."""
    for manifest in domain_manifests():
        for algorithm in domain_algorithms(manifest):
            registry.register(algorithm)


def register_scenarios() -> list[str]:
    """Register the simulation scenario kinds of every domain package that has a ``scenarios`` module.

    A module that fails to import, or a kind not named ``<domain>.<kind>``, stops the start with a
    ConfigurationError naming the module; none of that module's kinds is registered.
    """
    names: list[str] = []
    for manifest in domain_manifests():
        module = f"{manifest.package}.scenarios"
        if importlib.util.find_spec(module) is None:
            continue
        names += register(module, prefix=f"{manifest.id}.")
    return names
