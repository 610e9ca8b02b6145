"""Irrigation season: a farm's fields share a pump station, day by day on the FAO-56 root-zone balance.

The clock counts days. At the end of each day every field takes one step of the FAO-56 chapter 8 balance
(``water_balance.step``: TAW, RAW with the adjusted p, Ks from the previous day's depletion, ETc adj =
Ks Kc ET0, deep percolation) with the day's rain, runoff and the net irrigation it received. A field whose
depletion Dr reaches its trigger (``trigger_factor`` x RAW) asks for a pump (a SimPy ``Resource``, first
come first served); once it has one it refills the root zone to field capacity: the net depth is its
depletion at that moment, and it runs for net x area / (pump flow x application efficiency) hours. Water
reaches the soil at a steady rate while the pump runs, so an irrigation that crosses midnight counts on
both days. If rain refilled the field below its trigger while it waited, it gives the pump up unused.

ET0 is a constant or the daily Penman-Monteith ET0 of the typical year the demo farm replays (pvlib's
TMY3 file), from a chosen day of the year, wrapping round. Rain is the same on every field: a day is wet
with a given probability and a wet day's depth is exponential; rain beyond the soil's daily infiltration
limit runs off.
"""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Generator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, TypeGuard

import simpy

from iplus.apps.agriculture.fields import FieldParams
from iplus.apps.agriculture.models import PROBE_PROPERTY
from iplus.apps.agriculture.water_balance import P_MAX, step
from iplus.engines.sim.model import Level, ScenarioKind, StateField
from iplus.engines.sim.schema import Param, Schema

KIND = "agriculture.irrigation_season"
M3_PER_MM_HA = 10.0  # 1 mm of water over 1 ha is 10 m3
ET0_CONSTANT, ET0_TYPICAL_YEAR = "constant", "typical_year"
# workload units of one field-day: its balance step and, at most, one irrigation (a pump request, its run
# and release) cost up to 20 µs, and the engine's limit of 20 million units must stay within a minute of
# one worker
FIELD_DAY_COST = 9
PER_FIELD = ("theta_fc", "theta_wp", "root_depth", "p_table", "kc", "initial_depletion")


@lru_cache(maxsize=1)
def typical_year_et0() -> tuple[float, ...]:
    """Daily ET0 (mm/day) of the demo's typical year, computed once per process (pvlib loads slowly)."""
    from iplus.apps.agriculture.farm_sim import daily_et0
    from iplus.apps.agriculture.weather import typical_year

    return tuple(daily_et0(typical_year()))


@dataclass(slots=True)
class Irrigation:
    """One pump request: when it was made, when the pump started and stopped, the net depth (mm)."""

    field: int
    requested: float  # d
    start: float | None = None  # d
    end: float | None = None  # d, planned end (may lie beyond the season)
    net: float = 0.0  # mm


class Field:
    """One field's root zone, its season totals and its daily depletion."""

    def __init__(self, params: FieldParams, area: float, depletion: float) -> None:
        self.params = params
        self.inputs = params.balance_inputs()
        self.area = area
        self.start = self.depletion = depletion
        self.trigger = math.inf
        self.pending = False  # asked for the pump and not yet done
        self.rate = 0.0  # net mm/day reaching the soil while the pump runs
        self.since = 0.0
        self.delivered = 0.0  # net mm reached since the last day's balance
        self.rain = self.irrigation = self.etc = self.etc_adj = self.deep_percolation = 0.0
        self.stress_days = 0
        self.irrigations = 0
        self.waited = 0.0  # h, pump waits of the irrigations asked for after the warm-up
        self.waits = 0
        self.job: Irrigation | None = None  # the irrigation asked for and not yet done
        self.daily = array("d")  # Dr at the end of each day, mm, when the season is traced

    def accrue(self, now: float) -> None:
        """Count the water the pump delivered up to ``now``."""
        self.delivered += self.rate * (now - self.since)
        self.since = now


