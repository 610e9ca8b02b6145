"""Hourly and daily AQI per air station, hourly water class per water station, from the telemetry store.

Each run reads the station's hourly means from the store's aggregate query (one query per station), finds
the complete hours and days of the look-back that have data but no index yet, computes each through the
registered algorithms (``environment.aqi_cn``: the HJ 633 edition in force on the date;
``environment.water_class_gb3838``), and records the results as the station's readings, stamped at the end
of the hour or day they cover. Recording them as readings puts them in the twin, the charts and the stream
rules (the AQI-category and water-class alarms) like any measured value. Running it again is harmless: what
is stored is skipped, and message ids make a repeated write a duplicate.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from iplus.apps.environment import indices
from iplus.apps.environment.network import DAY_S, HOUR_S
from iplus.apps.environment.records import Row, record
from iplus.core.errors import InvalidInput
from iplus.infra.telemetry import Selection
from iplus.platform.context import Context

log = logging.getLogger(__name__)
AQI_ALGORITHM = "environment.aqi_cn"
WATER_ALGORITHM = "environment.water_class_gb3838"
AIR_KEYS = [*indices.GASES, *indices.PARTICLES]
LOOK_BACK_DAYS = 7


@dataclass(frozen=True)
class Assessed:
    """What one run computed: hourly indices, daily indices, and periods skipped for lack of data."""

    hours: int = 0
    days: int = 0
    skipped: int = 0


def _when(ts: dt.datetime) -> int:
    return int(ts.timestamp())


async def hourly_means(
    ctx: Context, org_id: str, device_id: str, keys: Sequence[str], start: int, end: int
) -> dict[int, dict[str, float]]:
    """{hour start: {key: mean}} of the device's numeric readings in [start, end), from the store."""
    rows = await ctx.telemetry.aggregate(
        Selection(
            org_id,
            [device_id],
            list(keys),
            dt.datetime.fromtimestamp(start, dt.UTC),
            dt.datetime.fromtimestamp(end, dt.UTC),
        ),
        bucket_seconds=HOUR_S,
        aggregates=["avg"],
    )
    means: dict[int, dict[str, float]] = defaultdict(dict)
    for row in rows:
        value = row.values.get("avg")
        if isinstance(value, int | float):
            means[_when(row.bucket)][row.key] = float(value)
    return dict(means)


async def _stamped(ctx: Context, org_id: str, device_id: str, key: str, start: int, end: int) -> set[int]:
    """The times (epoch s) at which ``key`` already has a value in [start, end]."""
    rows = await ctx.telemetry.aggregate(
        Selection(
            org_id,
            [device_id],
            [key],
            dt.datetime.fromtimestamp(start, dt.UTC),
            dt.datetime.fromtimestamp(end + 1, dt.UTC),
        ),
        bucket_seconds=1,
        aggregates=["count"],
    )
    return {_when(r.bucket) for r in rows}


def _invoke(ctx: Context, algorithm: str, inputs: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return ctx.algorithms.invoke(algorithm, inputs).outputs
    except InvalidInput as exc:
        # a report missing an indicator (too few valid hours): that period has no index, as published
        log.debug("%s not computed for %s: %s", algorithm, inputs.get("date"), exc.extra.get("errors"))
        return None


async def assess_air(
    ctx: Context, org_id: str, device_id: str, now: float, days: int = LOOK_BACK_DAYS
) -> Assessed:
    """Compute and record the missing hourly and daily AQI of one air station up to ``now``."""
    last_hour = int(now) - int(now) % HOUR_S  # the hour in progress: not complete yet
    first_hour = last_hour - days * DAY_S
    means = await hourly_means(ctx, org_id, device_id, AIR_KEYS, first_hour - DAY_S, last_hour)
    hourly_done = await _stamped(ctx, org_id, device_id, "aqi", first_hour, last_hour)
    daily_done = await _stamped(ctx, org_id, device_id, "aqi_daily", first_hour, last_hour)
    rows: list[Row] = []
    skipped = 0
    for hour in range(first_hour, last_hour, HOUR_S):
        if hour + HOUR_S in hourly_done or hour not in means:
            continue
        result = _invoke(ctx, AQI_ALGORITHM, indices.hourly_inputs(means, hour))
        if result is None:
            skipped += 1
            continue
        values = {
            "aqi": result["aqi"],
            "aqi_level": result["level"],
            "aqi_primary": indices.primary_names(result),
        }
        rows.append(Row(device_id, hour + HOUR_S, values, f"aqi-{hour + HOUR_S}"))
    hours = len(rows)
    day = indices.cst_date(first_hour)
    while (end := indices.cst_midnight(day + dt.timedelta(days=1))) <= last_hour:
        if end not in daily_done:
            result = _invoke(ctx, AQI_ALGORITHM, indices.daily_inputs(means, day))
            if result is not None:
                values = {
                    "aqi_daily": result["aqi"],
                    "aqi_daily_level": result["level"],
                    "aqi_daily_primary": indices.primary_names(result),
                }
                rows.append(Row(device_id, end, values, f"aqi-daily-{day.isoformat()}"))
            elif any(indices.cst_midnight(day) <= h < end for h in means):
                skipped += 1
        day += dt.timedelta(days=1)
    await record(ctx, rows)
    return Assessed(hours, len(rows) - hours, skipped)


async def assess_water(
    ctx: Context,
    org_id: str,
    device_id: str,
    water_body: str,
    target_class: str,
    now: float,
    days: int = LOOK_BACK_DAYS,
) -> Assessed:
    """Compute and record the missing hourly GB 3838 class of one water station up to ``now``."""
    last_hour = int(now) - int(now) % HOUR_S
    first_hour = last_hour - days * DAY_S
    means = await hourly_means(ctx, org_id, device_id, indices.WATER_PARAMETERS, first_hour, last_hour)
    done = await _stamped(ctx, org_id, device_id, "water_class_number", first_hour, last_hour)
    rows: list[Row] = []
    skipped = 0
    for hour in sorted(means):
        if hour + HOUR_S in done:
            continue
        result = _invoke(ctx, WATER_ALGORITHM, indices.water_inputs(means[hour], water_body, target_class))
        if result is None or not result["deciding_parameters"]:
            skipped += 1
            continue
        values = {"water_class_number": result["class_number"], "water_class": result["class"]}
        rows.append(Row(device_id, hour + HOUR_S, values, f"class-{hour + HOUR_S}"))
    await record(ctx, rows)
    return Assessed(len(rows), 0, skipped)
