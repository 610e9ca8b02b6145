"""``environment.episode_control``: exact box-model solutions, an hour-by-hour recomputation with control,
mass balance, the weather chain's long-run shares, refusals with reasons, and a run through the API."""

from __future__ import annotations

import itertools
import math
import random
import re
from collections import deque
from fractions import Fraction
from typing import Any

import httpx
import pytest
import simpy

from iplus.apps.environment.models import AIR_STATION
from iplus.apps.registry import register_scenarios
from iplus.core.clock import utcnow
from iplus.core.errors import InvalidInput
from iplus.engines.sim import kind, plan, run_inline, run_replication, validate
from iplus.infra.telemetry import Message, to_us
from iplus.platform.context import Context
from tests.api.helpers import PASSWORD, assert_problem, tenant
from tests.sim_engine.runs import finished

KIND = "environment.episode_control"


@pytest.fixture(autouse=True)
def _registered() -> None:
    register_scenarios()


def _box(p: dict[str, Any]) -> tuple[float, float]:
    """Ventilation + deposition rate (1/h) and the equilibrium concentration (µg/m³) of a flat emission."""
    rate = p["wind"] * 3600 / p["box_length"] + p["deposition_rate"]
    return rate, p["emission_base"] / (p["mixing_height"] * rate)


@pytest.mark.parametrize("weather", ["sequence", "regimes"])
def test_constant_emission_and_wind_approach_the_equilibrium_exactly(weather: str) -> None:
    # with every regime at the same wind, regime changes split the integration at random instants: the
    # exact solution must not notice
    wind = {"wind_sequence": [2.5]} if weather == "sequence" else {"wind_speeds": [2.5, 2.5, 2.5]}
    given = {
        "emission_base": 15_000.0,
        "diurnal_profile": [1.0] * 24,
        "mixing_height": 600.0,
        "box_length": 15_000.0,
        "deposition_rate": 0.02,
        "regime_hours": [1.0, 2.0, 0.5],
        "curtailment_share": 0.0,
        "horizon": 50,
        "warmup": 0,
        **wind,
    }
    params = validate(KIND, given, {"concentration": 10.0})
    rep = run_replication(KIND, params, seed=5, state={"concentration": 10.0})
    rate, c_star = _box({**params, "wind": 2.5})
    assert c_star == pytest.approx(15_000 / (600 * (2.5 * 3600 / 15_000 + 0.02)))  # 41.67 µg/m³
    for t, c in zip(rep.series["t"], rep.series["pm2_5"], strict=True):
        assert c == pytest.approx(c_star + (10.0 - c_star) * math.exp(-rate * t), rel=1e-9)
    # the time mean over [0, T] of the exponential approach
    horizon = 50.0
    mean = c_star + (10.0 - c_star) * (1 - math.exp(-rate * horizon)) / (rate * horizon)
    assert rep.kpis["mean_pm2_5"] == pytest.approx(mean, rel=1e-9)
    assert rep.kpis["curtailment_orders"] == 0 and rep.kpis["curtailed_emission_share"] == 0


# HJ 633-2012 Table 1, PM2.5 24-hour mean (µg/m³) against IAQI, written out here for the recomputation
PM25_BREAKPOINTS = ((0, 0), (35, 50), (75, 100), (115, 150), (150, 200), (250, 300), (350, 400), (500, 500))
CATEGORY_TOPS = ((50, "excellent"), (100, "good"), (150, "lightly_polluted"), (200, "moderately_polluted"))


def _iaqi_2012(c: float) -> int:
    exact = Fraction(repr(c))
    for (c_lo, i_lo), (c_hi, i_hi) in itertools.pairwise(PM25_BREAKPOINTS):
        if c_lo <= exact <= c_hi:
            return math.ceil(i_lo + (exact - c_lo) * Fraction(i_hi - i_lo, c_hi - c_lo))
    return 500


def _category(iaqi: int) -> str:
    for top, name in CATEGORY_TOPS:
        if iaqi <= top:
            return name
    return "heavily_polluted" if iaqi <= 300 else "severely_polluted"


