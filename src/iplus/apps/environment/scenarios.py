"""Simulation scenario: PM2.5 episodes in a well-mixed urban box and the authority's emission curtailment.

Box model: dC/dt = q(t)/H - (u(t)/L + k_d) C, with C in µg/m³, q the emission flux (µg m⁻² h⁻¹) of a daily
traffic/heating cycle, H the mixing height (m), L the box length along the wind (m), u the wind speed
(m/s, x 3600 per hour) and k_d the deposition rate (1/h). The weather is a semi-Markov chain of regimes
(stagnant <-> normal <-> windy, exponential sojourns), or an hourly wind sequence replayed in a loop.
Every input is constant between events, so the model integrates exactly:
C(t + dt) = C* + (C - C*) e^(-dt/tau), C* = q / (H (u/L + k_d)), tau = 1 / (u/L + k_d).

Control: each hour the 24-hour moving mean is scored with HJ 633 (the platform's own ``aqi_cn``); above
the trigger IAQI the authority orders emission cuts of a share, in force after a response delay and for a
duration. Time is in hours from midnight; hour n is the hour ending at t = n.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import deque
from collections.abc import Generator
from typing import Any, TypeGuard

import simpy

from iplus.apps.environment import aqi_cn
from iplus.engines.sim.model import ScenarioKind, StateField
from iplus.engines.sim.schema import Param, Schema

STAGNANT, NORMAL, WINDY = 0, 1, 2
SECONDS_PER_HOUR = 3600.0
# workload units (the engine's limit of 20 million must stay within a minute of one worker): a simulated
# hour (its event, the 24-hour mean, a remembered HJ 633 score) costs about 6 µs, a regime change 3-4 µs,
# an order (its process and two switches) about 7 µs; an HJ 633 scoring in exact decimals costs ~0.1 ms
# but is rarely redone
HOUR_COST = 3.0
CHANGE_COST = 2.0
ORDER_COST = 4.0
# m/s, the lowest wind speed taken (a calm reads lower): it keeps the ventilation rate, and so 1/tau, away
# from zero, where the exact solution divides by it and C* overflows
MIN_WIND = 0.1
MAX_CONCENTRATION = 2000.0  # µg/m³: the air station's PM2.5 range
# a daily traffic and heating cycle: low at night, morning and evening rush hours (00-01 h first)
DIURNAL = [
    0.60, 0.50, 0.45, 0.45, 0.50, 0.70, 1.00, 1.40, 1.50, 1.20, 1.00, 0.95,
    0.95, 0.95, 1.00, 1.10, 1.30, 1.50, 1.55, 1.40, 1.20, 1.05, 0.90, 0.75,
]  # fmt: skip
CATEGORY_KPIS = tuple(f"days_{c[3].replace(' ', '_')}" for c in aqi_cn.CATEGORIES)


def pm25_iaqi(standard: aqi_cn.Standard, mean_24h: float) -> int:
    """The HJ 633 IAQI of a 24-hour PM2.5 mean (µg/m³), from the platform's daily report."""
    # the box holds PM2.5 only: the other indicators of the daily report are absent (zero)
    inputs = {item.key: 0.0 for item in standard.reports["daily"]}
    inputs["pm2_5_24h"] = mean_24h
    return int(aqi_cn.compute(standard, "daily", inputs)["items"]["pm2_5_24h"]["iaqi"])


class IaqiMemo:
    """``pm25_iaqi`` remembered: the IAQI never falls as the concentration rises, so a value between two
    scored concentrations with the same IAQI has that IAQI too, without scoring it again."""

    def __init__(self, standard: aqi_cn.Standard) -> None:
        self.standard = standard
        self.lows: list[float] = []  # sorted; lows[i] <= highs[i] < lows[i + 1] all scored iaqis[i]
        self.highs: list[float] = []
        self.iaqis: list[int] = []

    def __call__(self, mean_24h: float) -> int:
        """The IAQI of ``mean_24h`` (µg/m³)."""
        i = bisect.bisect_right(self.lows, mean_24h) - 1
        if i >= 0 and mean_24h <= self.highs[i]:
            return self.iaqis[i]
        iaqi = pm25_iaqi(self.standard, mean_24h)
        if i >= 0 and self.iaqis[i] == iaqi:
            self.highs[i] = mean_24h
        elif i + 1 < len(self.lows) and self.iaqis[i + 1] == iaqi:
            self.lows[i + 1] = mean_24h
        else:
            self.lows.insert(i + 1, mean_24h)
            self.highs.insert(i + 1, mean_24h)
            self.iaqis.insert(i + 1, iaqi)
        return iaqi