class Season:
    """The farm: fields, the pump station, the weather, and the daily balance."""

    def __init__(
        self, env: simpy.Environment, params: dict[str, Any], rng: random.Random, state: dict[str, Any]
    ) -> None:
        self.env = env
        self.rng = rng
        self.horizon = int(params["horizon"])
        self.warmup = int(params["warmup"])
        self.pumps = int(params["pumps"])
        self.pump_flow = float(params["pump_flow"])  # m3/h per pump
        self.efficiency = float(params["application_efficiency"])
        self.factor = float(params["trigger_factor"])
        self.wet = float(params["wet_day_probability"])
        self.mean_rain = float(params["mean_rain"])
        self.infiltration = float(params["infiltration_limit"])
        if params["et0_source"] == ET0_TYPICAL_YEAR:
            year = typical_year_et0()
            first = int(params["start_day"]) - 1
            self.et0 = [year[(first + d) % len(year)] for d in range(min(self.horizon, len(year)))]
        else:
            self.et0 = [float(params["et0"])]
        theta = state.get("soil_moisture", [])
        self.fields: list[Field] = []
        for i, area in enumerate(params["areas"]):
            fp = FieldParams(
                theta_fc=float(params["theta_fc"][i]),
                theta_wp=float(params["theta_wp"][i]),
                root_depth=float(params["root_depth"][i]),
                p_table=float(params["p_table"][i]),
                kc=float(params["kc"][i]),
                efficiency=self.efficiency,
            )
            reading = theta[i] if i < len(theta) else None
            start = (
                fp.depletion(float(reading))
                if reading is not None
                else params["initial_depletion"][i] * fp.taw
            )
            self.fields.append(Field(fp, float(area), start))
        self.pump = simpy.Resource(env, capacity=self.pumps)
        self.busy = Level(float(self.warmup))
        self.waiting = 0
        # KPIs are summed as the season goes: a log of every irrigation would grow with the horizon
        self.max_wait = 0.0  # h
        self.pump_hours = 0.0  # within [warmup, horizon]
        # set ``trace`` before the run to keep every irrigation in ``log`` and every day's Dr in ``daily``
        self.trace = False
        self.log: list[Irrigation] = []
        self.rain = self.runoff = 0.0
        self.day = 0
        env.process(self.days())

    def days(self) -> Generator[simpy.Event, Any, None]:
        """End every day with the balance; the last day ends with the season, in ``kpis``."""
        while True:
            yield self.env.timeout(1)
            self.end_of_day(self.env.now, request=True)

    def end_of_day(self, now: float, request: bool) -> None:
        """The balance of day ``self.day`` for every field; fields at their trigger ask for a pump."""
        # draw in a fixed order every day, so a run's rain does not depend on its other parameters
        u, depth = self.rng.random(), self.rng.expovariate(1.0)
        rain = depth * self.mean_rain if u < self.wet else 0.0
        runoff = max(0.0, rain - self.infiltration)
        et0 = self.et0[self.day % len(self.et0)]
        measured = self.day >= self.warmup
        if measured:
            self.rain += rain
            self.runoff += runoff
        for i, f in enumerate(self.fields):
            f.accrue(now)
            irrigation, f.delivered = f.delivered, 0.0
            if self.day == self.warmup:
                f.start = f.depletion  # the measured season starts from the state the warm-up left
            r = step(
                **f.inputs,
                et0=et0,
                depletion_previous=f.depletion,
                precipitation=rain,
                runoff=runoff,
                irrigation=irrigation,
            )
            f.depletion = r["depletion"]
            f.trigger = self.factor * r["raw"]
            if self.trace:
                f.daily.append(f.depletion)
            if measured:
                f.rain += r["effective_precipitation"]
                f.irrigation += irrigation
                f.etc += r["etc"]
                f.etc_adj += r["etc_adj"]
                f.deep_percolation += r["deep_percolation"]
                f.stress_days += r["water_stress"]
            if request and not f.pending and f.depletion >= f.trigger:
                f.pending = True
                self.env.process(self.irrigate(i))
        self.day += 1

    def irrigate(self, i: int) -> Generator[simpy.Event, Any, None]:
        """Wait for a pump, refill the root zone to field capacity, give the pump back."""
        env, f = self.env, self.fields[i]
        job = f.job = Irrigation(i, env.now)
        if self.trace:
            self.log.append(job)
        self.waiting += 1
        with self.pump.request() as req:
            yield req
            self.waiting -= 1
            job.start = env.now
            if job.requested >= self.warmup:
                wait = (job.start - job.requested) * 24
                f.waited += wait
                f.waits += 1
                self.max_wait = max(self.max_wait, wait)
            if f.depletion < f.trigger:
                # rain refilled the root zone while it waited: nothing to do
                job.end = env.now
                f.pending = False
                f.job = None
                return
            job.net = f.depletion
            hours = job.net * f.area * M3_PER_MM_HA / (self.pump_flow * self.efficiency)
            job.end = env.now + hours / 24
            # the pump's running time within [warmup, horizon] (no irrigation is cut short)
            self.pump_hours += max(0.0, min(job.end, self.horizon) - max(job.start, self.warmup)) * 24
            f.irrigations += env.now >= self.warmup
            f.accrue(env.now)
            if job.end > env.now:
                f.rate = job.net / (job.end - env.now)
                self.busy.add(env.now, 1)
                yield env.timeout(job.end - env.now)
                f.accrue(env.now)
                f.rate = 0.0
                self.busy.add(env.now, -1)
            else:
                # too short for the clock to see (a tiny plot): the water arrives at once
                f.delivered += job.net
            f.pending = False
            f.job = None

    def probe(self) -> dict[str, float]:
        """Each field's depletion, fields waiting for a pump, pumps running."""
        out = {f"f{i}_depletion": f.depletion for i, f in enumerate(self.fields, 1)}
        out["waiting"] = float(self.waiting)
        out["pumps_busy"] = self.busy.value
        return out

    def finish(self, now: float) -> None:
        """Close the days the run stopped on (SimPy stops before the events due at the horizon)."""
        while self.day < int(now):
            self.end_of_day(float(self.day + 1), request=False)

    def kpis(self, now: float) -> dict[str, float]:
        """Water applied, stress, relative transpiration, deep percolation, waits and pump use."""
        self.finish(now)
        fields, area = self.fields, math.fsum(f.area for f in self.fields)
        waited = math.fsum(f.waited for f in fields)
        waits = sum(f.waits for f in fields)
        # a field still waiting when the season ends has waited at least this long
        still = [
            (now - f.job.requested) * 24
            for f in fields
            if f.job is not None and f.job.start is None and f.job.requested >= self.warmup
        ]
        etc = math.fsum(f.etc * f.area for f in fields)
        out = {
            "irrigation_mm": math.fsum(f.irrigation * f.area for f in fields) / area,
            "irrigation_m3": math.fsum(f.irrigation * f.area * M3_PER_MM_HA for f in fields)
            / self.efficiency,
            "irrigations": float(sum(f.irrigations for f in fields)),
            "stress_days": float(sum(f.stress_days for f in fields)),
            "relative_transpiration": math.fsum(f.etc_adj * f.area for f in fields) / etc if etc else 1.0,
            "deep_percolation_mm": math.fsum(f.deep_percolation * f.area for f in fields) / area,
            "rain_mm": self.rain,
            "runoff_mm": self.runoff,
            "mean_wait_h": waited / waits if waits else 0.0,
            "max_wait_h": max([self.max_wait, *still]),
            "pump_hours": self.pump_hours,
            "pump_utilisation": self.busy.mean(now) / self.pumps,
        }
        for i, f in enumerate(fields, 1):
            out |= {
                f"f{i}_irrigation_mm": f.irrigation,
                f"f{i}_irrigations": float(f.irrigations),
                f"f{i}_stress_days": float(f.stress_days),
                f"f{i}_relative_transpiration": f.etc_adj / f.etc if f.etc else 1.0,
                f"f{i}_deep_percolation_mm": f.deep_percolation,
                f"f{i}_effective_rain_mm": f.rain,
                f"f{i}_etc_mm": f.etc,
                f"f{i}_etc_adj_mm": f.etc_adj,
                f"f{i}_start_depletion_mm": f.start,
                f"f{i}_end_depletion_mm": f.depletion,
                f"f{i}_mean_wait_h": f.waited / f.waits if f.waits else 0.0,
            }
        return out


