"""Simulated readings of the demo network: measured series where one exists, plausible models elsewhere.

- Air stations replay pvlib's ``soiling_hsu_example_inputs.csv``: 8,760 hourly PM2.5 and PM10 values of 2015
  in g/m³ (the unit pvlib's Hsu soiling model takes), here in µg/m³ (times 10⁶; every value is a whole µg/m³).
  The row replayed is the same hour of the year on China Standard Time (29 February repeats the 28th), moved
  on by each station's ``offset_days``, held for the whole hour: a station's hourly mean is the file's value.
  About 10 % of the rows have PM2.5 above PM10 (two instruments); they are replayed as they are.
- Gases follow the particulates and the clock: NO2 with traffic peaks at 08 and 18 h, CO and SO2 with the
  particulates, O3 photochemical (an afternoon peak, higher in summer, titrated by NO2).
- Water stations replay the water temperature of bokeh-sampledata's NERACOOS buoy B01 series (30-minute
  values, February 2016 to March 2017) at the same time of the year; dissolved oxygen is the saturation at
  that temperature (Benson and Krause, as APHA 4500-O tabulates it) times a daily photosynthesis cycle.
- Stacks run at a share of their permit; every 15 minutes one stack, in turn, exceeds one limit for three
  minutes (which pollutant rotates), so the permit alarms fire in the demo.

Every model value is a pure function of the time (hourly or smooth), so a backfilled history and the live
feed agree; live readings add a little measurement noise on the gases and water parameters.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import math
import zlib
from decimal import Decimal
from functools import cache

import numpy as np
import numpy.typing as npt

from iplus.access.sim.replay import package_file
from iplus.apps.environment.models import LIMITED
from iplus.apps.environment.network import HOUR_S, AirStation, Emitter, WaterStation

CST = dt.timezone(dt.timedelta(hours=8), "CST")
PM_FILE = ("pvlib", "data", "soiling_hsu_example_inputs.csv")
SST_FILE = ("bokeh_sampledata", "_data", "sea_surface_temperature.csv.gz")
PM_YEAR = 2015
HOURS_PER_YEAR = 8760
# exceedance episodes of the stacks: one every EPISODE_EVERY_S seconds, lasting EPISODE_S from EPISODE_AT_S
EPISODE_EVERY_S = 900
EPISODE_AT_S = 300
EPISODE_S = 180
EPISODE_FACTOR = 1.4  # the concentration during an episode, as a multiple of the limit


@cache
def pm_series() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """PM2.5 and PM10 of every hour of 2015, in µg/m³ (converted exactly from the file's g/m³)."""
    path = package_file(*PM_FILE)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if len(rows) != HOURS_PER_YEAR:
        raise ValueError(f"{path.name}: expected {HOURS_PER_YEAR} hourly rows, found {len(rows)}")
    million = Decimal(10) ** 6
    pm25 = np.array([float(Decimal(r["PM2_5"]) * million) for r in rows])
    pm10 = np.array([float(Decimal(r["PM10"]) * million) for r in rows])
    return pm25, pm10


def pm_row(t: float, offset_days: int = 0) -> int:
    """The row of the 2015 file replayed at epoch second ``t``: the same hour of the year on CST."""
    local = dt.datetime.fromtimestamp(t, CST)
    day = 28 if (local.month, local.day) == (2, 29) else local.day
    day_of_year = dt.date(PM_YEAR, local.month, day).timetuple().tm_yday
    return ((day_of_year - 1) * 24 + local.hour + offset_days * 24) % HOURS_PER_YEAR


@cache
def sst_series() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The buoy's (epoch seconds, water temperature °C), in time order."""
    path = package_file(*SST_FILE)
    with gzip.open(path, "rt", newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        pairs = [
            (dt.datetime.fromisoformat(a.replace("Z", "+00:00")).timestamp(), float(b)) for a, b in reader
        ]
    pairs.sort()
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def water_temperature(t: float) -> float:
    """The buoy's temperature at the same time of the year (its record runs 2016-02-15 to 2017-03-22)."""
    times, temps = sst_series()
    now = dt.datetime.fromtimestamp(t, dt.UTC)
    first = dt.datetime.fromtimestamp(float(times[0]), dt.UTC)
    year = first.year if (now.month, now.day) >= (first.month, first.day) else first.year + 1
    day = 28 if (now.month, now.day) == (2, 29) and year % 4 else now.day
    then = now.replace(year=year, day=day).timestamp()
    i = int(np.searchsorted(times, then, side="right")) - 1
    return float(temps[min(max(i, 0), len(temps) - 1)])


def do_saturation(temp_c: float) -> float:
    """Dissolved-oxygen saturation of fresh water at 1 atm, mg/L (Benson and Krause 1984, APHA 4500-O)."""
    k = temp_c + 273.15
    ln = -139.34411 + 1.575701e5 / k - 6.642308e7 / k**2 + 1.243800e10 / k**3 - 8.621949e11 / k**4
    return math.exp(ln)


def smooth(name: str, t: float) -> float:
    """A smooth, deterministic variation in [-1, 1] for ``name`` at epoch second ``t``."""
    seed = zlib.crc32(name.encode())
    total = 0.0
    # three incommensurate periods (hours), phases from the name: varies over hours and days, never repeats
    for i, (period_h, weight) in enumerate(((5.3, 0.3), (17.0, 0.4), (61.0, 0.3))):
        phase = ((seed >> (8 * i)) & 0xFF) / 256 * 2 * math.pi
        total += weight * math.sin(2 * math.pi * t / (period_h * HOUR_S) + phase)
    return total


def _cst_hour(t: float) -> float:
    local = dt.datetime.fromtimestamp(t, CST)
    return local.hour + local.minute / 60 + local.second / 3600


def _peak(hour: float, at: float, width: float) -> float:
    gap = min(abs(hour - at), 24 - abs(hour - at))
    return math.exp(-0.5 * (gap / width) ** 2)


def air_values(station: AirStation, t: float) -> dict[str, float]:
    """A station's hourly values at ``t``: replayed PM, modelled gases (µg/m³; CO mg/m³)."""
    hour_start = t - t % HOUR_S
    row = pm_row(hour_start, station.offset_days)
    pm25_all, pm10_all = pm_series()
    pm25, pm10 = float(pm25_all[row]), float(pm10_all[row])
    local = dt.datetime.fromtimestamp(hour_start, CST)
    h = local.hour + 0.5
    s = station.id
    no2 = 18 + 0.3 * pm25 + 14 * (_peak(h, 8, 1.5) + _peak(h, 18, 1.5)) + 5 * smooth(s + ":no2", hour_start)
    summer = 0.55 + 0.45 * math.sin(2 * math.pi * (local.timetuple().tm_yday - 105) / 365)
    o3 = 25 + 115 * summer * _peak(h, 14.5, 3.0) - 0.25 * no2 + 8 * smooth(s + ":o3", hour_start)
    return {
        "pm2_5": pm25,
        "pm10": pm10,
        "so2": round(max(2.0, 5 + 0.04 * pm10 + 2 * smooth(s + ":so2", hour_start)), 1),
        "no2": round(max(3.0, no2), 1),
        "co": round(max(0.1, 0.35 + 0.011 * pm25 + 0.1 * smooth(s + ":co", hour_start)), 2),
        "o3": round(max(2.0, o3), 1),
    }


def water_values(station: WaterStation, t: float) -> dict[str, float]:
    """A water station's values at ``t`` (mg/L unless named otherwise)."""
    s = station.id
    temp = water_temperature(t)
    daylight = math.cos(2 * math.pi * (_cst_hour(t) - 15) / 24)  # photosynthesis peaks mid-afternoon
    return {
        "water_temperature": temp,
        "ph": round(7.5 + 0.25 * daylight + 0.1 * smooth(s + ":ph", t), 2),
        "dissolved_oxygen": round(
            do_saturation(temp) * (0.86 + 0.08 * daylight + 0.03 * smooth(s + ":do", t)), 2
        ),
        "permanganate_index": round(station.codmn * (1 + 0.15 * smooth(s + ":codmn", t)), 2),
        "ammonia_nitrogen": round(station.nh3n * (1 + 0.3 * smooth(s + ":nh3n", t)), 3),
        "total_phosphorus": round(station.tp * (1 + 0.25 * smooth(s + ":tp", t)), 3),
        "total_nitrogen": round(station.tn * (1 + 0.15 * smooth(s + ":tn", t)), 2),
        "turbidity": round(12 * (1 + 0.4 * smooth(s + ":turbidity", t)), 1),
        "conductivity": round(380 * (1 + 0.1 * smooth(s + ":conductivity", t)), 0),
    }


def episode(emitter_ids: list[str], t: float) -> tuple[str, str] | None:
    """(stack id, pollutant) exceeding its limit at ``t``, or None: stacks and pollutants take turns."""
    if not emitter_ids:
        return None
    slot, within = divmod(int(t), EPISODE_EVERY_S)
    if not EPISODE_AT_S <= within < EPISODE_AT_S + EPISODE_S:
        return None
    turn = slot % len(emitter_ids)
    pollutant = LIMITED[(slot // len(emitter_ids)) % len(LIMITED)][0]
    return emitter_ids[turn], pollutant


def emitter_values(
    emitter: Emitter, limits: dict[str, float], t: float, exceeding: str | None
) -> dict[str, float]:
    """A stack's values at ``t``: concentrations at its load of the limits, ``exceeding`` one above it."""
    s = emitter.id
    daily = math.cos(2 * math.pi * (_cst_hour(t) - 14) / 24)  # more load by day
    out: dict[str, float] = {}
    for key, limit_key in LIMITED:
        limit = limits.get(limit_key, getattr(emitter.permit, key))
        share = emitter.load * (1 + 0.1 * daily + 0.15 * smooth(f"{s}:{key}", t))
        if key == exceeding:
            share = EPISODE_FACTOR + 0.1 * smooth(f"{s}:{key}:episode", t)
        out[key] = round(limit * share, 2)
    out["flow"] = round(emitter.flow * (0.9 + 0.06 * daily + 0.03 * smooth(s + ":flow", t)), 0)
    out["o2"] = round(emitter.o2 + 0.5 * smooth(s + ":o2", t), 2)
    out["flue_temperature"] = round(emitter.flue_temperature + 2 * smooth(s + ":temp", t), 1)
    return out


def with_noise(
    values: dict[str, float], rng: np.random.Generator, sigma: float, keep: frozenset[str]
) -> dict[str, float]:
    """Live readings: ``values`` with relative Gaussian measurement noise, except the ``keep`` keys."""
    out = {}
    for key, value in values.items():
        out[key] = value if key in keep else round(max(0.0, value * (1 + rng.normal(0.0, sigma))), 3)
    return out