def _brute_force(p: dict[str, Any], c0: float) -> tuple[list[float], dict[str, float]]:
    """Hour by hour: every input changes on the hour only (whole-hour delay and duration)."""
    flux = [p["emission_base"] * x * 24 / math.fsum(p["diurnal_profile"]) for x in p["diurnal_profile"]]
    seq = p["wind_sequence"]
    c, hours = c0, deque([c0] * 24, maxlen=24)
    iaqi = _iaqi_2012(c0)
    path = [c0]
    cuts: list[tuple[float, float]] = []
    order_end = -math.inf
    out = dict.fromkeys(["orders", "over_100", "over_200", "peak", "peak_iaqi", "cut_hours", "area"], 0.0)
    emitted = uncontrolled = 0.0
    days: dict[str, int] = {}
    for n in range(p["horizon"]):
        # on the hour (and at the start): an order when the last 24-hour mean scores above the trigger
        if iaqi > p["trigger_iaqi"] and n >= order_end:
            start = n + p["response_delay"]
            order_end = start + p["curtailment_duration"]
            cuts.append((start, order_end))
            out["orders"] += n >= p["warmup"]
        measured = n >= p["warmup"]
        cut = any(start <= n < end for start, end in cuts)
        q = flux[n % 24] * (1 - p["curtailment_share"] if cut else 1)
        rate = seq[n % len(seq)] * 3600 / p["box_length"] + p["deposition_rate"]
        c_star = q / (p["mixing_height"] * rate)
        hour_mean = c_star + (c - c_star) * (1 - math.exp(-rate)) / rate
        c = c_star + (c - c_star) * math.exp(-rate)
        path.append(c)
        hours.append(hour_mean)
        mean_24h = sum(hours) / 24
        iaqi = _iaqi_2012(mean_24h)
        if measured:
            out["area"] += hour_mean
            out["over_100"] += iaqi > 100
            out["over_200"] += iaqi > 200
            out["peak"] = max(out["peak"], mean_24h)
            out["peak_iaqi"] = max(out["peak_iaqi"], iaqi)
            out["cut_hours"] += cut
            emitted += q
            uncontrolled += flux[n % 24]
        if (n + 1) % 24 == 0 and n + 1 - 24 >= p["warmup"]:
            # midnight: the moving mean is the day's mean
            days[_category(iaqi)] = days.get(_category(iaqi), 0) + 1
    kpis = {
        "curtailment_orders": out["orders"],
        "hours_iaqi_over_100": out["over_100"],
        "hours_iaqi_over_200": out["over_200"],
        "peak_pm2_5_24h": out["peak"],
        "peak_iaqi_24h": out["peak_iaqi"],
        "curtailment_hours": out["cut_hours"],
        "mean_pm2_5": out["area"] / (p["horizon"] - p["warmup"]),
        "curtailed_emission_share": 1 - emitted / uncontrolled,
        **{f"days_{name}": float(days.get(name, 0)) for name in [c[1] for c in CATEGORY_TOPS]},
        "days_heavily_polluted": float(days.get("heavily_polluted", 0)),
        "days_severely_polluted": float(days.get("severely_polluted", 0)),
    }
    return path, kpis