class Box:
    """The urban box, its weather, the hourly HJ 633 assessment and the curtailment orders."""

    def __init__(
        self, env: simpy.Environment, params: dict[str, Any], rng: random.Random, state: dict[str, Any]
    ) -> None:
        p = params
        self.env = env
        self.rng = rng
        self.height = float(p["mixing_height"])
        self.length = float(p["box_length"])
        self.kd = float(p["deposition_rate"])
        profile = p["diurnal_profile"]
        # each hour's share of the day first: a share is at most 1, so tiny weights cannot overflow
        total = math.fsum(profile)
        self.flux = [float(p["emission_base"]) * len(profile) * (x / total) for x in profile]
        self.speeds = [float(u) for u in p["wind_speeds"]]
        self.sojourns = [float(m) for m in p["regime_hours"]]
        self.stagnant_chance = float(p["stagnant_chance"])
        self.sequence = [float(u) for u in p["wind_sequence"]]
        self.iaqi = IaqiMemo(aqi_cn.HJ633_2012 if p["hj633_edition"] == 2012 else aqi_cn.HJ633_2026)
        self.trigger = int(p["trigger_iaqi"])
        self.share = float(p["curtailment_share"])
        self.delay = float(p["response_delay"])
        self.duration = float(p["curtailment_duration"])
        self.warmup = float(p["warmup"])
        # inputs in force now
        self.regime = NORMAL
        self.wind = self.sequence[0] if self.sequence else self.speeds[NORMAL]
        self.base = self.flux[0]
        self.active = False
        self.order_end = -math.inf
        # without a state the box starts at the equilibrium of the mean emission in the starting wind
        start = float(p["emission_base"]) / (
            self.height * (self.wind * SECONDS_PER_HOUR / self.length + self.kd)
        )
        self.c = float(state.get("concentration", start))
        self.t = 0.0
        self.hour_area = 0.0
        self.closed = 0
        self.hourly: deque[float] = deque([float(state.get("mean_24h", self.c))] * 24, maxlen=24)
        self.mean_24h = math.fsum(self.hourly) / 24
        self.iaqi_24h = self.iaqi(self.mean_24h)
        # statistics over [warmup, horizon]; masses per m² of the city (µg/m²)
        self.c_start = self.c
        self.area = 0.0
        self.wind_area = 0.0
        self.stagnant_time = 0.0
        self.emitted = 0.0
        self.ventilated = 0.0
        self.deposited = 0.0
        self.uncontrolled = 0.0
        self.curtailed_time = 0.0
        self.orders = 0
        self.over_100 = 0
        self.over_200 = 0
        self.peak_mean = 0.0
        self.peak_iaqi = 0
        self.days = dict.fromkeys(CATEGORY_KPIS, 0)
        env.process(self.clock())
        self._decide(0.0)  # a run may start inside an episode
        if not self.sequence:
            env.process(self.weather())

    def _advance(self, now: float) -> None:
        """Integrate exactly from the last event to ``now`` with the inputs in force."""
        if now <= self.t:
            return
        if self.t < self.warmup < now:
            self._advance(self.warmup)
        dt = now - self.t
        q = self.base * (1.0 - self.share) if self.active else self.base
        vent = self.wind * SECONDS_PER_HOUR / self.length
        rate = vent + self.kd
        target = q / (self.height * rate)
        gap = self.c - target
        # ∫ C dt over the step; -expm1 keeps 1 - e^(-x) accurate for short steps
        area = target * dt - gap * math.expm1(-rate * dt) / rate
        self.c = max(0.0, target + gap * math.exp(-rate * dt))
        self.hour_area += area
        if self.t >= self.warmup:
            self.area += area
            self.wind_area += self.wind * dt
            self.emitted += q * dt
            self.uncontrolled += self.base * dt
            self.ventilated += vent * self.height * area
            self.deposited += self.kd * self.height * area
            if self.active:
                self.curtailed_time += dt
            if self.regime == STAGNANT and not self.sequence:
                self.stagnant_time += dt
        self.t = now
        if now == self.warmup:
            self.c_start = self.c

    def _close_hour(self, n: int) -> None:
        """Hour n has ended: its mean joins the 24-hour moving mean, which HJ 633 scores."""
        self.hourly.append(max(0.0, self.hour_area))
        self.hour_area = 0.0
        self.closed = n
        self.mean_24h = math.fsum(self.hourly) / 24
        self.iaqi_24h = self.iaqi(self.mean_24h)
        if n - 1 >= self.warmup:
            self.over_100 += self.iaqi_24h > 100
            self.over_200 += self.iaqi_24h > 200
            self.peak_mean = max(self.peak_mean, self.mean_24h)
            self.peak_iaqi = max(self.peak_iaqi, self.iaqi_24h)
        if n % 24 == 0 and n - 24 >= self.warmup:
            # midnight: the moving mean is the calendar day's mean, its IAQI the day's (PM2.5) AQI
            name = aqi_cn.category(self.iaqi_24h)["category_en"]
            self.days[f"days_{name.replace(' ', '_')}"] += 1

    def clock(self) -> Generator[simpy.Event, Any, None]:
        """Every hour: assess, decide on an order, then the next hour's emission (and replayed wind)."""
        env = self.env
        n = 0
        while True:
            yield env.timeout(1.0)
            n += 1
            now = env.now
            self._advance(now)
            self._close_hour(n)
            self.base = self.flux[n % len(self.flux)]
            if self.sequence:
                self.wind = self.sequence[n % len(self.sequence)]
            self._decide(now)

    def _decide(self, now: float) -> None:
        """Order cuts when the last 24-hour mean scores above the trigger; one order at a time."""
        # an order ending at this instant is over
        if self.share > 0 and self.iaqi_24h > self.trigger and now >= self.order_end:
            self.order_end = now + self.delay + self.duration
            if now >= self.warmup:
                self.orders += 1
            self.env.process(self.curtail())

    def curtail(self) -> Generator[simpy.Event, Any, None]:
        """An order: emitters cut their emission by the share after the delay, for the duration."""
        env = self.env
        yield env.timeout(self.delay)
        self._advance(env.now)
        self.active = True
        yield env.timeout(self.duration)
        self._advance(env.now)
        self.active = False

    def weather(self) -> Generator[simpy.Event, Any, None]:
        """Regimes stagnant <-> normal <-> windy with exponential sojourns."""
        env, rng = self.env, self.rng
        while True:
            yield env.timeout(rng.expovariate(1.0 / self.sojourns[self.regime]))
            self._advance(env.now)
            if self.regime == NORMAL:
                self.regime = STAGNANT if rng.random() < self.stagnant_chance else WINDY
            else:
                self.regime = NORMAL
            self.wind = self.speeds[self.regime]

    def probe(self) -> dict[str, float]:
        """Concentration now, the last 24-hour mean and its IAQI, the wind and whether cuts are in force."""
        self._advance(self.env.now)
        return {
            "pm2_5": self.c,
            "pm2_5_24h": self.mean_24h,
            "iaqi_24h": float(self.iaqi_24h),
            "wind_speed": self.wind,
            "curtailed": 1.0 if self.active else 0.0,
        }

    def kpis(self, now: float) -> dict[str, float]:
        """Episode hours, peak and mean concentration, orders and their cost, day categories, mass balance."""
        self._advance(now)
        if now == self.closed + 1:
            self._close_hour(self.closed + 1)  # the run stops before the event of its last hour
        span = now - self.warmup
        return {
            "mean_pm2_5": self.area / span,
            "peak_pm2_5_24h": self.peak_mean,
            "peak_iaqi_24h": float(self.peak_iaqi),
            "hours_iaqi_over_100": float(self.over_100),
            "hours_iaqi_over_200": float(self.over_200),
            "curtailment_orders": float(self.orders),
            "curtailment_hours": self.curtailed_time,
            "curtailed_emission_share": 1.0 - self.emitted / self.uncontrolled if self.uncontrolled else 0.0,
            **{k: float(v) for k, v in self.days.items()},
            "stagnant_share": self.stagnant_time / span,
            "mean_wind_speed": self.wind_area / span,
            "emitted": self.emitted,
            "ventilated": self.ventilated,
            "deposited": self.deposited,
            "storage_change": self.height * (self.c - self.c_start),
        }


