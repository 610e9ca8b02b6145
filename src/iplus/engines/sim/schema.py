"""Parameter schemas of scenario kinds: JSON Schema with units, defaults and bounds; reasons for refusals."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any, Literal

from iplus.core.errors import InvalidInput

ParamType = Literal["number", "integer", "array", "choice"]


@dataclass(frozen=True)
class Param:
    """One scenario parameter: its type, unit, default and bounds (bounds apply to each array item too).

    A ``choice`` parameter takes one of the words in ``choices`` (a JSON Schema string enum).
    """

    name: str
    type: ParamType
    default: Any
    unit: str = ""
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    items: Literal["number", "integer"] = "number"
    min_items: int = 1
    max_items: int = 50
    choices: tuple[str, ...] = ()

    def json_schema(self) -> dict[str, Any]:
        """This parameter as a JSON Schema property (``unit`` is an annotation keyword)."""
        bounds: dict[str, Any] = {}
        if self.minimum is not None:
            bounds["minimum"] = self.minimum
        if self.exclusive_minimum is not None:
            bounds["exclusiveMinimum"] = self.exclusive_minimum
        if self.maximum is not None:
            bounds["maximum"] = self.maximum
        out: dict[str, Any] = {"description": self.description, "unit": self.unit, "default": self.default}
        if self.type == "choice":
            out |= {"type": "string", "enum": list(self.choices)}
        elif self.type == "array":
            out |= {
                "type": "array",
                "items": {"type": self.items, **bounds},
                "minItems": self.min_items,
                "maxItems": self.max_items,
            }
        else:
            out |= {"type": self.type, **bounds}
        return out

    def check(self, value: Any) -> tuple[Any, str | None]:
        """The value coerced to this parameter's type, or the reason it is refused."""
        if self.type == "choice":
            if isinstance(value, str) and value in self.choices:
                return value, None
            shown = repr(value)[:60]
            return None, f"must be one of {', '.join(self.choices)}, got {shown}"
        if self.type == "array":
            if not isinstance(value, list | tuple):
                return None, "must be a list"
            if not self.min_items <= len(value) <= self.max_items:
                return None, f"must have {self.min_items} to {self.max_items} items"
            out = []
            for i, item in enumerate(value):
                v, why = self._scalar(item, self.items)
                if why:
                    return None, f"item {i}: {why}"
                out.append(v)
            return out, None
        return self._scalar(value, self.type)

    def _scalar(self, value: Any, kind: str) -> tuple[Any, str | None]:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, f"must be a{'n integer' if kind == 'integer' else ' number'}, got {value!r}"
        if isinstance(value, int):
            if abs(value) > sys.float_info.max:  # compared exactly: float(value) would overflow
                return None, "must be finite (too large)"
        elif not math.isfinite(value):
            return None, "must be finite"
        if kind == "integer":
            if value != int(value):
                return None, f"must be a whole number, got {value}"
            value = int(value)
        else:
            value = float(value)
        unit = f" {self.unit}" if self.unit else ""
        if self.minimum is not None and value < self.minimum:
            return None, f"must be >= {self.minimum}{unit}, got {value}"
        if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
            return None, f"must be > {self.exclusive_minimum}{unit}, got {value}"
        if self.maximum is not None and value > self.maximum:
            return None, f"must be <= {self.maximum}{unit}, got {value}"
        return value, None


@dataclass(frozen=True)
class Schema:
    """The parameters of one scenario kind."""

    params: tuple[Param, ...]

    def json_schema(self, title: str, description: str) -> dict[str, Any]:
        """The whole parameter set as a JSON Schema object."""
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": title,
            "description": description,
            "type": "object",
            "properties": {p.name: p.json_schema() for p in self.params},
            "additionalProperties": False,
        }

    def defaults(self) -> dict[str, Any]:
        """Every parameter at its default."""
        return {p.name: p.default for p in self.params}

    def validate(self, kind: str, given: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """Defaults filled in and types coerced; and one reason per refused parameter."""
        if not isinstance(given, dict):
            return {}, [{"param": "", "reason": "parameters must be an object"}]
        known = {p.name: p for p in self.params}
        errors = [
            {"param": name, "reason": f"unknown parameter of {kind} (known: {', '.join(sorted(known))})"}
            for name in given
            if name not in known
        ]
        values: dict[str, Any] = {}
        for p in self.params:
            value, why = p.check(given.get(p.name, p.default))
            if why:
                errors.append({"param": p.name, "reason": why})
            else:
                values[p.name] = value
        return values, errors


def refuse(kind: str, errors: list[dict[str, str]]) -> InvalidInput:
    """One error naming every refused parameter and why."""
    reasons = "; ".join(f"{e['param']}: {e['reason']}" if e["param"] else e["reason"] for e in errors)
    return InvalidInput(f"invalid parameters for scenario {kind!r}: {reasons}", errors=errors)