def _check(params: dict[str, Any]) -> list[dict[str, str]]:
    n = len(params["areas"])
    errors = [
        {"param": k, "reason": f"needs one entry per field ({n}, as in areas), got {len(params[k])}"}
        for k in PER_FIELD
        if len(params[k]) != n
    ]
    if errors:
        return errors
    if params["warmup"] >= params["horizon"]:
        errors.append({"param": "warmup", "reason": "must be shorter than the horizon"})
    for i, (fc, wp) in enumerate(zip(params["theta_fc"], params["theta_wp"], strict=True)):
        if wp >= fc:
            errors.append({"param": "theta_wp", "reason": f"field {i + 1}: {wp} must be below theta_fc {fc}"})
    # p rises to p_table + 0.2 on days of low ETc (FAO-56 Table 22 footnote); the trigger must stay
    # below TAW on such days too, or the field would never be irrigated
    for i, p in enumerate(params["p_table"]):
        highest = min(P_MAX, p + 0.2)
        if params["trigger_factor"] * highest >= 1:
            errors.append(
                {
                    "param": "trigger_factor",
                    "reason": f"field {i + 1}: trigger_factor x p (up to {highest:g}) must stay below 1, "
                    "or the trigger lies at or beyond TAW and the field is never irrigated",
                }
            )
            break
    return errors