def stationary_shares(params: dict[str, Any]) -> list[float]:
    """Long-run share of time in each regime (stagnant, normal, windy) of the semi-Markov weather."""
    p = float(params["stagnant_chance"])
    # the embedded jump chain: normal -> stagnant (p) or windy (1 - p), both back to normal
    visits = [p / 2, 0.5, (1 - p) / 2]
    weights = [v * m for v, m in zip(visits, params["regime_hours"], strict=True)]
    return [w / math.fsum(weights) for w in weights]


def _check(params: dict[str, Any]) -> list[dict[str, str]]:
    errors = []
    if params["warmup"] >= params["horizon"]:
        errors.append({"param": "warmup", "reason": "must be shorter than the horizon"})
    if params["hj633_edition"] not in (2012, 2026):
        errors.append(
            {"param": "hj633_edition", "reason": "must be 2012 or 2026 (HJ 633-2012 or HJ 633-2026)"}
        )
    if math.fsum(params["diurnal_profile"]) <= 0:
        errors.append({"param": "diurnal_profile", "reason": "must have at least one hour with emission"})
    if params["curtailment_share"] > 0 and params["trigger_iaqi"] >= 500:
        errors.append(
            {
                "param": "trigger_iaqi",
                "reason": "the IAQI never exceeds 500: use curtailment_share 0 for no control",
            }
        )
    return errors


