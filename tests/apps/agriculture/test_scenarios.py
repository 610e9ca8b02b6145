"""``agriculture.irrigation_season``: FAO-56 day loop, water balance, pump queue, rain, twins, API."""

from __future__ import annotations

import asyncio
import heapq
import math
import random
import re
import time
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import simpy

from iplus.apps.agriculture.farm_sim import daily_et0
from iplus.apps.agriculture.models import SOIL_PROBE, THING_MODELS
from iplus.apps.agriculture.scenarios import KIND, Season
from iplus.apps.agriculture.weather import typical_year
from iplus.apps.registry import register_scenarios
from iplus.config import Settings
from iplus.core.clock import utcnow
from iplus.core.errors import InvalidInput
from iplus.engines.sim import kind, plan, run_inline, run_replication, validate
from iplus.infra.telemetry import Message, to_us
from iplus.platform.context import Context
from tests.api.helpers import PASSWORD, assert_problem, tenant
from tests.sim_engine.runs import finished


@pytest.fixture(autouse=True)
def registered() -> None:
    assert KIND in register_scenarios()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """One compute worker: it imports this domain's module once, and the run needs no more."""
    return Settings(
        var_dir=tmp_path / "var", broker_url="embedded://127.0.0.1:0", compute_url="local://?workers=1"
    )


def season(
    params: dict[str, Any], seed: int = 1, state: dict[str, Any] | None = None
) -> tuple[Season, dict[str, float]]:
    """Run one replication keeping the model, to read its daily depletions and its pump log."""
    values = validate(KIND, params, state)
    env = simpy.Environment()
    model = cast(Season, kind(KIND).build(env, values, random.Random(seed), state or {}))
    model.trace = True  # keep the pump log and the daily depletions to check them
    env.run(until=values["horizon"])
    return model, model.kpis(values["horizon"])


# three contrasting fields: maize on a silt loam, tomato on a loam, and a shallow-rooted crop on sand whose
# root zone (TAW 5 mm) a hot day can empty, so the Eq. 86 bound Dr <= TAW is reached
FIELDS: dict[str, list[float]] = {
    "areas": [6.0, 4.0, 0.5],
    "theta_fc": [0.32, 0.30, 0.15],
    "theta_wp": [0.14, 0.13, 0.10],
    "root_depth": [0.5, 0.6, 0.1],
    "p_table": [0.55, 0.40, 0.50],
    "kc": [1.20, 1.15, 1.05],
    "initial_depletion": [0.7, 0.15, 0.0],
}
DRY = {"wet_day_probability": 0.0, "mean_rain": 0.0}


def fao56_days(
    fc: float,
    wp: float,
    zr: float,
    p_table: float,
    kc: float,
    et0: float,
    dr0: float,
    factor: float,
    days: int,
) -> tuple[list[float], list[int], int, float, float]:
    """FAO-56 ch. 8 by hand: daily Dr, days irrigated, stress days, sum ETc, sum ETc adj (no rain)."""
    taw = 1000 * (fc - wp) * zr  # Eq. 82
    dr, due = dr0, 0.0
    daily: list[float] = []
    irrigated: list[int] = []
    stress, etc_sum, etc_adj_sum = 0, 0.0, 0.0
    for d in range(days):
        etc = kc * et0
        p = min(0.8, max(0.1, p_table + 0.04 * (5 - etc)))  # Table 22 footnote
        raw = p * taw  # Eq. 83
        ks = 1.0 if dr <= raw else (taw - dr) / ((1 - p) * taw)  # Eq. 84
        stress += ks < 1
        irrigation, due = due, 0.0
        if irrigation:
            irrigated.append(d)
        et = ks * etc  # Eq. 80
        new = dr - irrigation + et  # Eq. 85; what goes below zero drains as DP (Eq. 88)
        new = max(0.0, new)
        if new > taw:  # Eq. 86: the root zone gives no more than it holds
            et -= new - taw
            new = taw
        etc_sum += etc
        etc_adj_sum += et
        dr = new
        daily.append(dr)
        if dr >= factor * raw:  # irrigate the next day, back to field capacity
            due = dr
    return daily, irrigated, stress, etc_sum, etc_adj_sum