def _water_content(value: Any) -> TypeGuard[int | float]:
    # compared, not converted: a huge int would overflow float(); NaN fails both comparisons
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


def _check_state(params: dict[str, Any], state: dict[str, Any]) -> list[dict[str, str]]:
    theta = state.get("soil_moisture", [])
    n = len(params["areas"])
    if (
        not isinstance(theta, list)
        or len(theta) > n
        or not all(v is None or _water_content(v) for v in theta)
    ):
        return [
            {
                "param": "soil_moisture",
                "reason": f"must list at most {n} volumetric water contents 0..1 (m3/m3), "
                "one per field in order, null for a field without a reading",
            }
        ]
    return []


def _from_twins(twins: list[dict[str, Any]]) -> dict[str, Any]:
    # one soil probe per field, in field order; a probe without a reading, or with one that is not a water
    # content (not a number in 0..1), leaves its field at its default
    theta: list[float | None] = []
    for t in twins:
        v = t.get(PROBE_PROPERTY)
        theta.append(float(v) if _water_content(v) else None)
    return {"soil_moisture": theta} if any(v is not None for v in theta) else {}


def _param(
    name: str, default: Any, unit: str, what: str, low: float, high: float, *, open_low: bool = False
) -> Param:
    """A parameter bounded to [low, high] ((low, high] with ``open_low``); a list default is per field."""
    per_field = isinstance(default, list)
    kind: Literal["number", "integer", "array"] = (
        "array" if per_field else "integer" if isinstance(default, int) else "number"
    )
    return Param(
        name,
        kind,
        default,
        unit,
        f"{what}, one per field" if per_field else what,
        minimum=None if open_low else low,
        exclusive_minimum=low if open_low else None,
        maximum=high,
        max_items=50,
    )


