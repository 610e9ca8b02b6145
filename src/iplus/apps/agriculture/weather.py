"""Weather for irrigation: the TMY3 typical year a demo station replays, and a station's daily aggregates.

TMY3 (pvlib's ``723170TYA.CSV``, Greensboro NC, read with ``read_tmy3(map_variables=True)``) gives one
row per hour ending at ``Time`` on ``Date`` in local standard time; a row is replayed as the hour that
*starts* one hour earlier, so the 24 rows of a date are that date's hours 00:00-23:00.

Rain: the file's ``Lprecip depth (mm)`` column is read as tenths of a millimetre. Its non-zero values
step 3, 5, 8, 10, 13, 15, 18, ... - exactly 0.01, 0.02, 0.03 ... inch (0.254 mm) in tenths of a mm - and
read as millimetres the year would bring 8,345 mm, against about 1,100 mm a year in Greensboro; read as
tenths it brings 834 mm. (TMY rain is known to be off by ten in other sites' files too.)

Daily aggregates for FAO-56 daily ET0 (Eq. 6): Tmax and Tmin, RHmax and RHmin (Eq. 17) are the extremes of
the hourly values; the wind speed is the mean of the hourly means; Rs (MJ m-2 day-1) is the mean hourly
irradiance (W m-2) times 86,400 s, which is the sum of the hourly energies when every hour is there and
does not shrink when an hour is missing; precipitation is the sum of the hourly depths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from iplus.access.sim.replay import TMY3_FILE, package_file
from iplus.core.errors import InvalidInput

RAIN_SCALE = 0.1  # TMY3 "Lprecip depth" counts tenths of a millimetre (see the module docstring)
TMY3_WIND_HEIGHT = 10.0  # m: TMY3 wind comes from the airport anemometer at 10 m
MJ_PER_W_DAY = 86_400 / 1e6  # a mean of 1 W m-2 over a day is 0.0864 MJ m-2
MIN_HOURS = 20  # a day with fewer hourly observations is not aggregated


@dataclass(frozen=True)
class HourRow:
    """One hour of the typical year: its date (month, day), hour beginning 0-23, and the weather."""

    month: int
    day: int
    hour: int
    t_air: float
    rh: float
    wind_speed: float
    ghi: float
    rain: float


@dataclass(frozen=True)
class TypicalYear:
    """A TMY3 station: where it is, its time zone (hours from UTC), and 8,760 hourly rows."""

    station: str
    latitude: float
    longitude: float
    altitude: float
    utc_offset_h: float
    rows: tuple[HourRow, ...]

    @property
    def zone(self) -> timezone:
        """The station's local standard time."""
        return timezone(timedelta(hours=self.utc_offset_h))

    def observed(self, index: int, first_year: int) -> datetime:
        """The start of the ``index``-th replayed hour (counting on past the end), from ``first_year``."""
        loops, i = divmod(index, len(self.rows))
        row = self.rows[i]
        return datetime(first_year + loops, row.month, row.day, row.hour, tzinfo=self.zone)

    def index_of(self, month: int, day: int, hour: int = 0) -> int:
        """The row of a date and hour of the typical year."""
        for i, row in enumerate(self.rows):
            if (row.month, row.day, row.hour) == (month, day, hour):
                return i
        raise InvalidInput(f"the typical year has no hour {month:02d}-{day:02d} {hour:02d}:00")


def _finite(value: Any) -> float:
    number = float(value)
    return number if math.isfinite(number) else 0.0