@pytest.mark.parametrize("factor", [0.8, 1.0, 1.3])
def test_a_dry_season_with_an_ample_pump_is_the_fao56_day_loop(factor: float) -> None:
    params = {
        **FIELDS,
        **DRY,
        "et0": 6.5,
        "trigger_factor": factor,
        "pumps": 3,
        "pump_flow": 50_000.0,
        "horizon": 60,
    }
    model, kpis = season(params)
    assert kpis == run_replication(KIND, validate(KIND, params), 1).kpis
    for i, f in enumerate(model.fields):
        dr0 = FIELDS["initial_depletion"][i] * 1000 * (FIELDS["theta_fc"][i] - FIELDS["theta_wp"][i])
        dr0 *= FIELDS["root_depth"][i]
        daily, irrigated, stress, etc, etc_adj = fao56_days(
            FIELDS["theta_fc"][i],
            FIELDS["theta_wp"][i],
            FIELDS["root_depth"][i],
            FIELDS["p_table"][i],
            FIELDS["kc"][i],
            et0=6.5,
            dr0=dr0,
            factor=factor,
            days=60,
        )
        assert len(f.daily) == 60
        assert max(abs(a - b) for a, b in zip(f.daily, daily, strict=True)) < 1e-9
        # an irrigation asked for at the end of day d runs at once and counts on day d + 1
        assert sorted(int(j.start) for j in model.log if j.field == i and j.start is not None) == irrigated
        n = i + 1
        assert kpis[f"f{n}_irrigations"] == len(irrigated) > 0
        assert kpis[f"f{n}_stress_days"] == stress
        assert kpis[f"f{n}_etc_mm"] == pytest.approx(etc, abs=1e-9)
        assert kpis[f"f{n}_etc_adj_mm"] == pytest.approx(etc_adj, abs=1e-9)
    assert kpis["mean_wait_h"] == kpis["max_wait_h"] == 0.0
    # the tomato field starts moist: refilled before its depletion reaches RAW it never stresses
    if factor == 0.8:
        assert kpis["f2_stress_days"] == 0 and kpis["f2_relative_transpiration"] == 1.0
    else:
        assert kpis["f2_stress_days"] > 0 and kpis["f2_relative_transpiration"] < 1.0
    # the shallow sand reaches TAW on its first day: Eq. 86 caps Dr and ETc adj
    taw_sand = 1000 * (0.15 - 0.10) * 0.1
    assert model.fields[2].daily[0] == pytest.approx(taw_sand)


