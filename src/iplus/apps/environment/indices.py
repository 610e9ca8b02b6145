"""The inputs of the air and water indices, from a station's hourly means (pure functions, no I/O).

Averaging follows GB 3095-2012 section 8 (data validity) and HJ 663-2013 as we read them:

- a 1-hour value is the hour's mean; the hour starting at h is labelled by its end, h + 1 h;
- a 24-hour mean (daily, or moving for the real-time report) is the mean of the hourly values in it and is
  valid with at least 20 of them;
- an 8-hour O3 moving mean is the mean of the last 8 hours, valid with at least 6 of them;
- the daily maximum 8-hour O3 is the largest of the 17 moving means that end from 08:00 to 24:00 of the day
  (CST), valid with at least 14 valid moving means; the daily maximum 1-hour O3 needs 20 hours too.

Both editions' inputs are built (the real-time report of HJ 633-2012 reads 24-hour moving PM means and the
8-hour O3 moving mean; HJ 633-2026 reads 1-hour PM); ``environment.aqi_cn`` picks the edition in force on
the date and lists what it did not read. A report that lacks an indicator is not computed: the AQI of that
hour or day is missing, as a network publishes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from statistics import fmean
from typing import Any

from iplus.apps.environment.network import DAY_S, HOUR_S
from iplus.apps.environment.simulate import CST

Means = Mapping[int, Mapping[str, float]]  # hour start (epoch s) -> {pollutant key: hourly mean}
MIN_HOURS_24H = 20
MIN_HOURS_8H = 6
MIN_WINDOWS_O3_8H = 14
GASES = ("so2", "no2", "co", "o3")
PARTICLES = ("pm10", "pm2_5")
WATER_PARAMETERS = (
    "ph",
    "dissolved_oxygen",
    "permanganate_index",
    "ammonia_nitrogen",
    "total_phosphorus",
    "total_nitrogen",
)


def cst_date(t: float) -> dt.date:
    """The date on China Standard Time of epoch second ``t``."""
    return dt.datetime.fromtimestamp(t, CST).date()


def cst_midnight(day: dt.date) -> int:
    """Epoch second at which ``day`` starts on China Standard Time."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=CST).timestamp())


def _mean(means: Means, key: str, hours: range, need: int) -> float | None:
    found = [means[h][key] for h in hours if key in means.get(h, {})]
    return fmean(found) if len(found) >= need else None


def _last(hour: int, count: int) -> range:
    """The ``count`` hour starts ending with ``hour`` (inclusive)."""
    return range(hour - (count - 1) * HOUR_S, hour + 1, HOUR_S)


def hourly_inputs(means: Means, hour: int) -> dict[str, Any]:
    """Inputs of the real-time (hourly) report for the hour starting at ``hour`` (both editions' keys)."""
    now = means.get(hour, {})
    out: dict[str, Any] = {"date": cst_date(hour).isoformat(), "report": "hourly"}
    for key in GASES:
        if key in now:
            out[f"{key}_1h"] = now[key]
    for key in PARTICLES:
        if key in now:
            out[f"{key}_1h"] = now[key]
        moving = _mean(means, key, _last(hour, 24), MIN_HOURS_24H)
        if moving is not None:
            out[f"{key}_24h"] = moving
    o3_8h = _mean(means, "o3", _last(hour, 8), MIN_HOURS_8H)
    if o3_8h is not None:
        out["o3_8h"] = o3_8h
    so2_24h = _mean(means, "so2", _last(hour, 24), MIN_HOURS_24H)
    if so2_24h is not None and out.get("so2_1h", 0) > 800:
        out["so2_24h"] = so2_24h  # HJ 633-2012 scores SO2 from it when the 1-hour value is above 800
    return out


def daily_inputs(means: Means, day: dt.date) -> dict[str, Any]:
    """Inputs of the daily report of ``day`` (CST): 24-hour means, daily maximum 1-hour and 8-hour O3."""
    start = cst_midnight(day)
    hours = range(start, start + DAY_S, HOUR_S)
    out: dict[str, Any] = {"date": day.isoformat(), "report": "daily"}
    for key in (*GASES, *PARTICLES):
        if key == "o3":
            continue
        mean = _mean(means, key, hours, MIN_HOURS_24H)
        if mean is not None:
            out[f"{key}_24h"] = mean
    o3_hours = [means[h]["o3"] for h in hours if "o3" in means.get(h, {})]
    if len(o3_hours) >= MIN_HOURS_24H:
        out["o3_1h_max"] = max(o3_hours)
    # the moving means ending at 08:00 ... 24:00: the last hour of each starts at 07:00 ... 23:00
    windows = [_mean(means, "o3", _last(start + end * HOUR_S, 8), MIN_HOURS_8H) for end in range(7, 24)]
    valid = [w for w in windows if w is not None]
    if len(valid) >= MIN_WINDOWS_O3_8H:
        out["o3_8h_max"] = max(valid)
    return out


def water_inputs(values: Mapping[str, float], water_body: str, target_class: str) -> dict[str, Any]:
    """Inputs of ``environment.water_class_gb3838`` from a water station's values (total N on lakes only)."""
    out: dict[str, Any] = {"water_body": water_body, "target_class": target_class}
    for key in WATER_PARAMETERS:
        if key in values and not (key == "total_nitrogen" and water_body != "lake_reservoir"):
            out[key] = values[key]
    return out


def primary_names(result: Mapping[str, Any]) -> str:
    """The primary pollutants of an AQI result as pollutant names ("PM10, O3"), or "" at AQI 50 or less."""
    items = result.get("items", {})
    names = [items[k]["pollutant"] for k in result.get("primary_pollutants", []) if k in items]
    return ", ".join(dict.fromkeys(names))