def test_a_replayed_wind_with_control_matches_an_hour_by_hour_recomputation() -> None:
    # two stagnant spells (0.6 m/s for 60 h) between ordinary and windy days, looped every 8 days
    wind = [3.0] * 30 + [0.6] * 60 + [6.0] * 18 + [3.0] * 36 + [0.6] * 48
    wind += [4.0] * (192 - len(wind))
    given = {
        "wind_sequence": wind,
        "hj633_edition": 2012,
        "trigger_iaqi": 120,
        "curtailment_share": 0.4,
        "response_delay": 6.0,
        "curtailment_duration": 30.0,
        "horizon": 400,
        "warmup": 24,
    }
    state = {"concentration": 40.0}
    params = validate(KIND, given, state)
    rep = run_replication(KIND, params, seed=1, state=state)
    path, expected = _brute_force(params, 40.0)
    # the series is sampled every 2 h, on the hour
    for t, c in zip(rep.series["t"], rep.series["pm2_5"], strict=True):
        assert t == int(t) and c == pytest.approx(path[int(t)], rel=1e-9)
    for key, value in expected.items():
        assert rep.kpis[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
    # the case exercises what it claims to: several orders, severe hours, more than one category
    assert expected["curtailment_orders"] >= 3 and expected["hours_iaqi_over_200"] > 0
    assert sum(1 for k, v in expected.items() if k.startswith("days_") and v > 0) >= 3


@pytest.mark.parametrize(
    "given",
    [
        {},
        {"response_delay": 0.37, "curtailment_duration": 5.5, "trigger_iaqi": 100, "warmup": 7},
        {"curtailment_share": 0.0, "deposition_rate": 0.3, "regime_hours": [0.3, 0.5, 0.2], "horizon": 500},
    ],
)
def test_mass_is_conserved(given: dict[str, Any]) -> None:
    params = validate(KIND, given)
    for seed in (1, 2):
        k = run_replication(KIND, params, seed=seed).kpis
        # emitted = ventilated out of the box + deposited + change in what the box holds (µg/m² of city)
        balance = k["ventilated"] + k["deposited"] + k["storage_change"]
        assert abs(k["emitted"] - balance) <= 1e-9 * k["emitted"]
        assert k["ventilated"] > 0 and k["emitted"] > 0


def test_weather_regimes_spend_the_semi_markov_share_of_time() -> None:
    given = {"regime_hours": [1.5, 1.0, 0.75], "stagnant_chance": 0.3, "horizon": 6000, "warmup": 0}
    point = run_inline(plan(KIND, given, seed=11, replications=8))[0]
    # embedded chain stagnant <- normal -> windy visits in proportions 0.3/2, 1/2, 0.7/2; time share of a
    # regime = visits x mean sojourn, normalised
    weights = [0.15 * 1.5, 0.5 * 1.0, 0.35 * 0.75]
    shares = [w / sum(weights) for w in weights]
    mean, ci95 = point.kpis["stagnant_share"]["mean"], point.kpis["stagnant_share"]["ci95"]
    assert mean is not None and ci95 is not None and ci95 < 0.05 * shares[0]
    # within two half-widths of the 95% interval: a wrong share (e.g. visits only, 0.15) is far outside
    assert abs(mean - shares[0]) <= 2 * ci95
    mean, ci95 = point.kpis["mean_wind_speed"]["mean"], point.kpis["mean_wind_speed"]["ci95"]
    expected = sum(s * u for s, u in zip(shares, [0.8, 3.0, 6.0], strict=True))
    assert mean is not None and ci95 is not None and abs(mean - expected) <= 2 * ci95


def test_same_seed_same_run_and_control_only_lowers_the_concentration() -> None:
    params = validate(KIND, {"horizon": 1500})
    first = run_replication(KIND, params, seed=7)
    assert run_replication(KIND, params, seed=7) == first
    assert run_replication(KIND, params, seed=8).kpis != first.kpis
    free = run_replication(KIND, {**params, "curtailment_share": 0.0}, seed=7)
    # control draws no random numbers: the same weather, so the concentration is lower at every instant
    assert free.series["wind_speed"] == first.series["wind_speed"]
    assert all(c <= f + 1e-9 for c, f in zip(first.series["pm2_5"], free.series["pm2_5"], strict=True))
    assert first.kpis["curtailment_orders"] > 0 and free.kpis["curtailment_orders"] == 0
    assert 0 < first.kpis["curtailed_emission_share"] < 0.3
    assert first.kpis["hours_iaqi_over_200"] < free.kpis["hours_iaqi_over_200"]
    assert first.kpis["hours_iaqi_over_100"] <= free.kpis["hours_iaqi_over_100"]


def test_a_run_starts_from_the_stations_state() -> None:
    scenario = kind(KIND)
    assert scenario.state_from_twins([{"pm2_5": 80}, {"pm2_5": 121.0}, {"pm10": 50}]) == {
        "concentration": 100.5
    }
    assert scenario.state_from_twins([{"pm10": 50}]) == {}
    state = {"concentration": 300.0, "mean_24h": 160.0}
    params = validate(KIND, {"horizon": 48, "warmup": 0, "response_delay": 0.0}, state)
    rep = run_replication(KIND, params, seed=3, state=state)
    assert rep.series["pm2_5"][0] == 300.0 and rep.series["pm2_5_24h"][0] == 160.0
    assert rep.series["iaqi_24h"][0] == 210  # HJ 633 Table 1: 200 + (160 - 150) x (300 - 200) / (250 - 150)
    assert rep.series["curtailed"][0] == 1.0  # IAQI 210 > 150: ordered in the first hour, in force at once


def _reasons(given: dict[str, Any], state: dict[str, Any] | None = None) -> dict[str, str]:
    with pytest.raises(InvalidInput) as info:
        validate(KIND, given, state)
    return {e["param"]: e["reason"] for e in info.value.extra["errors"]}


def test_bad_parameters_are_refused_with_reasons() -> None:
    reasons = _reasons(
        {
            "wind_speeds": [0.0, 3.0, 6.0],
            "wind_sequence": [2.0, -1.0],
            "diurnal_profile": [1.0] * 23,
            "curtailment_share": 1.5,
            "mixing_height": 2,
        }
    )
    assert reasons["wind_speeds"] == "item 0: must be >= 0.1 m/s, got 0.0"
    assert reasons["wind_sequence"] == "item 1: must be >= 0.1 m/s, got -1.0"
    assert reasons["diurnal_profile"] == "must have 24 to 24 items"
    assert reasons["curtailment_share"].startswith("must be <= 1")
    assert reasons["mixing_height"] == "must be >= 10 m, got 2.0"
    reasons = _reasons({"warmup": 100, "horizon": 100, "hj633_edition": 2015, "diurnal_profile": [0.0] * 24})
    assert set(reasons) == {"warmup", "hj633_edition", "diurnal_profile"}
    assert "2012 or 2026" in reasons["hj633_edition"]
    assert "never exceeds 500" in _reasons({"trigger_iaqi": 500})["trigger_iaqi"]
    assert "shorten the horizon" in _reasons({"horizon": 20_000_000})["horizon"]
    state_reasons = _reasons({}, {"concentration": -5, "mean_24h": "high", "aqi": 3})
    assert state_reasons == {
        "initial_state.aqi": "unknown (known: concentration, mean_24h)",
        "initial_state.concentration": "must be a concentration 0..2000 ug/m3",
        "initial_state.mean_24h": "must be a concentration 0..2000 ug/m3",
    }


async def test_through_the_api_from_air_station_twins(ctx: Context, client: httpx.AsyncClient) -> None:
    t = await tenant(ctx, client, "City", ["user"])
    listed = {k["kind"]: k for k in (await client.get("/api/v1/simulation/scenarios", headers=t.auth)).json()}
    schema = listed[KIND]["parameters"]["properties"]
    assert schema["mixing_height"]["unit"] == "m" and schema["response_delay"]["unit"] == "h"
    assert listed[KIND]["kpis"]["mean_pm2_5"] == "ug/m3"
    await ctx.telemetry.open()
    kind_ = await client.post(
        "/api/v1/device-types",
        headers=t.auth,
        json={"name": AIR_STATION.name, "thing_model": AIR_STATION.thing_model()},
    )
    assert kind_.status_code == 201, kind_.text
    now = to_us(utcnow())
    for device_id, pm in {"west": 150.0, "east": 190.0}.items():
        r = await client.post(
            "/api/v1/devices", headers=t.auth, json={"type": AIR_STATION.name, "id": device_id}
        )
        assert r.status_code == 201, r.text
        await ctx.telemetry.append(
            [Message(t.org_id, kind_.json()["id"], device_id, None, [("pm2_5", now, pm)])]
        )
    body = {
        "kind": KIND,
        "params": {"horizon": 240, "warmup": 0},
        "seed": 2,
        "replications": 2,
        "device_ids": ["west", "east"],
        "initial_state": {"mean_24h": 140.0},
    }
    r = await client.post("/api/v1/simulation/runs", headers=t.auth, json=body)
    assert r.status_code == 202, r.text
    assert r.json()["initial_state"] == {"concentration": 170.0, "mean_24h": 140.0}
    done = await finished(client, t.auth, r.json()["id"])
    assert done["status"] == "succeeded", done
    result = done["results"][0]
    assert result["series"]["pm2_5"][0] == 170.0
    assert result["kpis"]["curtailment_orders"]["mean"] >= 1  # 140 µg/m³ scores IAQI 186 > 150 at once
    # the portal's Simulation page offers the kind with its parameters and units
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    await client.post("/login", data={"email": t.email, "password": PASSWORD, "csrf_token": token.group(1)})
    portal = await client.get("/portal/simulation")
    assert portal.status_code == 200 and f'data-kind="{KIND}"' in portal.text
    assert f'name="p.{KIND}.curtailment_duration"' in portal.text
    bad = {"kind": KIND, "params": {"warmup": 300, "horizon": 240, "hj633_edition": 2020}}
    problem = assert_problem(await client.post("/api/v1/simulation/runs", headers=t.auth, json=bad), 422)
    assert {e["param"] for e in problem["errors"]} == {"warmup", "hj633_edition"}  # type: ignore[attr-defined]


class _Counting(simpy.Environment):
    """Counts the events a run processes."""

    processed = 0

    def step(self) -> None:
        self.processed += 1
        super().step()


@pytest.mark.parametrize(
    "given",
    [
        {},
        # a regime change every few minutes
        {"regime_hours": [0.1, 0.1, 0.1]},
        # an order every hour: above a zero trigger at once, over in a moment
        {"trigger_iaqi": 0, "response_delay": 0.0, "curtailment_duration": 0.01},
    ],
)
def test_the_workload_estimate_bounds_the_events_of_a_run(given: dict[str, Any]) -> None:
    # the estimate is what caps one replication's CPU time: every kind of event must be in it (each event
    # costs a couple of µs; the engine refuses estimates above 20 million)
    params = validate(KIND, {**given, "horizon": 3000, "warmup": 0})
    env = _Counting()
    kind(KIND).build(env, params, random.Random(1), {})
    env.run(until=params["horizon"])
    assert env.processed <= kind(KIND).workload(params)


def test_extreme_accepted_parameters_give_finite_numbers() -> None:
    # weights too small to sum without underflow spread the emission like a flat profile
    flat = {"diurnal_profile": [1.0] * 24, "horizon": 100, "warmup": 0}
    tiny = {**flat, "diurnal_profile": [5e-324] * 24}
    assert run_replication(KIND, validate(KIND, tiny), 2) == run_replication(KIND, validate(KIND, flat), 2)
    # the stillest, shallowest, longest box without deposition at the largest emission: 1/tau stays > 0
    still = {
        "wind_speeds": [0.1, 0.1, 0.1],
        "deposition_rate": 0.0,
        "box_length": 5e5,
        "mixing_height": 10.0,
        "emission_base": 1e7,
        "horizon": 100,
        "warmup": 0,
    }
    k = run_replication(KIND, validate(KIND, still), 1).kpis
    assert all(math.isfinite(v) for v in k.values())
    assert abs(k["emitted"] - k["ventilated"] - k["storage_change"]) <= 1e-9 * k["emitted"]
    # below the floor the ventilation rate (and 1/tau with k_d = 0) would reach zero: refused
    reasons = _reasons({**still, "wind_speeds": [5e-324] * 3, "wind_sequence": [0.0]})
    assert reasons["wind_speeds"] == "item 0: must be >= 0.1 m/s, got 5e-324"
    assert reasons["wind_sequence"] == "item 0: must be >= 0.1 m/s, got 0.0"


def test_unusable_station_readings_count_as_no_reading() -> None:
    scenario = kind(KIND)
    garbage = [10**400, 1e308, -5.0, 2500.0, float("nan"), float("inf"), "80", None, True, [80]]
    assert scenario.state_from_twins([{"pm2_5": g} for g in garbage]) == {}
    assert scenario.state_from_twins([{"pm2_5": g} for g in garbage] + [{"pm2_5": 42}]) == {
        "concentration": 42.0
    }
    state_reasons = _reasons({}, {"concentration": 10**400, "mean_24h": float("nan")})
    assert set(state_reasons) == {"initial_state.concentration", "initial_state.mean_24h"}