def assert_balance_closes(kpis: dict[str, float], n_fields: int, areas: list[float]) -> None:
    """sum(P - RO) + sum(I) - sum(ETc adj) - sum(DP) = Dr start - Dr end, per field and for the farm."""
    farm_in = farm_out = 0.0
    for n in range(1, n_fields + 1):
        inflow = kpis[f"f{n}_effective_rain_mm"] + kpis[f"f{n}_irrigation_mm"]
        outflow = kpis[f"f{n}_etc_adj_mm"] + kpis[f"f{n}_deep_percolation_mm"]
        change = kpis[f"f{n}_start_depletion_mm"] - kpis[f"f{n}_end_depletion_mm"]
        assert abs(inflow - outflow - change) < 1e-9
        farm_in += areas[n - 1] * inflow
        farm_out += areas[n - 1] * (outflow + change)
        assert kpis[f"f{n}_effective_rain_mm"] == pytest.approx(kpis["rain_mm"] - kpis["runoff_mm"], abs=1e-9)
    assert abs(farm_in - farm_out) < 1e-9 * sum(areas)
    area = sum(areas)
    irrigation = sum(a * kpis[f"f{n}_irrigation_mm"] for n, a in enumerate(areas, 1))
    assert kpis["irrigation_mm"] == pytest.approx(irrigation / area, rel=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_water_balance_closes_for_every_field_and_the_season(seed: int) -> None:
    # heavy storms (some run off), a small pump (fields wait; irrigations cross midnight), probes at the start
    params = {
        **FIELDS,
        "wet_day_probability": 0.25,
        "mean_rain": 20.0,
        "infiltration_limit": 30.0,
        "pump_flow": 25.0,
        "horizon": 150,
        "warmup": 0 if seed == 1 else 40,  # with a warm-up the balance covers the measured days only
    }
    state = {"soil_moisture": [0.2, None, 0.16]}
    model, kpis = season(params, seed, state)
    assert kpis["runoff_mm"] > 0 and kpis["max_wait_h"] > 24
    assert any(j.end is not None and j.start is not None and int(j.start) != int(j.end) for j in model.log)
    assert_balance_closes(kpis, 3, FIELDS["areas"])
    # the pump's water is the soil's: what the fields received is what the started irrigations delivered
    # by the end of the season (the last one may still run)
    horizon, warmup = 150, (0 if seed == 1 else 40)
    for i, f in enumerate(model.fields):
        delivered = 0.0
        for j in model.log:
            if j.field == i and j.net > 0 and j.start is not None and j.end is not None:
                inside = max(0.0, min(j.end, horizon) - max(j.start, warmup))
                delivered += j.net * inside / (j.end - j.start)
        assert f.irrigation == pytest.approx(delivered, abs=1e-9)
    volume = sum(f.irrigation * f.area * 10 for f in model.fields) / 0.9
    assert kpis["irrigation_m3"] == pytest.approx(volume, rel=1e-12)


def test_identical_fields_queue_for_one_pump_in_turn() -> None:
    # TAW 100 mm, ETc 5 mm/d, p 0.5: Dr 48 mm at the start, 53 mm (>= RAW 50) at the end of day 0; all four
    # fields ask at t = 1 d and the pump refills them one after another, 53 mm each
    n = 4
    params = {
        "areas": [1.0] * n,
        "theta_fc": [0.3] * n,
        "theta_wp": [0.1] * n,
        "root_depth": [0.5] * n,
        "p_table": [0.5] * n,
        "kc": [1.0] * n,
        "initial_depletion": [0.48] * n,
        "et0": 5.0,
        **DRY,
        "pump_flow": 120.0,
        "horizon": 3,
    }
    model, kpis = season(params)
    duration = 53.0 * 1.0 * 10 / (120.0 * 0.9)  # h: net depth x area / (pump flow x efficiency)
    assert [j.net for j in model.log] == pytest.approx([53.0] * n, abs=1e-12)
    waits = [(j.start - j.requested) * 24 for j in model.log if j.start is not None]
    assert waits == pytest.approx([k * duration for k in range(n)], abs=1e-9)
    assert kpis["mean_wait_h"] == pytest.approx(duration * (n - 1) / 2, abs=1e-9)
    assert kpis["max_wait_h"] == pytest.approx(duration * (n - 1), abs=1e-9)
    assert kpis["pump_hours"] == pytest.approx(n * duration, abs=1e-9)
    assert kpis["pump_utilisation"] == pytest.approx(n * duration / (24 * 3), abs=1e-12)
    assert kpis["irrigation_m3"] == pytest.approx(n * 53.0 * 10 / 0.9, rel=1e-12)


def fifo_pumps(jobs: list[tuple[float, float]], pumps: int) -> list[float]:
    """Start times of (request time, duration) jobs served first come first served by ``pumps`` pumps."""
    free = [0.0] * pumps
    starts = []
    for requested, duration in jobs:
        start = max(requested, heapq.heappop(free))
        starts.append(start)
        heapq.heappush(free, start + duration)
    return starts


def test_a_small_pump_station_is_busy_exactly_for_the_irrigations_it_runs() -> None:
    areas = [5.0, 3.0, 4.0, 2.0, 6.0]
    params = {
        "areas": areas,
        "theta_fc": [0.32, 0.30, 0.28, 0.33, 0.31],
        "theta_wp": [0.14, 0.13, 0.12, 0.15, 0.14],
        "root_depth": [0.5, 0.6, 0.4, 0.7, 0.5],
        "p_table": [0.55, 0.40, 0.50, 0.45, 0.60],
        "kc": [1.20, 1.15, 1.05, 1.10, 1.00],
        "initial_depletion": [0.7, 0.15, 0.4, 0.0, 0.55],
        "et0": 6.0,
        "pumps": 2,
        "pump_flow": 30.0,
        "application_efficiency": 0.85,
        "horizon": 120,
        "warmup": 10,
    }
    model, kpis = season(params, seed=5)
    horizon, warmup = 120, 10
    assert kpis["max_wait_h"] > 24
    # durations from the net depths: net x area x 10 m3/(mm ha) / (flow x efficiency), in days
    jobs = [
        (j.requested, j.net * areas[j.field] * 10 / (30.0 * 0.85) / 24)
        for j in model.log
        if j.start is not None
    ]
    starts = [j.start for j in model.log if j.start is not None]
    assert starts == pytest.approx(fifo_pumps(jobs, 2), abs=1e-9)
    assert all(j.start is None for j in model.log[len(starts) :])  # only the last requests still wait
    busy = sum(
        max(0.0, min(s + d, horizon) - max(s, warmup)) * 24 for s, (_, d) in zip(starts, jobs, strict=True)
    )
    assert kpis["pump_hours"] == pytest.approx(busy, abs=1e-9)
    assert kpis["pump_utilisation"] == pytest.approx(busy / (24 * (horizon - warmup) * 2), abs=1e-12)
    assert_balance_closes(kpis, 5, areas)
    # the same weather with a pump station large enough: no waiting, less stress
    ample = season({**params, "pumps": 5, "pump_flow": 5000.0}, seed=5)[1]
    assert ample["rain_mm"] == kpis["rain_mm"]
    assert ample["max_wait_h"] == 0 and ample["stress_days"] < kpis["stress_days"]
    assert ample["relative_transpiration"] > kpis["relative_transpiration"]


def test_season_rain_and_runoff_match_their_expectations() -> None:
    # wet with probability q, exponential depth of mean m: E[rain] = H q m; what exceeds the infiltration
    # limit T runs off, E[(X - T)+] = m exp(-T / m) per wet day
    q, m, limit, horizon = 0.3, 12.0, 25.0, 365
    experiment = plan(
        KIND,
        {"wet_day_probability": q, "mean_rain": m, "infiltration_limit": limit, "horizon": horizon},
        seed=11,
        replications=40,
    )
    (point,) = run_inline(experiment)
    for key, expected in (
        ("rain_mm", horizon * q * m),
        ("runoff_mm", horizon * q * m * math.exp(-limit / m)),
    ):
        stats = point.kpis[key]
        assert stats["sd"] is not None and stats["ci95"] is not None
        standard_error = stats["sd"] / math.sqrt(40)
        assert abs(cast(float, stats["mean"]) - expected) < 3.3 * standard_error, (key, stats, expected)
        assert stats["ci95"] < 0.15 * expected
    no_rain = run_replication(KIND, validate(KIND, {"mean_rain": 0.0}), 3).kpis
    assert no_rain["rain_mm"] == no_rain["runoff_mm"] == 0.0


def test_the_same_seed_gives_the_same_season() -> None:
    params = validate(KIND, {"horizon": 90})
    a, b = run_replication(KIND, params, 7), run_replication(KIND, params, 7)
    assert a.kpis == b.kpis and a.series == b.series
    assert run_replication(KIND, params, 8).kpis["rain_mm"] != a.kpis["rain_mm"]
    assert set(a.series) == {"t", "f1_depletion", "f2_depletion", "waiting", "pumps_busy"}


def test_typical_year_et0_drives_the_crop_demand_and_wraps_round_the_year() -> None:
    et0 = daily_et0(typical_year())
    days = [(299 + d) % 365 for d in range(100)]  # from 27 October, past 31 December
    kpis = run_replication(
        KIND, validate(KIND, {"et0_source": "typical_year", "start_day": 300, "horizon": 100, **DRY}), 1
    ).kpis
    for n, kc in ((1, 1.20), (2, 1.15)):
        assert kpis[f"f{n}_etc_mm"] == pytest.approx(kc * math.fsum(et0[d] for d in days), rel=1e-12)
    assert_balance_closes(kpis, 2, [6.0, 4.0])


def test_probe_twins_set_the_starting_depletion() -> None:
    scenario = kind(KIND)
    twins = [
        {"soil_moisture": 0.2, "soil_temperature": 21.0},
        {"soil_temperature": 20.0},
        {"soil_moisture": 0.5},
    ]
    state = scenario.state_from_twins(twins)
    assert state == {"soil_moisture": [0.2, None, 0.5]}
    assert scenario.state_from_twins([{"soil_temperature": 20.0}]) == {}
    assert [f.twin_property for f in scenario.state_fields] == ["soil_moisture"]
    assert "soil_moisture" in THING_MODELS[SOIL_PROBE]["properties"]
    _, kpis = season({**FIELDS, "horizon": 1}, state=state)
    assert kpis["f1_start_depletion_mm"] == pytest.approx(1000 * (0.32 - 0.2) * 0.5)  # Dr = 1000 (θFC - θ) Zr
    assert kpis["f2_start_depletion_mm"] == pytest.approx(0.15 * 1000 * (0.30 - 0.13) * 0.6)  # no reading
    assert kpis["f3_start_depletion_mm"] == 0.0  # wetter than field capacity: no depletion


def test_bad_parameters_are_refused_with_every_reason() -> None:
    def reasons(params: dict[str, Any], state: dict[str, Any] | None = None) -> dict[str, str]:
        with pytest.raises(InvalidInput) as caught:
            validate(KIND, params, state)
        return {e["param"]: e["reason"] for e in caught.value.extra["errors"]}

    got = reasons({"areas": [1.0, -2.0], "pumps": 0, "speed": 3, "et0_source": 2})
    assert set(got) == {"areas", "pumps", "speed", "et0_source"}
    assert "item 1: must be > 0 ha" in got["areas"] and "unknown parameter" in got["speed"]
    assert got["et0_source"] == "must be one of constant, typical_year, got 2"
    got = reasons({"areas": [1.0, 2.0, 3.0]})
    assert set(got) == set(FIELDS) - {"areas"}
    assert "one entry per field (3, as in areas)" in got["kc"]
    got = reasons({"theta_wp": [0.14, 0.35]})
    assert got == {"theta_wp": "field 2: 0.35 must be below theta_fc 0.3"}
    assert reasons({"warmup": 120}) == {"warmup": "must be shorter than the horizon"}
    got = reasons({"trigger_factor": 1.5})
    assert "trigger lies at or beyond TAW" in got["trigger_factor"]
    validate(KIND, {"trigger_factor": 1.3})  # 1.3 x (0.55 + 0.2) < 1
    # 50 fields over 200,000 days: 200,000 x (2 x 50 + 1) = 20.2 million steps
    got = reasons({**{k: (v * 17)[:50] for k, v in FIELDS.items()}, "horizon": 200_000})
    assert "entity visits" in got["horizon"]
    for bad in ([0.2, 1.5], [0.1, 0.2, 0.3], "wet", [True]):
        assert (
            "volumetric water contents" in reasons({}, {"soil_moisture": bad})["initial_state.soil_moisture"]
        )
    assert "unknown" in reasons({}, {"queue_length": 3})["initial_state.queue_length"]


async def test_the_season_runs_through_the_api_from_the_probes_twins(
    ctx: Context, client: httpx.AsyncClient
) -> None:
    t = await tenant(ctx, client, "Farm Co", ["user"])
    described = {
        k["kind"]: k for k in (await client.get("/api/v1/simulation/scenarios", headers=t.auth)).json()
    }
    schema = described[KIND]["parameters"]["properties"]
    assert schema["pump_flow"]["unit"] == "m3/h" and schema["horizon"]["unit"] == "d"
    assert described[KIND]["kpis"]["mean_wait_h"] == "h"
    await ctx.telemetry.open()
    probe_type = await client.post(
        "/api/v1/device-types",
        headers=t.auth,
        json={"name": SOIL_PROBE, "thing_model": THING_MODELS[SOIL_PROBE]},
    )
    assert probe_type.status_code == 201, probe_type.text
    now = to_us(utcnow())
    for device_id, theta in (("probe-north", 0.194), ("probe-south", 0.28)):
        r = await client.post("/api/v1/devices", headers=t.auth, json={"type": SOIL_PROBE, "id": device_id})
        assert r.status_code == 201, r.text
        await ctx.telemetry.append(
            [Message(t.org_id, probe_type.json()["id"], device_id, None, [("soil_moisture", now, theta)])]
        )
    body = {
        "kind": KIND,
        "params": {"horizon": 60, "pump_flow": 60.0},
        "replications": 2,
        "device_ids": ["probe-north", "probe-south"],
    }
    r = await client.post("/api/v1/simulation/runs", headers=t.auth, json=body)
    assert r.status_code == 202, r.text
    assert r.json()["initial_state"] == {"soil_moisture": [0.194, 0.28]}
    deadline = time.monotonic() + 60
    while (run := (await client.get(f"/api/v1/simulation/runs/{r.json()['id']}", headers=t.auth)).json())[
        "status"
    ] not in {"succeeded", "failed"}:
        assert time.monotonic() < deadline, run
        await asyncio.sleep(0.1)
    assert run["status"] == "succeeded", run
    kpis = run["results"][0]["kpis"]
    # the North field's probe: Dr = 1000 (0.32 - 0.194) 0.5 = 63 mm, as the demo's decision page shows
    assert kpis["f1_start_depletion_mm"]["mean"] == pytest.approx(63.0)
    assert kpis["f2_start_depletion_mm"]["mean"] == pytest.approx(1000 * (0.30 - 0.28) * 0.6)
    assert kpis["pump_utilisation"]["ci95"] is not None
    assert {"f1_depletion", "f2_depletion", "waiting", "pumps_busy"} <= set(run["results"][0]["series"])
    # the portal offers the kind with its parameters and units, and shows the run's KPIs
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get("/login")).text)
    assert csrf
    login = {"email": t.email, "password": PASSWORD, "csrf_token": csrf.group(1)}
    assert (await client.post("/login", data=login)).status_code == 303
    page = (await client.get("/portal/simulation")).text
    assert f'data-kind="{KIND}"' in page and f'name="p.{KIND}.pump_flow"' in page and "m3/h" in page
    shown = await client.get(f"/portal/simulation/runs/{r.json()['id']}")
    assert shown.status_code == 200 and "pump_utilisation" in shown.text
    # a choice parameter is a drop-down; the form sends the word picked
    assert f'<select id="p.{KIND}.et0_source" name="p.{KIND}.et0_source">' in page
    assert '<option value="constant" selected>' in page and '<option value="typical_year">' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    form = {"csrf_token": token.group(1), "kind": KIND, "seed": "1", "replications": "1"}
    form |= {f"p.{KIND}.horizon": "20", f"p.{KIND}.et0_source": "typical_year"}
    started = await client.post("/portal/simulation/runs", data=form)
    assert started.status_code == 303, started.text
    from_form = await finished(client, t.auth, started.headers["location"].rsplit("/", 1)[-1])
    assert from_form["status"] == "succeeded", from_form
    assert from_form["results"][0]["params"]["et0_source"] == "typical_year"
    bad = {"kind": KIND, "params": {"trigger_factor": 1.9, "areas": [1.0]}}
    problem = assert_problem(await client.post("/api/v1/simulation/runs", headers=t.auth, json=bad), 422)
    assert {e["param"] for e in problem["errors"]} >= {"kc", "theta_fc"}  # type: ignore[attr-defined]