def _concentration(value: Any) -> TypeGuard[int | float]:
    # a huge int is compared exactly: converting it to float would overflow
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= MAX_CONCENTRATION


def _check_state(params: dict[str, Any], state: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"param": key, "reason": f"must be a concentration 0..{MAX_CONCENTRATION:g} ug/m3"}
        for key in ("concentration", "mean_24h")
        if key in state and not _concentration(state[key])
    ]


def _from_twins(twins: list[dict[str, Any]]) -> dict[str, Any]:
    # the box is well mixed: its concentration is the mean of the stations' latest PM2.5; a reading
    # outside the stations' range (or not a number) is no reading
    readings = [float(t["pm2_5"]) for t in twins if _concentration(t.get("pm2_5"))]
    return {"concentration": math.fsum(readings) / len(readings)} if readings else {}


def _workload(params: dict[str, Any]) -> float:
    changes = 0.0 if params["wind_sequence"] else 1.0 / min(params["regime_hours"])
    # orders are decided on the hour, one at a time: at most one per hour, or per order length
    orders = 1.0 / max(1.0, params["response_delay"] + params["curtailment_duration"])
    orders = orders if params["curtailment_share"] > 0 else 0.0
    return float(params["horizon"]) * (HOUR_COST + CHANGE_COST * changes + ORDER_COST * orders)


