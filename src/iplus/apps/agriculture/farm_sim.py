"""The demo farm's physical side, simulated: root-zone water, soil temperature, valves and a tractor.

Hour by hour of the replayed typical year, each field's root-zone depletion follows the FAO-56 balance
(Eq. 85) at an hourly step: the day's crop ET (Ks Kc ET0, with the day's ET0 from the same daily
Penman-Monteith the scheduler uses) is spread over the day's hours in proportion to their solar
radiation; the hour's rain and the irrigation the valve delivers (times the application efficiency)
refill it, anything beyond field capacity draining away. The probe reads θ = θFC - Dr / (1000 Zr).
Soil temperature is a first-order lag (24 h) of the air temperature - a simple stand-in, not a model.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import datetime

from iplus.apps.agriculture import et0 as fao
from iplus.apps.agriculture.fields import FieldParams
from iplus.apps.agriculture.water_balance import adjusted_p
from iplus.apps.agriculture.weather import TMY3_WIND_HEIGHT, HourObs, TypicalYear, daily, et0_inputs

SOIL_LAG_H = 24.0
EARTH_M_PER_DEG = 111_320.0  # metres per degree of latitude (and of longitude at the equator)


def daily_et0(year: TypicalYear) -> list[float]:
    """ET0 (mm/day, at least 0) of each day of the typical year, from its daily aggregates (Eq. 6)."""
    out = []
    for start in range(0, len(year.rows), 24):
        hours = [
            HourObs(
                year.observed(i, 2001), year.observed(i, 2001), r.t_air, r.rh, r.wind_speed, r.ghi, r.rain
            )
            for i, r in enumerate(year.rows[start : start + 24], start=start)
        ]
        inputs = et0_inputs(
            daily(hours), latitude=year.latitude, altitude=year.altitude, wind_height=TMY3_WIND_HEIGHT
        )
        inputs.pop("mode")
        out.append(max(0.0, fao.daily(**inputs)["et0"]))
    return out


def soil_hour(
    params: FieldParams, depletion: float, et0_day: float, share: float, rain: float, irrigation: float
) -> float:
    """The root-zone depletion (mm) after one hour: crop ET of the hour, less rain and net irrigation."""
    taw = params.taw
    etc = params.kc * et0_day
    p = adjusted_p(params.p_table, etc)
    ks = 1.0 if depletion <= p * taw else (taw - depletion) / ((1 - p) * taw)
    return min(taw, max(0.0, depletion + ks * etc * share - rain - irrigation))


def soil_temperature(previous: float, air: float, hours: float = 1.0) -> float:
    """Soil temperature after ``hours`` of lagging behind the air temperature."""
    return previous + (air - previous) * (1 - math.exp(-hours / SOIL_LAG_H))


@dataclass
class Valve:
    """A valve's state: open with a gross depth still to deliver, or closed."""

    rate: float  # mm/h while open
    remaining: float = 0.0

    @property
    def is_open(self) -> bool:
        """Whether water flows."""
        return self.remaining > 0

    def open(self, depth_mm: float | None = None, duration_min: float | None = None) -> float:
        """Open for a depth or a duration; returns the gross depth it will deliver."""
        depth = depth_mm if depth_mm is not None else self.rate * (duration_min or 0.0) / 60
        self.remaining = max(0.0, float(depth))
        return self.remaining

    def close(self) -> None:
        """Stop now."""
        self.remaining = 0.0

    def run(self, hours: float = 1.0) -> float:
        """Flow for up to ``hours``; returns the gross depth delivered."""
        delivered = min(self.remaining, self.rate * hours)
        self.remaining -= delivered
        if self.remaining < 1e-9:
            self.remaining = 0.0
        return delivered


@dataclass
class SimField:
    """One simulated field: its parameters, devices, and the true state of its root zone."""

    name: str
    params: FieldParams
    probe_id: str
    valve_id: str
    depletion: float
    soil_temp: float
    valve: Valve = field(init=False)

    def __post_init__(self) -> None:
        self.valve = Valve(self.params.application_rate)


def lawnmower(
    centre: tuple[float, float], width_m: float, height_m: float, spacing_m: float
) -> list[tuple[float, float]]:
    """Waypoints (lat, lon) of back-and-forth passes over a rectangle around ``centre``, back to the start."""
    lat0, lon0 = centre
    per_lon = EARTH_M_PER_DEG * math.cos(math.radians(lat0))
    points = []
    passes = max(1, int(height_m // spacing_m))
    for k in range(passes + 1):
        y = -height_m / 2 + k * spacing_m
        xs = (-width_m / 2, width_m / 2) if k % 2 == 0 else (width_m / 2, -width_m / 2)
        points += [(lat0 + y / EARTH_M_PER_DEG, lon0 + x / per_lon) for x in xs]
    points.append(points[0])
    return points


def _metres(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """(east, north) metres from ``a`` to ``b`` (flat earth: fine across a field)."""
    per_lon = EARTH_M_PER_DEG * math.cos(math.radians((a[0] + b[0]) / 2))
    return (b[1] - a[1]) * per_lon, (b[0] - a[0]) * EARTH_M_PER_DEG


def along(path: list[tuple[float, float]], distance_m: float) -> tuple[float, float, float]:
    """(lat, lon, heading) at ``distance_m`` along a closed path, looping."""
    legs = []
    for a, b in itertools.pairwise(path):
        east, north = _metres(a, b)
        legs.append((a, b, math.hypot(east, north), east, north))
    total = sum(leg[2] for leg in legs)
    d = distance_m % total if total > 0 else 0.0
    for a, b, length, east, north in legs:
        if d <= length and length > 0:
            f = d / length
            heading = math.degrees(math.atan2(east, north)) % 360
            return a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, heading
        d -= length
    return path[0][0], path[0][1], 0.0


@dataclass
class Tractor:
    """A tractor working a field by day at a steady speed, parked at night."""

    device_id: str
    path: list[tuple[float, float]]
    speed: float = 2.5  # m/s
    travelled: float = 0.0

    def step(self, seconds: float, working: bool) -> dict[str, float]:
        """Drive for ``seconds`` (or stand) and report the GNSS fix."""
        if working:
            self.travelled += self.speed * seconds
        lat, lon, heading = along(self.path, self.travelled)
        return {
            "lat": round(lat, 7),
            "lon": round(lon, 7),
            "speed": self.speed if working else 0.0,
            "heading": round(heading, 1),
        }


def day_shares(ghi: list[float]) -> list[float]:
    """Each hour's share of the day's evapotranspiration: its share of the day's radiation."""
    total = sum(ghi)
    return [g / total for g in ghi] if total > 0 else [1 / len(ghi)] * len(ghi)


def probe_reading(f: SimField) -> dict[str, float]:
    """What a field's probe reports now."""
    return {
        "soil_moisture": round(min(1.0, max(0.0, f.params.theta(f.depletion))), 4),
        "soil_temperature": round(f.soil_temp, 2),
    }


def station_reading(year: TypicalYear, index: int, observed: datetime) -> dict[str, float | str]:
    """What the weather station reports for the replayed hour ``index``."""
    row = year.rows[index % len(year.rows)]
    return {
        "t_air": row.t_air,
        "rh": row.rh,
        "wind_speed": row.wind_speed,
        "solar_radiation": row.ghi,
        "rain": row.rain,
        "observed": observed.isoformat(),
    }