class _Counting(simpy.Environment):
    """Counts the events a run processes."""

    processed = 0

    def step(self) -> None:
        self.processed += 1
        super().step()


def _uniform(n: int, **more: Any) -> dict[str, Any]:
    """``n`` identical fields (TAW 100 mm) and the rest of the parameters."""
    fields = {"areas": 1.0, "theta_fc": 0.3, "theta_wp": 0.1, "root_depth": 0.5, "p_table": 0.5, "kc": 1.0}
    return {k: [v] * n for k, v in fields.items()} | {"initial_depletion": [0.5] * n} | more


@pytest.mark.parametrize(
    "given",
    [
        {},
        # a trigger just above zero: every field asks for a pump at the end of every day
        _uniform(10, trigger_factor=0.01, pumps=100, pump_flow=1e5, **DRY),
    ],
)
def test_the_workload_estimate_bounds_the_events_of_a_run(given: dict[str, Any]) -> None:
    # the estimate caps one replication's CPU time: each event costs a couple of µs (a balance step about as
    # much), and the engine refuses estimates above 20 million
    params = validate(KIND, {**given, "horizon": 400})
    env = _Counting()
    model = cast(Season, kind(KIND).build(env, params, random.Random(1), {}))
    env.run(until=params["horizon"])
    days, fields = params["horizon"], len(params["areas"])
    assert env.processed + days * fields <= kind(KIND).workload(params)
    if given:
        assert model.kpis(days)["irrigations"] >= 0.99 * days * fields  # the case is the heavy one