# the per-field defaults are the demo farm's: maize on a silt loam, tomato on a loam (FAO-56 Tables 12,
# 19 and 22)
_PARAMS = (
    _param("areas", [6.0, 4.0], "ha", "field area", 0, 10_000, open_low=True),
    _param("theta_fc", [0.32, 0.30], "m3/m3", "θFC, water content at field capacity", 0, 1, open_low=True),
    _param("theta_wp", [0.14, 0.13], "m3/m3", "θWP, water content at wilting point", 0, 1),
    _param("root_depth", [0.5, 0.6], "m", "Zr, rooting depth", 0, 10, open_low=True),
    _param("p_table", [0.55, 0.40], "", "p, FAO-56 Table 22 depletion fraction", 0, 1),
    _param("kc", [1.20, 1.15], "", "Kc, crop coefficient", 0, 2, open_low=True),
    _param("initial_depletion", [0.7, 0.15], "", "Dr at the start as a share of TAW (a probe wins)", 0, 1),
    _param("pumps", 1, "", "pumps in the station, each irrigating one field at a time", 1, 100),
    # floors, not open bounds: the run time net x area / (flow x efficiency) divides by their product
    _param("pump_flow", 120.0, "m3/h", "flow of one pump", 0.1, 100_000),
    _param("application_efficiency", 0.9, "", "share of the pumped water the root zone keeps", 0.1, 1),
    _param("trigger_factor", 1.0, "", "irrigate when Dr reaches this multiple of RAW", 0, 2, open_low=True),
    Param(
        "et0_source",
        "choice",
        ET0_CONSTANT,
        description="constant: et0 every day; typical_year: the demo's TMY3 daily ET0 from start_day",
        choices=(ET0_CONSTANT, ET0_TYPICAL_YEAR),
    ),
    _param("et0", 5.0, "mm/d", "reference evapotranspiration when et0_source is constant", 0, 20),
    _param("start_day", 182, "day of year", "first day in the typical year (182 = 1 July)", 1, 365),
    _param("wet_day_probability", 0.3, "", "chance that a day brings rain (0 = no rain)", 0, 1),
    _param("mean_rain", 11.0, "mm", "mean depth of a wet day's rain, exponential (0 = no rain)", 0, 500),
    _param("infiltration_limit", 50.0, "mm/d", "a day's rain beyond this runs off", 0, 10_000),
    _param("horizon", 120, "d", "length of the season", 1, 1_000_000),
    _param(
        "warmup", 0, "d", "first days left out of the statistics (they set the starting state)", 0, 1_000_000
    ),
)

IRRIGATION_SEASON = ScenarioKind(
    name=KIND,
    title="Irrigation season",
    description="Fields share a pump station through a season on the FAO-56 root-zone water balance: "
    "a field at its trigger depletion waits for a pump and is refilled to field capacity.",
    schema=Schema(_PARAMS),
    build=Season,
    kpi_units={
        "irrigation_mm": "mm",
        "irrigation_m3": "m3",
        "irrigations": "",
        "stress_days": "field-days",
        "relative_transpiration": "",
        "deep_percolation_mm": "mm",
        "rain_mm": "mm",
        "runoff_mm": "mm",
        "mean_wait_h": "h",
        "max_wait_h": "h",
        "pump_hours": "h",
        "pump_utilisation": "",
    },
    state_fields=(
        StateField(
            "soil_moisture",
            "volumetric water content θ (m3/m3) of each field's root zone at the start, in field order "
            "(null: no reading); Dr = 1000 (θFC - θ) Zr",
            PROBE_PROPERTY,
        ),
    ),
    check=_check,
    check_state=_check_state,
    state_from_twins=_from_twins,
    workload=lambda p: p["horizon"] * (1 + FIELD_DAY_COST * len(p["areas"])),
)

SCENARIOS: tuple[ScenarioKind, ...] = (IRRIGATION_SEASON,)
