"""HJ 633-2012 and HJ 633-2026 against their own Table 1, transcribed here independently of the module.

Oracles: IAQI = ceil((IAQI_hi - IAQI_lo)/(BP_hi - BP_lo) (C - BP_lo) + IAQI_lo) computed with Fractions from
the transcription below, at every breakpoint of every column, at the segment's upper end and just above it.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest

from iplus.apps.environment import aqi_cn
from iplus.apps.environment.algorithms import standard_in_force
from iplus.core.errors import InvalidInput

LEVELS = (0, 50, 100, 150, 200, 300, 400, 500)
# HJ 633-2012 Table 1 (µg/m³, CO mg/m³); None where the table is blank
T2012 = {
    "so2_24h": (0, 50, 150, 475, 800, 1600, 2100, 2620),
    "so2_1h": (0, 150, 500, 650, 800, None, None, None),
    "no2_24h": (0, 40, 80, 180, 280, 565, 750, 940),
    "no2_1h": (0, 100, 200, 700, 1200, 2340, 3090, 3840),
    "pm10_24h": (0, 50, 150, 250, 350, 420, 500, 600),
    "co_24h": (0, 2, 4, 14, 24, 36, 48, 60),
    "co_1h": (0, 5, 10, 35, 60, 90, 120, 150),
    "o3_1h": (0, 160, 200, 300, 400, 800, 1000, 1200),
    "o3_8h": (0, 100, 160, 215, 265, 800, None, None),
    "pm2_5_24h": (0, 35, 75, 115, 150, 250, 350, 500),
}
# HJ 633-2026: the same table with new particulate columns
T2026 = T2012 | {
    "pm10_24h": (0, 50, 120, 250, 350, 420, 500, 600),
    "pm2_5_24h": (0, 35, 60, 115, 150, 250, 350, 500),
}
# the input of each report -> the column that scores it
REPORTS = {
    ("2012", "daily"): {
        "so2_24h": "so2_24h",
        "no2_24h": "no2_24h",
        "pm10_24h": "pm10_24h",
        "co_24h": "co_24h",
        "o3_1h_max": "o3_1h",
        "o3_8h_max": "o3_8h",
        "pm2_5_24h": "pm2_5_24h",
    },
    ("2012", "hourly"): {
        "so2_1h": "so2_1h",
        "no2_1h": "no2_1h",
        "co_1h": "co_1h",
        "o3_1h": "o3_1h",
        "o3_8h": "o3_8h",
        "pm10_24h": "pm10_24h",
        "pm2_5_24h": "pm2_5_24h",
    },
    ("2026", "daily"): {
        "so2_24h": "so2_24h",
        "no2_24h": "no2_24h",
        "co_24h": "co_24h",
        "pm10_24h": "pm10_24h",
        "pm2_5_24h": "pm2_5_24h",
        "o3_8h_max": "o3_8h",
    },
    ("2026", "hourly"): {
        "so2_1h": "so2_1h",
        "no2_1h": "no2_1h",
        "co_1h": "co_1h",
        "o3_1h": "o3_1h",
        "pm10_1h": "pm10_24h",
        "pm2_5_1h": "pm2_5_24h",
    },
}
STANDARDS = {"2012": (aqi_cn.HJ633_2012, T2012), "2026": (aqi_cn.HJ633_2026, T2026)}


def expected_iaqi(column: tuple[int | None, ...], c: Fraction) -> int:
    points = [(lvl, Fraction(bp)) for lvl, bp in zip(LEVELS, column, strict=True) if bp is not None]
    for (i_lo, lo), (i_hi, hi) in itertools.pairwise(points):
        if lo <= c <= hi:
            return math.ceil(Fraction(i_hi - i_lo) / (hi - lo) * (c - lo) + i_lo)
    raise AssertionError("beyond the column")


def zeros(edition: str, report: str) -> dict[str, float]:
    return dict.fromkeys(REPORTS[(edition, report)], 0.0)


def cases() -> list[tuple[str, str, str, float, int]]:
    """(edition, report, input, concentration, expected IAQI) at and around every breakpoint."""
    found = []
    for (edition, report), inputs in REPORTS.items():
        table = STANDARDS[edition][1]
        for key, column_name in inputs.items():
            column = table[column_name]
            mg = column_name.startswith("co")
            # 2026 rounds before scoring: step over a whole rounding unit; 2012 takes the value as it is
            step = (Fraction(1, 10) if mg else Fraction(1)) if edition == "2026" else Fraction(1, 100)
            defined = [bp for bp in column if bp is not None]
            for bp in defined:
                found.append((edition, report, key, float(bp), expected_iaqi(column, Fraction(bp))))
            for bp in defined[:-1]:
                above = Fraction(bp) + step
                found.append((edition, report, key, float(above), expected_iaqi(column, above)))
    return found


@pytest.mark.parametrize(("edition", "report", "key", "c", "iaqi"), cases())
def test_iaqi_at_and_just_above_every_breakpoint(
    edition: str, report: str, key: str, c: float, iaqi: int
) -> None:
    standard = STANDARDS[edition][0]
    out = aqi_cn.compute(standard, report, zeros(edition, report) | {key: c})
    assert out["items"][key]["iaqi"] == iaqi
    assert out["aqi"] == iaqi


def test_the_breakpoints_map_to_exactly_their_levels() -> None:
    # at BP the index is the level itself: the round-up never adds one to an exact integer
    for (edition, report), inputs in REPORTS.items():
        for key, column in inputs.items():
            for level, bp in zip(LEVELS, STANDARDS[edition][1][column], strict=True):
                if bp is not None:
                    out = aqi_cn.compute(STANDARDS[edition][0], report, zeros(edition, report) | {key: bp})
                    assert out["items"][key]["iaqi"] == level, (edition, key, bp)


def test_an_exact_55_stays_55_and_a_hair_more_rounds_up() -> None:
    # PM2.5 39 µg/m³: 50 + 50/40 x 4 = 55 exactly; in floats 50/40*4 + 50 may not be 55
    out = aqi_cn.compute(aqi_cn.HJ633_2012, "daily", zeros("2012", "daily") | {"pm2_5_24h": 39})
    assert out["items"]["pm2_5_24h"]["iaqi"] == 55
    out = aqi_cn.compute(aqi_cn.HJ633_2012, "daily", zeros("2012", "daily") | {"pm2_5_24h": 39.01})
    assert out["items"]["pm2_5_24h"]["iaqi"] == 56
    # CO 0.1 mg/m³ hourly 2012: 50/5 x 0.1 = 1 exactly (0.1 is not exact in binary)
    out = aqi_cn.compute(aqi_cn.HJ633_2012, "hourly", zeros("2012", "hourly") | {"co_1h": 0.1})
    assert out["items"]["co_1h"]["iaqi"] == 1


@pytest.mark.parametrize(
    ("given", "used"),
    [(60.5, 60), (61.5, 62), (60.51, 61), (60.49, 60), (59.5, 60), (114.5, 114), (115.5, 116)],
)
def test_hj633_2026_rounds_concentrations_per_gbt8170(given: float, used: int) -> None:
    # GB/T 8170: exactly 5 after the kept digit -> keep an even digit; anything after the 5 -> carry
    out = aqi_cn.compute(aqi_cn.HJ633_2026, "daily", zeros("2026", "daily") | {"pm2_5_24h": given})
    item = out["items"]["pm2_5_24h"]
    assert item["concentration_used"] == used
    assert item["iaqi"] == expected_iaqi(T2026["pm2_5_24h"], Fraction(used))


@pytest.mark.parametrize(
    ("given", "used"), [(1.25, 1.2), (1.35, 1.4), (1.251, 1.3), (0.05, 0.0), (0.15, 0.2)]
)
def test_hj633_2026_rounds_co_to_a_tenth(given: float, used: float) -> None:
    out = aqi_cn.compute(aqi_cn.HJ633_2026, "daily", zeros("2026", "daily") | {"co_24h": given})
    assert out["items"]["co_24h"]["concentration_used"] == used
    assert out["items"]["co_24h"]["iaqi"] == expected_iaqi(T2026["co_24h"], Fraction(str(used)))


def test_hj633_2012_scores_the_value_as_given() -> None:
    out = aqi_cn.compute(aqi_cn.HJ633_2012, "daily", zeros("2012", "daily") | {"pm2_5_24h": 75.4})
    assert out["items"]["pm2_5_24h"]["concentration_used"] == 75.4
    assert out["items"]["pm2_5_24h"]["iaqi"] == expected_iaqi(T2012["pm2_5_24h"], Fraction("75.4")) == 101


def test_so2_one_hour_above_800_2012_uses_the_24_hour_mean() -> None:
    values = zeros("2012", "hourly") | {"so2_1h": 801, "so2_24h": 200}
    out = aqi_cn.compute(aqi_cn.HJ633_2012, "hourly", values)
    assert out["items"]["so2_1h"]["iaqi"] == expected_iaqi(T2012["so2_24h"], Fraction(200)) == 108
    assert "24-hour" in out["items"]["so2_1h"]["rule"]
    with pytest.raises(InvalidInput) as err:
        aqi_cn.compute(aqi_cn.HJ633_2012, "hourly", zeros("2012", "hourly") | {"so2_1h": 801})
    assert err.value.extra["errors"][0].startswith("/so2_24h:")


def test_so2_one_hour_above_800_2026_is_200_and_o3_8h_above_800_is_300() -> None:
    out = aqi_cn.compute(aqi_cn.HJ633_2026, "hourly", zeros("2026", "hourly") | {"so2_1h": 801})
    assert out["items"]["so2_1h"]["iaqi"] == 200
    out = aqi_cn.compute(aqi_cn.HJ633_2026, "daily", zeros("2026", "daily") | {"o3_8h_max": 801})
    assert out["items"]["o3_8h_max"]["iaqi"] == 300
    assert out["primary_pollutants"] == ["o3_8h_max"]


def test_o3_8h_above_800_2012_gives_no_index_and_the_1h_value_speaks() -> None:
    values = zeros("2012", "daily") | {"o3_8h_max": 801, "o3_1h_max": 900}
    out = aqi_cn.compute(aqi_cn.HJ633_2012, "daily", values)
    assert out["items"]["o3_8h_max"]["iaqi"] is None
    assert out["aqi"] == out["items"]["o3_1h_max"]["iaqi"] == expected_iaqi(T2012["o3_1h"], Fraction(900))


def test_above_the_top_breakpoint_the_iaqi_is_500() -> None:
    out = aqi_cn.compute(aqi_cn.HJ633_2012, "daily", zeros("2012", "daily") | {"pm2_5_24h": 650})
    assert out["items"]["pm2_5_24h"]["iaqi"] == 500
    assert out["aqi"] == 500
    assert out["category"] == "严重污染"


def test_primary_and_exceedance_pollutants() -> None:
    values = zeros("2012", "daily") | {"pm10_24h": 150, "pm2_5_24h": 75}
    out = aqi_cn.compute(aqi_cn.HJ633_2012, "daily", values)
    assert out["aqi"] == 100
    assert out["primary_pollutants"] == ["pm10_24h", "pm2_5_24h"]  # a tie names both
    assert out["exceedance_pollutants"] == []  # 超标 is IAQI > 100
    out = aqi_cn.compute(aqi_cn.HJ633_2012, "daily", values | {"pm2_5_24h": 76, "no2_24h": 81})
    assert out["exceedance_pollutants"] == ["no2_24h", "pm2_5_24h"]
    out = aqi_cn.compute(aqi_cn.HJ633_2012, "daily", zeros("2012", "daily") | {"pm2_5_24h": 35})
    assert out["aqi"] == 50 and out["primary_pollutants"] == []  # none when the AQI is 50 or less
    assert "exceedance_pollutants" not in aqi_cn.compute(aqi_cn.HJ633_2026, "daily", zeros("2026", "daily"))


@pytest.mark.parametrize(
    ("aqi", "level", "name"),
    [
        (0, 1, "优"),
        (50, 1, "优"),
        (51, 2, "良"),
        (100, 2, "良"),
        (101, 3, "轻度污染"),
        (150, 3, "轻度污染"),
        (151, 4, "中度污染"),
        (200, 4, "中度污染"),
        (201, 5, "重度污染"),
        (300, 5, "重度污染"),
        (301, 6, "严重污染"),
        (500, 6, "严重污染"),
    ],
)
def test_categories(aqi: int, level: int, name: str) -> None:
    assert aqi_cn.category(aqi)["level"] == level
    assert aqi_cn.category(aqi)["category"] == name


def test_every_problem_is_listed_with_its_path() -> None:
    with pytest.raises(InvalidInput) as err:
        aqi_cn.compute(aqi_cn.HJ633_2026, "daily", {"so2_24h": -1, "o3_1h": 5, "no2_24h": 3})
    errors = err.value.extra["errors"]
    assert "/so2_24h: a concentration cannot be negative" in errors
    assert any(e.startswith("/o3_1h: not an indicator") for e in errors)
    assert {e.split(":")[0] for e in errors} >= {"/co_24h", "/pm10_24h", "/pm2_5_24h", "/o3_8h_max"}
    with pytest.raises(InvalidInput):
        aqi_cn.compute(aqi_cn.HJ633_2026, "weekly", {})


def test_the_standard_in_force_is_chosen_by_date() -> None:
    import datetime as dt

    assert standard_in_force(dt.date(2026, 2, 28)) is aqi_cn.HJ633_2012
    assert standard_in_force(dt.date(2026, 3, 1)) is aqi_cn.HJ633_2026
