"""The domain's stream rules as data: permit exceedance per stack, AQI category and water class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iplus.apps.environment.models import AIR_STATION, LIMITED, WATER_STATION

PERMIT_PREFIX = "env-permit-"
PERMIT_SEVERITY = "major"
# HJ 633 levels: above 100 the air is polluted (轻度污染 or worse), above 200 heavily (重度污染 or worse)
AQI_RULES: tuple[dict[str, Any], ...] = (
    {
        "name": "env-aqi-polluted",
        "kind": "threshold",
        "description": "Hourly AQI above 100: lightly polluted (轻度污染) or worse (HJ 633 level 3+)",
        "where": {"type": AIR_STATION.name},
        "key": "aqi",
        "op": ">",
        "value": 100,
        "severity": "minor",
    },
    {
        "name": "env-aqi-heavy",
        "kind": "threshold",
        "description": "Hourly AQI above 200: heavily polluted (重度污染) or worse (HJ 633 level 5+)",
        "where": {"type": AIR_STATION.name},
        "key": "aqi",
        "op": ">",
        "value": 200,
        "severity": "major",
    },
)
WATER_RULES: tuple[dict[str, Any], ...] = (
    {
        "name": "env-water-worse-than-iii",
        "kind": "threshold",
        "description": "Surface water worse than class III (GB 3838-2002): the sections' target class",
        "where": {"type": WATER_STATION.name},
        "key": "water_class_number",
        "op": ">",
        "value": 3,
        "severity": "minor",
    },
)


def permit_rule_name(device_id: str, pollutant: str) -> str:
    """The name of the rule that guards one pollutant's limit of one stack."""
    return f"{PERMIT_PREFIX}{device_id}-{pollutant}"


def permit_rules(device_id: str, title: str, attributes: Mapping[str, float]) -> list[dict[str, Any]]:
    """One threshold rule per limited pollutant: above the stack's limit for its hold time raises an alarm."""
    hold = float(attributes.get("limit_hold_s", 0.0))
    rules = []
    for key, limit_key in LIMITED:
        if limit_key not in attributes:
            continue
        limit = float(attributes[limit_key])
        rules.append(
            {
                "name": permit_rule_name(device_id, key),
                "kind": "threshold",
                "description": f"{title}: {key.upper()} above its limit {limit:g} mg/m3 for {hold:g} s",
                "where": {"devices": [device_id]},
                "key": key,
                "op": ">",
                "value": limit,
                "for_s": hold,
                "severity": PERMIT_SEVERITY,
            }
        )
    return rules