@lru_cache(maxsize=2)
def typical_year(path: str | None = None) -> TypicalYear:
    """The TMY3 file (pvlib's Greensboro file by default), read once per process."""
    import pvlib.iotools  # type: ignore[import-untyped]  # lazily: pvlib and pandas take seconds to import

    where = Path(path) if path else package_file("pvlib", "data", TMY3_FILE)
    frame, meta = pvlib.iotools.read_tmy3(str(where), map_variables=True)
    rows = []
    for date_text, time_text, t_air, rh, wind, ghi, rain in zip(
        frame["Date (MM/DD/YYYY)"],
        frame["Time (HH:MM)"],
        frame["temp_air"],
        frame["relative_humidity"],
        frame["wind_speed"],
        frame["ghi"],
        frame["Lprecip depth (mm)"],
        strict=True,
    ):
        month, day, _year = (int(p) for p in str(date_text).split("/"))
        hour_ending = int(str(time_text).split(":")[0])
        rows.append(
            HourRow(
                month=month,
                day=day,
                hour=hour_ending - 1,
                t_air=_finite(t_air),
                rh=min(100.0, max(0.0, _finite(rh))),
                wind_speed=max(0.0, _finite(wind)),
                ghi=max(0.0, _finite(ghi)),
                rain=round(max(0.0, _finite(rain)) * RAIN_SCALE, 1),
            )
        )
    return TypicalYear(
        station=str(meta.get("Name", "")).strip('"'),
        latitude=float(meta["latitude"]),
        longitude=float(meta["longitude"]),
        altitude=float(meta["altitude"]),
        utc_offset_h=float(meta["TZ"]),
        rows=tuple(rows),
    )


@dataclass(frozen=True)
class HourObs:
    """One hourly observation of a station as stored: when it was observed and when it arrived."""

    observed: datetime
    ts: datetime
    t_air: float
    rh: float
    wind_speed: float
    solar_radiation: float  # W m-2, the hour's mean
    rain: float  # mm in the hour


@dataclass(frozen=True)
class DayWeather:
    """A station's daily aggregates of one local date, as FAO-56 daily ET0 takes them."""

    day: date
    hours: int
    t_max: float
    t_min: float
    rh_max: float
    rh_min: float
    wind_speed: float
    solar_radiation: float  # MJ m-2 day-1
    precipitation: float  # mm
    first_ts: datetime
    last_ts: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            "day": self.day.isoformat(),
            "hours": self.hours,
            "t_max": self.t_max,
            "t_min": self.t_min,
            "rh_max": self.rh_max,
            "rh_min": self.rh_min,
            "wind_speed": self.wind_speed,
            "solar_radiation": self.solar_radiation,
            "precipitation": self.precipitation,
            "first_ts": self.first_ts.isoformat(),
            "last_ts": self.last_ts.isoformat(),
        }


def daily(observations: Sequence[HourObs]) -> DayWeather:
    """The daily aggregates of one date's hourly observations (see the module docstring)."""
    days = {o.observed.date() for o in observations}
    if len(days) != 1:
        raise InvalidInput("daily aggregates take the observations of exactly one date")
    if len(observations) < MIN_HOURS:
        raise InvalidInput(
            f"{days.pop()} has {len(observations)} hourly observations; at least {MIN_HOURS} are needed"
        )
    n = len(observations)
    return DayWeather(
        day=days.pop(),
        hours=n,
        t_max=max(o.t_air for o in observations),
        t_min=min(o.t_air for o in observations),
        rh_max=max(o.rh for o in observations),
        rh_min=min(o.rh for o in observations),
        wind_speed=sum(o.wind_speed for o in observations) / n,
        solar_radiation=sum(o.solar_radiation for o in observations) / n * MJ_PER_W_DAY,
        precipitation=sum(o.rain for o in observations),
        first_ts=min(o.ts for o in observations),
        last_ts=max(o.ts for o in observations),
    )


def et0_inputs(day: DayWeather, *, latitude: float, altitude: float, wind_height: float) -> dict[str, Any]:
    """The inputs of ``agriculture.et0_fao56`` in daily mode for one day of a station."""
    return {
        "mode": "daily",
        "latitude": latitude,
        "altitude": altitude,
        "day_of_year": day.day.timetuple().tm_yday,
        "t_max": day.t_max,
        "t_min": day.t_min,
        "rh_max": day.rh_max,
        "rh_min": day.rh_min,
        "wind_speed": day.wind_speed,
        "wind_height": wind_height,
        "solar_radiation": day.solar_radiation,
    }