def test_a_long_season_keeps_no_per_irrigation_record() -> None:
    # KPIs are summed as the season runs: a record per irrigation or day would grow with the horizon (a
    # million-day season of ten fields held over a gigabyte)
    params = validate(KIND, _uniform(3, trigger_factor=0.01, horizon=2000, **DRY))
    env = simpy.Environment()
    model = cast(Season, kind(KIND).build(env, params, random.Random(1), {}))
    env.run(until=params["horizon"])
    kpis = model.kpis(params["horizon"])
    assert kpis["irrigations"] > 5000
    assert model.log == [] and all(len(f.daily) == 0 for f in model.fields)
    assert kpis == season(params)[1]  # the same numbers as a traced run


def test_the_smallest_pump_and_efficiency_are_floors() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate(KIND, {"pump_flow": 5e-324, "application_efficiency": 5e-324})
    reasons = {e["param"]: e["reason"] for e in caught.value.extra["errors"]}
    assert reasons == {
        "pump_flow": "must be >= 0.1 m3/h, got 5e-324",
        "application_efficiency": "must be >= 0.1, got 5e-324",
    }
    # at the floors a large field takes years to water: the season still ends with finite numbers
    params = {"areas": [10_000.0, 1.0], "pump_flow": 0.1, "application_efficiency": 0.1, "horizon": 30}
    kpis = run_replication(KIND, validate(KIND, params), 1).kpis
    assert all(math.isfinite(v) for v in kpis.values()) and kpis["pump_utilisation"] > 0.9


def test_unusable_probe_readings_count_as_no_reading() -> None:
    garbage = [10**400, float("nan"), float("inf"), 1.5, -0.1, "0.2", True, [0.2], None]
    assert kind(KIND).state_from_twins([{"soil_moisture": g} for g in garbage]) == {}
    state = kind(KIND).state_from_twins([{"soil_moisture": 10**400}, {"soil_moisture": 0.25}])
    assert state == {"soil_moisture": [None, 0.25]}
    validate(KIND, {}, state)
    with pytest.raises(InvalidInput, match="volumetric water contents"):
        validate(KIND, {}, {"soil_moisture": [10**400, None]})
