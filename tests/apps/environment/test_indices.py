"""Index inputs from hourly means against a brute-force reading of GB 3095-2012 / HJ 663-2013's validity rules.

Oracle: for each input, the hours it covers are listed here by wall-clock hour on CST (not by the module's
ranges), the valid ones counted, and the mean or maximum taken when enough are valid.
"""

from __future__ import annotations

import datetime as dt
from statistics import fmean

from hypothesis import given, settings
from hypothesis import strategies as st

from iplus.apps.environment import indices
from iplus.apps.environment.simulate import CST

DAY = dt.date(2026, 6, 15)


def _hour(day: dt.date, h: int) -> int:
    """Epoch second of hour ``h`` (may be negative or 24+) of ``day`` on CST."""
    return int((dt.datetime(day.year, day.month, day.day, tzinfo=CST) + dt.timedelta(hours=h)).timestamp())


# hours -24..23 of DAY: each present or missing, with values
hourly = st.lists(
    st.one_of(st.none(), st.floats(min_value=0, max_value=900, allow_nan=False, width=32)),
    min_size=48,
    max_size=48,
)


def _means(values: list[float | None]) -> dict[int, dict[str, float]]:
    out: dict[int, dict[str, float]] = {}
    for i, v in enumerate(values):
        if v is not None:
            out[_hour(DAY, i - 24)] = {
                "so2": v,
                "no2": v / 2,
                "co": v / 100,
                "o3": v,
                "pm10": v,
                "pm2_5": v / 3,
            }
    return out


@settings(max_examples=60, deadline=None)
@given(hourly)
def test_daily_inputs_follow_the_validity_rules(values: list[float | None]) -> None:
    got = indices.daily_inputs(_means(values), DAY)
    today = values[24:]
    valid = [v for v in today if v is not None]
    if len(valid) >= 20:
        assert got["so2_24h"] == fmean(valid)
        assert got["pm2_5_24h"] == fmean(v / 3 for v in valid)
        assert got["o3_1h_max"] == max(valid)
    else:
        assert "so2_24h" not in got and "o3_1h_max" not in got
    windows = []
    for end in range(8, 25):  # moving means ending 08:00 ... 24:00 cover hours end-8 .. end-1
        inside = [v for v in today[end - 8 : end] if v is not None]
        if len(inside) >= 6:
            windows.append(fmean(inside))
    if len(windows) >= 14:
        assert got["o3_8h_max"] == max(windows)
    else:
        assert "o3_8h_max" not in got
    assert got["date"] == "2026-06-15" and got["report"] == "daily"


@settings(max_examples=60, deadline=None)
@given(hourly, st.integers(min_value=0, max_value=23))
def test_hourly_inputs_follow_the_validity_rules(values: list[float | None], h: int) -> None:
    got = indices.hourly_inputs(_means(values), _hour(DAY, h))
    now = values[24 + h]
    if now is None:
        assert "so2_1h" not in got and "pm10_1h" not in got
    else:
        assert got["so2_1h"] == now and got["pm10_1h"] == now and got["co_1h"] == now / 100
    last24 = [v for v in values[h + 1 : h + 25] if v is not None]
    assert got.get("pm10_24h") == (fmean(last24) if len(last24) >= 20 else None)
    last8 = [v for v in values[h + 17 : h + 25] if v is not None]
    assert got.get("o3_8h") == (fmean(last8) if len(last8) >= 6 else None)
    # HJ 633-2012 reads the 24-hour SO2 only when the 1-hour value is above 800
    assert ("so2_24h" in got) == (now is not None and now > 800 and len(last24) >= 20)


def test_water_inputs_read_total_nitrogen_on_lakes_only() -> None:
    values = {"ph": 7.2, "dissolved_oxygen": 8.0, "total_nitrogen": 1.2, "turbidity": 5.0}
    river = indices.water_inputs(values, "river", "III")
    lake = indices.water_inputs(values, "lake_reservoir", "III")
    assert "total_nitrogen" not in river and lake["total_nitrogen"] == 1.2
    assert "turbidity" not in lake  # not a GB 3838 basic item
    assert river["target_class"] == "III" and lake["water_body"] == "lake_reservoir"


def test_primary_pollutants_are_named_once_each() -> None:
    result = {
        "primary_pollutants": ["pm10_1h", "pm10_24h", "o3_1h"],
        "items": {
            "pm10_1h": {"pollutant": "PM10"},
            "pm10_24h": {"pollutant": "PM10"},
            "o3_1h": {"pollutant": "O3"},
        },
    }
    assert indices.primary_names(result) == "PM10, O3"
    assert indices.primary_names({"primary_pollutants": [], "items": {}}) == ""
