"""Surface-water quality class per GB 3838-2002, Table 1 (basic items): per parameter and overall.

A parameter is in the best class whose limit it meets (≤ the limit; dissolved oxygen ≥; pH within 6-9),
else "worse than V" (劣V类); the water's class is the worst class of its assessed parameters (single-factor
assessment). Limits in mg/L unless marked; source: GB 3838-2002 Table 1 (地表水环境质量标准基本项目标准限值).

| # | parameter | I | II | III | IV | V |
|---|---|---|---|---|---|---|
| 2 | pH (dimensionless) | 6-9 | 6-9 | 6-9 | 6-9 | 6-9 |
| 3 | dissolved oxygen ≥ | 7.5 (or 90 % saturation) | 6 | 5 | 3 | 2 |
| 4 | permanganate index (CODMn) ≤ | 2 | 4 | 6 | 10 | 15 |
| 5 | chemical oxygen demand (COD) ≤ | 15 | 15 | 20 | 30 | 40 |
| 6 | five-day biochemical oxygen demand (BOD5) ≤ | 3 | 3 | 4 | 6 | 10 |
| 7 | ammonia nitrogen (NH3-N) ≤ | 0.15 | 0.5 | 1.0 | 1.5 | 2.0 |
| 8 | total phosphorus (as P) ≤ | 0.02 | 0.1 | 0.2 | 0.3 | 0.4 |
|   | ... lakes and reservoirs ≤ | 0.01 | 0.025 | 0.05 | 0.1 | 0.2 |
| 9 | total nitrogen (lakes and reservoirs, as N) ≤ | 0.2 | 0.5 | 1.0 | 1.5 | 2.0 |
| 10 | copper ≤ | 0.01 | 1.0 | 1.0 | 1.0 | 1.0 |
| 11 | zinc ≤ | 0.05 | 1.0 | 1.0 | 2.0 | 2.0 |
| 12 | fluoride (as F-) ≤ | 1.0 | 1.0 | 1.0 | 1.5 | 1.5 |
| 13 | selenium ≤ | 0.01 | 0.01 | 0.01 | 0.02 | 0.02 |
| 14 | arsenic ≤ | 0.05 | 0.05 | 0.05 | 0.1 | 0.1 |
| 15 | mercury ≤ | 0.00005 | 0.00005 | 0.0001 | 0.001 | 0.001 |
| 16 | cadmium ≤ | 0.001 | 0.005 | 0.005 | 0.005 | 0.01 |
| 17 | chromium (hexavalent) ≤ | 0.01 | 0.05 | 0.05 | 0.05 | 0.1 |
| 18 | lead ≤ | 0.01 | 0.01 | 0.05 | 0.05 | 0.1 |
| 19 | cyanide ≤ | 0.005 | 0.05 | 0.2 | 0.2 | 0.2 |
| 20 | volatile phenol ≤ | 0.002 | 0.002 | 0.005 | 0.01 | 0.1 |
| 21 | petroleum ≤ | 0.05 | 0.05 | 0.05 | 0.5 | 1.0 |
| 22 | anionic surfactant ≤ | 0.2 | 0.2 | 0.2 | 0.3 | 0.3 |
| 23 | sulfide ≤ | 0.05 | 0.1 | 0.2 | 0.5 | 1.0 |
| 24 | fecal coliform (per L) ≤ | 200 | 2000 | 10000 | 20000 | 40000 |

Item 1 (water temperature: a man-made change limit, not a concentration) is not classed here. Total
nitrogen is a lake-and-reservoir item: for rivers its class is shown but does not decide the water's class.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from iplus.apps.environment.exact import decimal_of
from iplus.core.errors import InvalidInput

CLASSES = ("I", "II", "III", "IV", "V")
WORSE = "worse than V"
WATER_BODIES = ("river", "lake_reservoir")


def _limits(*values: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values)


@dataclass(frozen=True)
class Parameter:
    """One basic item of Table 1: limits for classes I-V, lower limits for DO, lakes' own limits for TP."""

    key: str
    name: str
    unit: str
    limits: tuple[Decimal, ...]
    at_least: bool = False
    lake_limits: tuple[Decimal, ...] | None = None
    lakes_only: bool = False