EPISODE_CONTROL = ScenarioKind(
    name="environment.episode_control",
    title="PM2.5 episode control",
    description="PM2.5 in a well-mixed urban box under changing weather; above an HJ 633 trigger on the "
    "24-hour mean the authority orders emission cuts after a response delay.",
    schema=Schema(
        (
            Param(
                "emission_base",
                "number",
                22_000.0,
                "ug/(m2.h)",
                "daily mean PM2.5 emission flux (primary and secondary) over the city",
                minimum=0,
                maximum=1e7,
            ),
            Param(
                "diurnal_profile",
                "array",
                DIURNAL,
                "",
                "relative emission of each hour of the day (00-01 h first), scaled to a mean of 1",
                minimum=0,
                maximum=100,
                min_items=24,
                max_items=24,
            ),
            Param("mixing_height", "number", 800.0, "m", "mixing layer height H", minimum=10, maximum=5000),
            Param(
                "box_length",
                "number",
                20_000.0,
                "m",
                "city length L along the wind",
                minimum=100,
                maximum=5e5,
            ),
            Param(
                "deposition_rate", "number", 0.005, "1/h", "dry deposition rate k_d", minimum=0, maximum=10
            ),
            Param(
                "wind_speeds",
                "array",
                [0.8, 3.0, 6.0],
                "m/s",
                "mean wind speed in the stagnant, normal and windy regimes",
                minimum=MIN_WIND,
                maximum=60,
                min_items=3,
                max_items=3,
            ),
            Param(
                "regime_hours",
                "array",
                [48.0, 72.0, 36.0],
                "h",
                "mean sojourn (exponential) in the stagnant, normal and windy regimes",
                minimum=0.1,
                maximum=10_000,
                min_items=3,
                max_items=3,
            ),
            Param(
                "stagnant_chance",
                "number",
                0.5,
                "",
                "probability that the normal regime turns stagnant (otherwise windy)",
                minimum=0,
                maximum=1,
            ),
            Param(
                "wind_sequence",
                "array",
                [],
                "m/s",
                "hourly wind speeds replayed in a loop from t = 0 instead of the regimes (empty: regimes)",
                minimum=MIN_WIND,
                maximum=60,
                min_items=0,
                max_items=8784,
            ),
            Param(
                "trigger_iaqi",
                "integer",
                150,
                "",
                "HJ 633 IAQI of the 24-hour mean above which an order is issued (150: moderately polluted)",
                minimum=0,
                maximum=500,
            ),
            Param(
                "curtailment_share",
                "number",
                0.3,
                "",
                "share of the emission cut while an order is in force (0: no control)",
                minimum=0,
                maximum=1,
            ),
            Param(
                "response_delay",
                "number",
                12.0,
                "h",
                "from the order to the cuts taking effect",
                minimum=0,
                maximum=720,
            ),
            Param(
                "curtailment_duration",
                "number",
                72.0,
                "h",
                "how long the cuts stay in force",
                exclusive_minimum=0,
                maximum=8760,
            ),
            Param(
                "hj633_edition",
                "integer",
                2026,
                "",
                "HJ 633 edition that scores the 24-hour mean: 2012 or 2026",
                minimum=2012,
                maximum=2026,
            ),
            Param(
                "horizon",
                "integer",
                2160,
                "h",
                "simulated time from midnight",
                minimum=24,
                maximum=100_000_000,
            ),
            Param("warmup", "integer", 48, "h", "initial period left out of the statistics", minimum=0),
        )
    ),
    build=Box,
    kpi_units={
        "mean_pm2_5": "ug/m3",
        "peak_pm2_5_24h": "ug/m3",
        "peak_iaqi_24h": "",
        "hours_iaqi_over_100": "h",
        "hours_iaqi_over_200": "h",
        "curtailment_orders": "orders",
        "curtailment_hours": "h",
        "curtailed_emission_share": "",
        **dict.fromkeys(CATEGORY_KPIS, "d"),
        "stagnant_share": "",
        "mean_wind_speed": "m/s",
        "emitted": "ug/m2",
        "ventilated": "ug/m2",
        "deposited": "ug/m2",
        "storage_change": "ug/m2",
    },
    state_fields=(
        StateField("concentration", "PM2.5 at the start (ug/m3; the mean over the stations' twins)", "pm2_5"),
        StateField(
            "mean_24h",
            "24-hour mean PM2.5 before the start (ug/m3; default: the starting concentration); "
            "give it explicitly, a twin holds only its latest reading",
            "",
        ),
    ),
    check=_check,
    check_state=_check_state,
    state_from_twins=_from_twins,
    workload=_workload,
)

SCENARIOS: tuple[ScenarioKind, ...] = (EPISODE_CONTROL,)
