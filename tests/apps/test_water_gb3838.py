"""GB 3838-2002 classes against Table 1 (basic items), transcribed here independently of the module.

Oracle: the class is the first of I-V whose limit the value meets; at every limit the value is in that
class, just beyond it in the next class that admits it (or worse than V).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from iplus.apps.environment import water
from iplus.core.errors import InvalidInput

NAMES = ("I", "II", "III", "IV", "V", "worse than V")
# Table 1, mg/L (fecal coliform per L): limits of classes I..V; DO is a lower limit
UPPER = {
    "permanganate_index": ("2", "4", "6", "10", "15"),
    "cod": ("15", "15", "20", "30", "40"),
    "bod5": ("3", "3", "4", "6", "10"),
    "ammonia_nitrogen": ("0.15", "0.5", "1.0", "1.5", "2.0"),
    "total_phosphorus": ("0.02", "0.1", "0.2", "0.3", "0.4"),
    "copper": ("0.01", "1.0", "1.0", "1.0", "1.0"),
    "zinc": ("0.05", "1.0", "1.0", "2.0", "2.0"),
    "fluoride": ("1.0", "1.0", "1.0", "1.5", "1.5"),
    "selenium": ("0.01", "0.01", "0.01", "0.02", "0.02"),
    "arsenic": ("0.05", "0.05", "0.05", "0.1", "0.1"),
    "mercury": ("0.00005", "0.00005", "0.0001", "0.001", "0.001"),
    "cadmium": ("0.001", "0.005", "0.005", "0.005", "0.01"),
    "chromium_vi": ("0.01", "0.05", "0.05", "0.05", "0.1"),
    "lead": ("0.01", "0.01", "0.05", "0.05", "0.1"),
    "cyanide": ("0.005", "0.05", "0.2", "0.2", "0.2"),
    "volatile_phenol": ("0.002", "0.002", "0.005", "0.01", "0.1"),
    "petroleum": ("0.05", "0.05", "0.05", "0.5", "1.0"),
    "anionic_surfactant": ("0.2", "0.2", "0.2", "0.3", "0.3"),
    "sulfide": ("0.05", "0.1", "0.2", "0.5", "1.0"),
    "fecal_coliform": ("200", "2000", "10000", "20000", "40000"),
}
LAKE = {
    "total_phosphorus": ("0.01", "0.025", "0.05", "0.1", "0.2"),
    "total_nitrogen": ("0.2", "0.5", "1.0", "1.5", "2.0"),
}
DO = ("7.5", "6", "5", "3", "2")


def expected(limits: tuple[str, ...], value: Decimal, at_least: bool = False) -> str:
    for name, limit in zip(NAMES, limits, strict=False):
        if (value >= Decimal(limit)) if at_least else (value <= Decimal(limit)):
            return name
    return NAMES[-1]


def cases() -> list[tuple[str, str, str, str]]:
    """(water body, parameter, value, expected class) at every limit and just beyond it."""
    found = []
    for body, table in (("river", UPPER), ("lake_reservoir", UPPER | LAKE)):
        for key, limits in table.items():
            for limit in limits:
                beyond = Decimal(limit) * Decimal("1.0001")
                found.append((body, key, limit, expected(limits, Decimal(limit))))
                found.append((body, key, str(beyond), expected(limits, beyond)))
    for limit in DO:
        below = Decimal(limit) - Decimal("0.01")
        found.append(("river", "dissolved_oxygen", limit, expected(DO, Decimal(limit), True)))
        found.append(("river", "dissolved_oxygen", str(below), expected(DO, below, True)))
    return found


@pytest.mark.parametrize(("body", "key", "value", "name"), cases())
def test_class_at_and_beyond_every_limit(body: str, key: str, value: str, name: str) -> None:
    out = water.classify({key: float(value)}, body)
    assert out["parameters"][key]["class"] == name
    if key != "total_nitrogen" or body == "lake_reservoir":
        assert out["class"] == name


def test_the_worst_parameter_decides() -> None:
    out = water.classify({"dissolved_oxygen": 6.5, "cod": 18, "ammonia_nitrogen": 1.6, "bod5": 2})
    assert [
        out["parameters"][k]["class"] for k in ("dissolved_oxygen", "cod", "ammonia_nitrogen", "bod5")
    ] == [
        "II",
        "III",
        "V",
        "I",
    ]
    assert out["class"] == "V"
    assert out["deciding_parameters"] == ["ammonia_nitrogen"]


def test_total_nitrogen_counts_for_lakes_only() -> None:
    river = water.classify({"cod": 10, "total_nitrogen": 3.0}, "river")
    assert river["parameters"]["total_nitrogen"]["class"] == "worse than V"
    assert not river["parameters"]["total_nitrogen"]["assessed"]
    assert river["class"] == "I"
    lake = water.classify({"cod": 10, "total_nitrogen": 3.0}, "lake_reservoir")
    assert lake["class"] == "worse than V"
    assert lake["deciding_parameters"] == ["total_nitrogen"]


def test_lakes_have_their_own_phosphorus_limits() -> None:
    assert water.classify({"total_phosphorus": 0.05}, "river")["class"] == "II"
    assert water.classify({"total_phosphorus": 0.05}, "lake_reservoir")["class"] == "III"


def test_ph_outside_six_to_nine_is_worse_than_v() -> None:
    assert water.classify({"ph": 6.0, "cod": 10})["class"] == "I"
    assert water.classify({"ph": 9.0, "cod": 10})["class"] == "I"
    assert water.classify({"ph": 5.9, "cod": 10})["class"] == "worse than V"
    assert water.classify({"ph": 9.1, "cod": 10})["deciding_parameters"] == ["ph"]


def test_exceedance_multiples_against_a_target_class() -> None:
    out = water.classify(
        {"ammonia_nitrogen": 2.5, "cod": 25, "bod5": 3, "dissolved_oxygen": 4}, "river", "III"
    )
    assert out["exceeding_parameters"] == ["ammonia_nitrogen", "cod", "dissolved_oxygen"]
    assert out["parameters"]["ammonia_nitrogen"]["exceedance_multiple"] == pytest.approx(1.5)  # (2.5 - 1)/1
    assert out["parameters"]["cod"]["exceedance_multiple"] == pytest.approx(0.25)  # (25 - 20)/20
    assert out["parameters"]["bod5"]["exceedance_multiple"] is None
    assert out["parameters"]["dissolved_oxygen"]["exceedance_multiple"] is None  # a lower limit: no multiple


def test_bad_inputs_are_listed() -> None:
    with pytest.raises(InvalidInput) as err:
        water.classify({"cod": -1, "nitrate": 3}, "sea", "VI")
    assert set(err.value.extra["errors"]) == {
        "/cod: cannot be negative",
        "/nitrate: not a basic item of GB 3838-2002 Table 1",
        "/water_body: use one of ['river', 'lake_reservoir']",
        "/target_class: use one of ['I', 'II', 'III', 'IV', 'V']",
    }
    with pytest.raises(InvalidInput):
        water.classify({})
    with pytest.raises(InvalidInput):
        water.classify({"total_nitrogen": 1.0}, "river")  # nothing assessed for a river