PARAMETERS = (
    Parameter("dissolved_oxygen", "dissolved oxygen (DO)", "mg/L", _limits("7.5", "6", "5", "3", "2"), True),
    Parameter("permanganate_index", "permanganate index (CODMn)", "mg/L", _limits("2", "4", "6", "10", "15")),
    Parameter("cod", "chemical oxygen demand (COD)", "mg/L", _limits("15", "15", "20", "30", "40")),
    Parameter("bod5", "five-day biochemical oxygen demand (BOD5)", "mg/L", _limits("3", "3", "4", "6", "10")),
    Parameter(
        "ammonia_nitrogen", "ammonia nitrogen (NH3-N)", "mg/L", _limits("0.15", "0.5", "1.0", "1.5", "2.0")
    ),
    Parameter(
        "total_phosphorus",
        "total phosphorus (as P)",
        "mg/L",
        _limits("0.02", "0.1", "0.2", "0.3", "0.4"),
        lake_limits=_limits("0.01", "0.025", "0.05", "0.1", "0.2"),
    ),
    Parameter(
        "total_nitrogen",
        "total nitrogen (lakes and reservoirs, as N)",
        "mg/L",
        _limits("0.2", "0.5", "1.0", "1.5", "2.0"),
        lakes_only=True,
    ),
    Parameter("copper", "copper", "mg/L", _limits("0.01", "1.0", "1.0", "1.0", "1.0")),
    Parameter("zinc", "zinc", "mg/L", _limits("0.05", "1.0", "1.0", "2.0", "2.0")),
    Parameter("fluoride", "fluoride (as F-)", "mg/L", _limits("1.0", "1.0", "1.0", "1.5", "1.5")),
    Parameter("selenium", "selenium", "mg/L", _limits("0.01", "0.01", "0.01", "0.02", "0.02")),
    Parameter("arsenic", "arsenic", "mg/L", _limits("0.05", "0.05", "0.05", "0.1", "0.1")),
    Parameter("mercury", "mercury", "mg/L", _limits("0.00005", "0.00005", "0.0001", "0.001", "0.001")),
    Parameter("cadmium", "cadmium", "mg/L", _limits("0.001", "0.005", "0.005", "0.005", "0.01")),
    Parameter("chromium_vi", "chromium (hexavalent)", "mg/L", _limits("0.01", "0.05", "0.05", "0.05", "0.1")),
    Parameter("lead", "lead", "mg/L", _limits("0.01", "0.01", "0.05", "0.05", "0.1")),
    Parameter("cyanide", "cyanide", "mg/L", _limits("0.005", "0.05", "0.2", "0.2", "0.2")),
    Parameter(
        "volatile_phenol", "volatile phenol", "mg/L", _limits("0.002", "0.002", "0.005", "0.01", "0.1")
    ),
    Parameter("petroleum", "petroleum", "mg/L", _limits("0.05", "0.05", "0.05", "0.5", "1.0")),
    Parameter("anionic_surfactant", "anionic surfactant", "mg/L", _limits("0.2", "0.2", "0.2", "0.3", "0.3")),
    Parameter("sulfide", "sulfide", "mg/L", _limits("0.05", "0.1", "0.2", "0.5", "1.0")),
    Parameter("fecal_coliform", "fecal coliform", "/L", _limits("200", "2000", "10000", "20000", "40000")),
)
BY_KEY = {p.key: p for p in PARAMETERS}
PH_RANGE = (Decimal(6), Decimal(9))


def _class_number(parameter: Parameter, value: Decimal, water_body: str) -> tuple[int, Decimal | None]:
    """1-5 for classes I-V, 6 for worse than V, with the limit of the class found (None for worse than V)."""
    limits = _limits_for(parameter, water_body)
    for number, limit in enumerate(limits, start=1):
        if (value >= limit) if parameter.at_least else (value <= limit):
            return number, limit
    return 6, None


def _name(number: int) -> str:
    return CLASSES[number - 1] if number <= len(CLASSES) else WORSE


def classify(
    values: dict[str, Any], water_body: str = "river", target_class: str | None = None
) -> dict[str, Any]:
    """Class per parameter and overall (the worst assessed parameter decides), and exceedances of a target."""
    values = {k: v for k, v in values.items() if v is not None}
    problems = [
        f"/{k}: not a basic item of GB 3838-2002 Table 1" for k in values if k not in BY_KEY and k != "ph"
    ]
    problems += [f"/{k}: cannot be negative" for k, v in values.items() if v < 0]
    if water_body not in WATER_BODIES:
        problems.append(f"/water_body: use one of {list(WATER_BODIES)}")
    if target_class is not None and target_class not in CLASSES:
        problems.append(f"/target_class: use one of {list(CLASSES)}")
    if not values:
        problems.append("/: give at least one parameter")
    if problems:
        raise InvalidInput("the water class cannot be determined", errors=problems)
    target = None if target_class is None else CLASSES.index(target_class) + 1
    parameters: dict[str, Any] = {}
    for key, raw in values.items():
        value = decimal_of(raw)
        if key == "ph":
            inside = PH_RANGE[0] <= value <= PH_RANGE[1]
            number, limit = (1 if inside else 6), None
            entry: dict[str, Any] = {"name": "pH", "unit": "[pH]", "limit": None}
        else:
            parameter = BY_KEY[key]
            number, limit = _class_number(parameter, value, water_body)
            entry = {
                "name": parameter.name,
                "unit": parameter.unit,
                "limit": None if limit is None else float(limit),
            }
        counts = not (key in BY_KEY and BY_KEY[key].lakes_only and water_body == "river")
        entry.update(value=float(raw), class_number=number, assessed=counts, exceedance_multiple=None)
        entry["class"] = _name(number)
        if target is not None and key in BY_KEY and not BY_KEY[key].at_least and number > target:
            # 超标倍数: how many times the target class's limit is exceeded, (C - limit) / limit
            bound = _limits_for(BY_KEY[key], water_body)[target - 1]
            entry["exceedance_multiple"] = float((value - bound) / bound)
        parameters[key] = entry
    assessed = {k: v["class_number"] for k, v in parameters.items() if v["assessed"]}
    if not assessed:
        raise InvalidInput("the water class cannot be determined", errors=["/: no assessed parameter given"])
    worst = max(assessed.values())
    return {
        "standard": "GB 3838-2002",
        "water_body": water_body,
        "class": _name(worst),
        "class_number": worst,
        "deciding_parameters": sorted(k for k, n in assessed.items() if n == worst),
        "exceeding_parameters": []
        if target is None
        else sorted(k for k, n in assessed.items() if n > target),
        "parameters": parameters,
    }


def _limits_for(parameter: Parameter, water_body: str) -> tuple[Decimal, ...]:
    return (
        parameter.lake_limits
        if parameter.lake_limits and water_body == "lake_reservoir"
        else parameter.limits
    )
