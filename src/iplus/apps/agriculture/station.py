"""A weather station's stored hourly observations, grouped by local date, and the day to decide on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from iplus.apps.agriculture.weather import MIN_HOURS, HourObs
from iplus.core.errors import InvalidInput
from iplus.infra.ports import TelemetryStore
from iplus.infra.telemetry import Reading, Selection

STATION_KEYS = ("t_air", "rh", "wind_speed", "solar_radiation", "rain", "observed")
LOOKBACK_DAYS = 35  # how far back, in stored hours, a decision may look for its day


def group_days(readings: Iterable[Reading]) -> dict[date, list[HourObs]]:
    """Readings of one station as hourly observations per local date (one message = one hour).

    A message without every key, or without an ``observed`` time carrying a UTC offset, is skipped; an
    hour observed twice (a resend) counts once, the later arrival winning.
    """
    messages: dict[datetime, dict[str, Any]] = {}
    for r in readings:
        messages.setdefault(r.ts, {})[r.key] = r.value
    hours: dict[date, dict[datetime, HourObs]] = defaultdict(dict)
    for ts, values in messages.items():
        if any(values.get(k) is None for k in STATION_KEYS):
            continue
        try:
            observed = datetime.fromisoformat(str(values["observed"]))
        except ValueError:
            continue
        numbers = [values[k] for k in STATION_KEYS[:-1]]
        if observed.tzinfo is None or not all(isinstance(v, int | float) for v in numbers):
            continue
        obs = HourObs(observed, ts, *(float(v) for v in numbers))
        day = hours[observed.date()]
        if observed not in day or day[observed].ts < ts:
            day[observed] = obs
    return {d: sorted(v.values(), key=lambda o: o.observed) for d, v in hours.items()}


def complete_days(days: dict[date, list[HourObs]]) -> list[date]:
    """The days that can be decided on, oldest first.

    A day is complete with all 24 hours, or with at least ``MIN_HOURS`` once a later day has begun
    (its missing hours will not come any more).
    """
    newest = max(days, default=None)
    return sorted(d for d, obs in days.items() if len(obs) >= 24 or (d != newest and len(obs) >= MIN_HOURS))


def pick_day(days: dict[date, list[HourObs]], wanted: date | None = None) -> date:
    """The asked-for day if it has enough hours, else the newest complete day."""
    if wanted is not None:
        have = len(days.get(wanted, []))
        if have < MIN_HOURS:
            raise InvalidInput(
                f"the weather station has {have} hourly observations of {wanted}; {MIN_HOURS} are needed",
                errors=[f"/day: {wanted} is not covered by the station's stored hours"],
            )
        return wanted
    complete = complete_days(days)
    if not complete:
        raise InvalidInput("the weather station has no complete day of hourly observations yet")
    return complete[-1]


async def station_days(store: TelemetryStore, org_id: str, station_id: str) -> dict[date, list[HourObs]]:
    """The station's recent hours (``LOOKBACK_DAYS`` days' worth of messages) per local date."""
    rows = await store.readings(
        Selection(org_id, [station_id], list(STATION_KEYS)),
        limit=len(STATION_KEYS) * 24 * LOOKBACK_DAYS,
        newest_first=True,
    )
    return group_days(rows)


def next_start(days: dict[date, list[HourObs]], day: date) -> datetime | None:
    """When the first observation after ``day`` arrived (None while ``day`` is the newest)."""
    later = [obs[0].ts for d, obs in days.items() if d > day and obs]
    return min(later) if later else None
