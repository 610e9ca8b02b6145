"""``health.escalation_response``: caregivers answering NEWS2 escalations against queueing theory.

Oracles: Erlang C (checked against the M/M/2 closed form and a birth-death chain solved here), Cobham's
non-preemptive priority M/M/c waits (checked against the priority Markov chain solved here), the FIFO
M/M/c wait distribution, and a by-hand list schedule when everything is deterministic.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
import re
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import simpy
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve
from typer.testing import CliRunner

from iplus.app import build_asgi, build_context
from iplus.apps.health.things import WEARABLE_MODEL
from iplus.apps.registry import register_scenarios
from iplus.cli.main import build_cli
from iplus.core.clock import utcnow
from iplus.core.errors import InvalidInput
from iplus.engines.sim import Point, execute, kind, plan, run_inline, run_replication, validate
from iplus.infra.compute.local import LocalCompute
from iplus.infra.telemetry import Message, to_us
from iplus.platform.context import Context
from tests.api.helpers import PASSWORD, assert_problem, tenant
from tests.sim_engine.runs import finished

KIND = "health.escalation_response"
LEVELS = ("high", "medium", "low_medium")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module", autouse=True)
def registered() -> None:
    """The domain's scenario kinds, as the platform registers them at start."""
    assert KIND in register_scenarios()


# --- the oracles, written from the textbook formulas -------------------------------------------------


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load a = lambda / mu (Erlang C)."""
    head = math.fsum(a**k / math.factorial(k) for k in range(c))
    tail = a**c / math.factorial(c) * c / (c - a)
    return tail / (head + tail)


def cobham(c: int, mu: float, rates: list[float]) -> list[float]:
    """Mean waits per class of non-preemptive priority M/M/c, equal service rates (Cobham 1954)."""
    w0 = erlang_c(c, sum(rates) / mu) / (c * mu)
    waits, sigma = [], 0.0
    for lam in rates:
        before, sigma = sigma, sigma + lam / (c * mu)
        waits.append(w0 / ((1 - before) * (1 - sigma)))
    return waits


def birth_death_wait_probability(c: int, lam: float, mu: float, n: int = 400) -> float:
    """P(all c servers busy) from the M/M/c birth-death chain truncated at n, solved as a linear system."""
    q = np.zeros((n + 1, n + 1))
    for k in range(n + 1):
        if k < n:
            q[k, k + 1] = lam
        if k > 0:
            q[k, k - 1] = min(k, c) * mu
    np.fill_diagonal(q, -q.sum(axis=1))
    a = np.vstack([q.T[:-1], np.ones(n + 1)])
    b = np.zeros(n + 1)
    b[-1] = 1.0
    pi = np.linalg.solve(a, b)
    return float(pi[c:].sum())


def priority_chain_waits(c: int, mu: float, rates: list[float], n: int) -> list[float]:
    """Mean waits per class from the CTMC of a non-preemptive priority M/M/c, queues truncated at n.

    State: fewer than c busy (no queue), or all c busy with (q1, q2, q3) waiting; a server that frees
    takes the head of the highest non-empty class. W_k = E[q_k] / lambda_k (Little).
    """
    grid = list(itertools.product(range(n + 1), repeat=len(rates)))
    index = {q: c + i for i, q in enumerate(grid)}
    size = c + len(grid)
    rows: list[int] = []
    cols: list[int] = []
    flows: list[float] = []

    def move(src: int, dst: int, rate: float) -> None:
        rows.extend((src, src))
        cols.extend((dst, src))
        flows.extend((rate, -rate))

    total = sum(rates)
    empty = (0,) * len(rates)
    for b in range(c):
        move(b, b + 1 if b + 1 < c else index[empty], total)
        if b > 0:
            move(b, b - 1, b * mu)
    for q in grid:
        here = index[q]
        for k, lam in enumerate(rates):
            if q[k] < n:
                move(here, index[(*q[:k], q[k] + 1, *q[k + 1 :])], lam)
        first = next((k for k, v in enumerate(q) if v), None)
        if first is None:
            move(here, c - 1, c * mu)
        else:
            move(here, index[(*q[:first], q[first] - 1, *q[first + 1 :])], c * mu)
    # pi Q = 0 with one balance equation replaced by sum(pi) = 1
    keep = [i for i, r in enumerate(cols) if r != size - 1]
    a = coo_matrix(
        (
            [flows[i] for i in keep] + [1.0] * size,
            ([cols[i] for i in keep] + [size - 1] * size, [rows[i] for i in keep] + list(range(size))),
        ),
        shape=(size, size),
    ).tocsc()
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    pi = spsolve(a, rhs)
    queues = np.array([(0,) * len(rates)] * c + grid, dtype=float)
    return [float(pi @ queues[:, k]) / lam for k, lam in enumerate(rates)]


def test_erlang_c_matches_the_mm2_closed_form_and_the_birth_death_chain() -> None:
    # M/M/2 (Gross & Harris): P(wait) = 2 rho^2 / (1 + rho); rho = 0.75 gives 9/14
    assert erlang_c(2, 1.5) == pytest.approx(2 * 0.75**2 / 1.75) == pytest.approx(9 / 14)
    for c, lam, mu in ((2, 0.075, 0.05), (3, 0.12, 0.05), (5, 3.2, 1.0)):
        assert erlang_c(c, lam / mu) == pytest.approx(birth_death_wait_probability(c, lam, mu), rel=1e-9)


def test_cobham_waits_match_the_priority_markov_chain() -> None:
    rates = [0.15, 0.3, 0.45]  # per minute, mu = 1: load 0.45 on two servers
    exact = cobham(2, 1.0, rates)
    chain = priority_chain_waits(2, 1.0, rates, n=16)  # P(a queue reaches 16) is about 0.45^16
    assert chain == pytest.approx(exact, rel=1e-4)
    # one class is plain Erlang C: Wq = C / (c mu - lambda)
    assert cobham(3, 1.0, [2.4])[0] == pytest.approx(erlang_c(3, 2.4) / (3 - 2.4))


# --- the simulation against them ----------------------------------------------------------------------

PRIORITY = {
    # escalations per hour (4.5 in all), 20 min assessments, 2 caregivers: utilisation 0.75
    "rate_high": 0.6,
    "rate_medium": 1.5,
    "rate_low_medium": 2.4,
    "caregivers": 2,
    "assessment_time": 20.0,
    "horizon": 200_000.0,
    "warmup": 1_000.0,
}
SINGLE = {
    # only medium escalations, 6 per hour of 16 min on two caregivers: utilisation 0.8, plain M/M/2
    "rate_high": 0.0,
    "rate_medium": 6.0,
    "rate_low_medium": 0.0,
    "caregivers": 2,
    "assessment_time": 16.0,
    "target_medium": 30.0,
    "horizon": 200_000.0,
    "warmup": 1_000.0,
}


@pytest.fixture(scope="module")
def simulated() -> dict[str, Point]:
    """Both cases, 8 replications each, on the local process pool (workers import the kind by name)."""

    async def run() -> dict[str, Point]:
        compute = LocalCompute("local://?workers=2")
        try:
            results = await asyncio.gather(
                execute(plan(KIND, PRIORITY, seed=21, replications=8), compute),
                execute(plan(KIND, SINGLE, seed=22, replications=8), compute),
            )
        finally:
            await compute.close()
        return {"priority": results[0][0], "single": results[1][0]}

    return asyncio.run(run())


def _agrees(point: Point, kpi: str, exact: float, *, rel: float = 0.06, ci_max: float = 0.08) -> None:
    stat = point.kpis[kpi]
    mean, ci = stat["mean"], stat["ci95"]
    assert mean is not None and ci is not None
    assert abs(mean - exact) <= rel * exact, f"{kpi}: simulated {mean:.4f}, exact {exact:.4f}"
    assert abs(mean - exact) <= 2 * ci, f"{kpi}: {exact:.4f} outside {mean:.4f} +- 2 x {ci:.4f}"
    # precise enough for the agreement to mean something
    assert ci <= ci_max * exact, f"{kpi}: 95% CI half-width {ci:.4f} too wide"


def test_per_level_mean_waits_follow_cobham(simulated: dict[str, Point]) -> None:
    point = simulated["priority"]
    mu = 1 / PRIORITY["assessment_time"]
    rates = [PRIORITY[f"rate_{k}"] / 60 for k in LEVELS]
    exact = cobham(2, mu, rates)
    # 7.14, 10.99 and 39.56 min: the high level still waits for a residual assessment (non-preemptive)
    assert exact == pytest.approx([50 / 7, 1000 / 91, 36.0 / 0.91], rel=1e-3)
    for key, wait in zip(LEVELS, exact, strict=True):
        _agrees(point, f"{key}_mean_wait", wait)
    _agrees(point, "utilisation", 0.75, rel=0.01, ci_max=0.01)


def test_a_single_level_is_an_erlang_c_queue(simulated: dict[str, Point]) -> None:
    point = simulated["single"]
    c, lam, mu = 2, SINGLE["rate_medium"] / 60, 1 / SINGLE["assessment_time"]
    p_wait = erlang_c(c, lam / mu)
    drain = c * mu - lam  # FIFO M/M/c: P(Wq > t) = C e^{-(c mu - lambda) t}
    _agrees(point, "medium_mean_wait", p_wait / drain)
    _agrees(point, "medium_p90_wait", math.log(p_wait / 0.1) / drain)
    _agrees(point, "medium_within_target", 1 - p_wait * math.exp(-drain * 30.0), rel=0.03, ci_max=0.04)
    _agrees(point, "utilisation", lam / (c * mu), rel=0.01, ci_max=0.01)
    assert point.kpis["high_answered"]["mean"] == point.kpis["low_medium_answered"]["mean"] == 0


def test_littles_law_per_level_on_every_replication(simulated: dict[str, Point]) -> None:
    # time-average queue (from the queue levels) against lambda x W (from each escalation's wait)
    for point, params in ((simulated["priority"], PRIORITY), (simulated["single"], SINGLE)):
        span = params["horizon"] - params["warmup"]
        for rep in point.replications:
            for key in LEVELS:
                lam = rep[f"{key}_escalations"] / span
                assert rep[f"{key}_mean_queue"] == pytest.approx(lam * rep[f"{key}_mean_wait"], rel=0.03)


# --- deterministic: a by-hand schedule ----------------------------------------------------------------


def list_schedule(c: int, backlog: dict[str, int], times: dict[str, float]) -> list[tuple[str, float, float]]:
    """Brute force: open escalations, highest risk first, each to the caregiver free earliest."""
    free = [0.0] * c
    out = []
    for key in LEVELS:
        for _ in range(backlog[key]):
            i = min(range(c), key=lambda j: free[j])
            start = free[i]
            free[i] = start + times[key]
            out.append((key, start, free[i]))
    return out


def test_a_backlog_with_fixed_assessments_is_the_list_schedule() -> None:
    rng = random.Random(7)
    for _ in range(12):
        c = rng.randint(1, 4)
        backlog = {k: rng.randint(0, 6) for k in LEVELS}
        times = {k: float(rng.choice([5, 12, 20, 30])) for k in LEVELS}
        horizon = float(rng.choice([40, 90, 400]))
        params = {f"rate_{k}": 0.0 for k in LEVELS} | {
            "caregivers": c,
            "assessment_cv": 0.0,
            "assessment_time": 15.0,
            "horizon": horizon,
            "warmup": 0.0,
        }
        params |= {f"assessment_time_{k}": times[k] for k in LEVELS}
        state = {f"open_{k}": backlog[k] for k in LEVELS}
        rep = run_replication(KIND, validate(KIND, params, state), seed=1, state=state)
        schedule = list_schedule(c, backlog, times)
        total = sum(backlog.values())
        # the run stops at the horizon: nothing happens at that instant itself
        answered = [s for _, s, _ in schedule if s < horizon]
        expected_cleared = max(answered) if len(answered) == total and total else (horizon if total else 0.0)
        assert rep.kpis["backlog_answered"] == pytest.approx(expected_cleared), (c, backlog, times)
        done = sum(1 for *_, e in schedule if e < horizon)
        assert rep.kpis["assessments_completed"] == done
        assert rep.kpis["open_at_end"] == total - done
        busy = sum(max(0.0, min(e, horizon) - min(s, horizon)) for _, s, e in schedule)
        assert rep.kpis["utilisation"] == pytest.approx(busy / horizon / c)
        assert rep.series["busy_caregivers"][0] == min(c, total)
        assert rep.series["waiting_high"][0] == max(0, backlog["high"] - c)


def test_a_backlog_worked_by_hand() -> None:
    # one caregiver, 10 min each: high at 0, medium at 10 and 20, low-medium at 30 -> answered by 30 min
    params = {f"rate_{k}": 0.0 for k in LEVELS} | {
        "caregivers": 1,
        "assessment_cv": 0.0,
        "assessment_time": 10.0,
        "horizon": 60.0,
        "warmup": 0.0,
    }
    state = {"open_low_medium": 1, "open_medium": 2, "open_high": 1}
    rep = run_replication(KIND, validate(KIND, params, state), seed=3, state=state)
    assert rep.kpis["backlog_answered"] == 30.0
    assert rep.kpis["assessments_completed"] == 4 and rep.kpis["utilisation"] == pytest.approx(40 / 60)


# --- conservation, reproducibility, refusals ---------------------------------------------------------


def test_escalations_are_conserved() -> None:
    params = {"horizon": 5_000.0, "warmup": 0.0, "caregivers": 2, "rate_low_medium": 3.0}
    state = {"open_high": 2, "open_medium": 3, "open_low_medium": 7}
    for seed in range(4):
        k = run_replication(KIND, validate(KIND, params, state), seed=seed, state=state).kpis
        raised = sum(k[f"{key}_escalations"] for key in LEVELS)
        assert raised > 0
        # everything open at the start or raised since is either assessed or still open at the end
        assert 12 + raised == k["assessments_completed"] + k["open_at_end"]
        assert k["answered"] == sum(k[f"{key}_answered"] for key in LEVELS)
        assert all(k[f"{key}_answered"] <= k[f"{key}_escalations"] for key in LEVELS)
        assert k["answered"] <= raised <= k["answered"] + k["open_at_end"]
        assert 0 < k["utilisation"] < 1 and k["max_queue"] >= 10  # the backlog waited at the start


def test_same_seed_same_numbers() -> None:
    params = {"horizon": 20_000.0, "caregivers": 2}
    state = {"open_high": 1, "open_low_medium": 2}
    a = run_inline(plan(KIND, params, seed=9, replications=2, state=state))[0]
    b = run_inline(plan(KIND, params, seed=9, replications=2, state=state))[0]
    c = run_inline(plan(KIND, params, seed=10, replications=2, state=state))[0]
    assert a.kpis == b.kpis and a.series == b.series and a.replications == b.replications
    assert a.kpis != c.kpis


def test_bad_parameters_are_refused_with_reasons() -> None:
    with pytest.raises(InvalidInput) as exc:
        validate(KIND, {"rate_high": -1, "caregivers": 0, "assessment_time": 0, "speed": 2})
    reasons = {e["param"]: e["reason"] for e in exc.value.extra["errors"]}
    assert set(reasons) == {"rate_high", "caregivers", "assessment_time", "speed"}
    assert reasons["rate_high"] == "must be >= 0 1/h, got -1.0"
    assert reasons["assessment_time"] == "must be > 0 min, got 0.0"
    with pytest.raises(InvalidInput, match="warmup: must be shorter than the horizon"):
        validate(KIND, {"horizon": 100.0, "warmup": 100.0})
    # 6 per hour of 20 min on 2 caregivers is exactly full: the queue would grow without end
    with pytest.raises(InvalidInput, match=r"caregivers: 2 caregivers would be busy 100% of the time"):
        validate(KIND, {"rate_high": 0, "rate_medium": 6.0, "rate_low_medium": 0, "caregivers": 2})
    # a level's own assessment time counts in the load
    with pytest.raises(InvalidInput, match="busy 110%"):
        validate(KIND, {"rate_high": 0.6, "assessment_time_high": 130.0, "caregivers": 2})
    with pytest.raises(InvalidInput, match="shorten the horizon"):
        validate(KIND, {"rate_low_medium": 12.0, "caregivers": 10, "horizon": 1e8})
    with pytest.raises(InvalidInput) as exc:
        validate(KIND, {}, {"open_high": -1, "open_medium": 1.5, "beds": 3})
    bad = {e["param"] for e in exc.value.extra["errors"]}
    assert bad == {"initial_state.open_high", "initial_state.open_medium", "initial_state.beds"}


# --- what-if from the wearables' twins ---------------------------------------------------------------

# NEWS2 by hand from the RCP chart (pulse, respiration, SpO2 scale 1, systolic, temperature, ACVPU)
HIGH: dict[str, float | str | bool] = {  # 2 + 3 + 2 + 2 + 1 + 0 = 10: high
    "heart_rate": 125,
    "respiration_rate": 26,
    "spo2": 92,
    "systolic_bp": 95,
    "temperature": 38.5,
    "consciousness": "alert",
}
MEDIUM = HIGH | {  # 1 + 2 + 1 + 0 + 1 + 0 = 5: medium
    "heart_rate": 105,
    "respiration_rate": 22,
    "spo2": 95,
    "systolic_bp": 115,
    "temperature": 38.2,
}
CALM: dict[str, float | str | bool] = {  # 0 everywhere
    "heart_rate": 72,
    "respiration_rate": 16,
    "spo2": 97,
    "systolic_bp": 125,
    "temperature": 36.8,
    "consciousness": "alert",
}
CONFUSED = CALM | {"consciousness": "new_confusion"}  # 3 in one parameter, total 3: low-medium
LOW = CALM | {"heart_rate": 95}  # 1: low, no escalation in this scenario
ON_OXYGEN = CALM | {"on_oxygen": True, "spo2": 93}  # 2 (oxygen) + 2 (SpO2 92-93 on scale 1) = 4: low


def test_open_escalations_are_read_from_the_wearables_vitals() -> None:
    twins = [HIGH, MEDIUM, MEDIUM | {"spo2": 95.0}, CONFUSED, LOW, CALM, ON_OXYGEN]
    twins += [{k: v for k, v in HIGH.items() if k != "temperature"}, {"battery": 80}]
    twins += [HIGH | {"consciousness": "asleep"}, HIGH | {"heart_rate": 125.5}]
    # incomplete or unchartable sets and unrelated twins do not count; a whole float SpO2 is charted
    assert kind(KIND).state_from_twins(twins) == {"open_high": 1, "open_medium": 2, "open_low_medium": 1}
    # on scale 2 (hypercapnic respiratory failure) 88-92 % on air scores 0: no escalation
    copd = CALM | {"spo2": 89, "spo2_scale": 2}
    assert kind(KIND).state_from_twins([copd, copd | {"spo2_scale": 1}]) == {
        "open_high": 0,
        "open_medium": 0,
        "open_low_medium": 1,
    }


async def test_api_and_portal_run_from_the_wearables_twins(ctx: Context, client: httpx.AsyncClient) -> None:
    t = await tenant(ctx, client, "Care Home", ["provider"])
    listed = {k["kind"]: k for k in (await client.get("/api/v1/simulation/scenarios", headers=t.auth)).json()}
    scenario = listed[KIND]
    assert scenario["parameters"]["properties"]["rate_high"]["unit"] == "1/h"
    assert scenario["kpis"]["high_p90_wait"] == "min"
    assert [f["name"] for f in scenario["initial_state"]] == ["open_high", "open_medium", "open_low_medium"]

    await ctx.telemetry.open()
    wearable = await client.post(
        "/api/v1/device-types", headers=t.auth, json={"name": "wearable", "thing_model": WEARABLE_MODEL}
    )
    assert wearable.status_code == 201, wearable.text
    now = to_us(utcnow())
    for device_id, vitals in {"w1": HIGH, "w2": MEDIUM, "w3": CONFUSED, "w4": CALM}.items():
        r = await client.post("/api/v1/devices", headers=t.auth, json={"type": "wearable", "id": device_id})
        assert r.status_code == 201, r.text
        readings: list[tuple[str, int, float | str | bool]] = [(k, now, v) for k, v in vitals.items()]
        await ctx.telemetry.append([Message(t.org_id, wearable.json()["id"], device_id, None, readings)])
    # no new escalations, one caregiver, 10 min each: high at 0, medium at 10, low-medium at 20 min
    body = {
        "kind": KIND,
        "params": {
            "rate_high": 0,
            "rate_medium": 0,
            "rate_low_medium": 0,
            "caregivers": 1,
            "assessment_time": 10.0,
            "assessment_cv": 0,
            "horizon": 600.0,
            "warmup": 0.0,
        },
        "device_ids": ["w1", "w2", "w3", "w4"],
    }
    r = await client.post("/api/v1/simulation/runs", headers=t.auth, json=body)
    assert r.status_code == 202, r.text
    assert r.json()["initial_state"] == {"open_high": 1, "open_medium": 1, "open_low_medium": 1}
    done = await finished(client, t.auth, r.json()["id"])
    assert done["status"] == "succeeded", done
    kpis = done["results"][0]["kpis"]
    assert kpis["backlog_answered"]["mean"] == 20.0 and kpis["assessments_completed"]["mean"] == 3
    assert kpis["utilisation"]["mean"] == pytest.approx(30 / 600)

    bad = {"kind": KIND, "params": {"caregivers": 0, "rate_high": "many"}}
    problem = assert_problem(await client.post("/api/v1/simulation/runs", headers=t.auth, json=bad), 422)
    assert {e["param"] for e in problem["errors"]} == {"caregivers", "rate_high"}  # type: ignore[attr-defined]

    # the portal's form: one field per parameter, named after the dotted kind
    page = await client.get("/login")
    token = CSRF.search(page.text)
    assert token is not None
    login = {"email": t.email, "password": PASSWORD, "csrf_token": token.group(1)}
    assert (await client.post("/login", data=login)).status_code == 303
    page = await client.get("/portal/simulation")
    assert page.status_code == 200 and f'name="p.{KIND}.target_high"' in page.text
    token = CSRF.search(page.text)
    assert token is not None
    form = {"csrf_token": token.group(1), "kind": KIND, "seed": "2", "replications": "1"}
    form |= {f"p.{KIND}.horizon": "2000", f"p.{KIND}.warmup": "100", f"p.{KIND}.caregivers": "3"}
    started = await client.post("/portal/simulation/runs", data=form)
    assert started.status_code == 303, started.text
    run_id = started.headers["location"].rsplit("/", 1)[-1]
    from_portal = await finished(client, t.auth, run_id)
    assert from_portal["status"] == "succeeded" and from_portal["results"][0]["params"]["caregivers"] == 3
    shown = await client.get(f"/portal/simulation/runs/{run_id}")
    assert shown.status_code == 200 and "high_p90_wait" in shown.text


def test_the_walkthrough_cli_example(tmp_path: Path) -> None:
    env = {"IPLUS_VAR_DIR": str(tmp_path / "var"), "IPLUS_COMPUTE_URL": "local://?workers=1"}
    cli = build_cli(build_context, build_asgi)
    runner = CliRunner()
    assert runner.invoke(cli, ["org", "create", "Sunny Care", "--role", "provider"], env=env).exit_code == 0
    # the command of docs/walkthrough-health.md, with --json
    args = ["sim", "run", KIND, "--org", "Sunny Care", "--sweep", "caregivers=2,3"]
    args += ["--replications", "5", "--seed", "7", "--json"]
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    two, three = (r["kpis"] for r in body["results"])
    # the default load is 3 escalations per hour of 20 min: utilisation 1/2 on two caregivers, 1/3 on three
    assert two["utilisation"]["mean"] == pytest.approx(0.5, abs=0.03)
    assert three["utilisation"]["mean"] == pytest.approx(1 / 3, abs=0.02)
    assert three["high_mean_wait"]["mean"] < two["high_mean_wait"]["mean"]
    assert three["high_within_target"]["mean"] > two["high_within_target"]["mean"]
    bad = runner.invoke(cli, ["sim", "run", KIND, "--org", "Sunny Care", "-p", "caregivers=0"], env=env)
    assert bad.exit_code != 0 and "caregivers: must be >= 1" in bad.stderr


# --- regressions ----------------------------------------------------------------------------------


def _fixed(caregivers: int, minutes: float, horizon: float, warmup: float) -> dict[str, Any]:
    """No new escalations, fixed assessment times: only a backlog, scheduled by hand below."""
    return {f"rate_{k}": 0.0 for k in LEVELS} | {
        "caregivers": caregivers,
        "assessment_cv": 0.0,
        "assessment_time": minutes,
        "horizon": horizon,
        "warmup": warmup,
    }


def test_max_queue_counts_the_queue_standing_at_the_warmup() -> None:
    # one caregiver, 10 min each, 10 open at 0: 9 wait, 8 from t = 10, 7 from t = 20; measured from 15,
    # the longest queue seen is the 8 standing at 15
    state = {"open_high": 10}
    rep = run_replication(KIND, validate(KIND, _fixed(1, 10.0, 100.0, 15.0), state), 1, state)
    assert rep.kpis["max_queue"] == 8
    # a queue that never changes after the warm-up (5 open, each taking 1000 min): 4 wait throughout
    state = {"open_medium": 5}
    rep = run_replication(KIND, validate(KIND, _fixed(1, 1000.0, 100.0, 10.0), state), 1, state)
    assert rep.kpis["max_queue"] == 4 and rep.kpis["medium_mean_queue"] == 4


def test_the_backlog_counts_in_no_level_statistic_answered_or_not() -> None:
    # 4 high open at 0, one caregiver, 10 min each, target 5: answered at 0, 10 and 20, one still waiting
    # at 25, long past its target; none was raised in the measured period, so none is answered, missed or
    # within target
    state = {"open_high": 4}
    params = _fixed(1, 10.0, 25.0, 0.0) | {"target_high": 5.0}
    k = run_replication(KIND, validate(KIND, params, state), 1, state).kpis
    assert k["high_answered"] == 0 and k["high_escalations"] == 0
    assert k["high_within_target"] == 1.0
    assert k["open_at_end"] == 2 and k["backlog_answered"] == 25.0


def test_a_large_backlog_is_cleared_in_linear_time() -> None:
    # 30,000 open escalations: a queue that re-sorts itself on every arrival took minutes here
    state = {f"open_{k}": 10_000 for k in LEVELS}
    started = time.process_time()
    k = run_replication(KIND, validate(KIND, _fixed(10, 1.0, 100.0, 0.0), state), 1, state).kpis
    assert time.process_time() - started < 5.0
    # 10 caregivers, 1 min each: 1,000 finished by t = 100 (the ones ending at 100 are not: the run stops)
    assert k["assessments_completed"] == 990 and k["open_at_end"] == 30_000 - 990
    assert k["max_queue"] == 30_000 - 10


def test_nearly_fixed_assessment_times_are_refused_below_the_floor() -> None:
    with pytest.raises(InvalidInput, match=r"assessment_cv: must be 0 \(fixed times\) or at least 0.001"):
        validate(KIND, {"assessment_cv": 1e-300})
    # at the floor the gamma times are 20 min to within a few per mille
    rep = run_replication(KIND, validate(KIND, {"assessment_cv": 0.001, "horizon": 5000.0}), 1)
    assert rep.kpis["utilisation"] == pytest.approx(3 * 20 / 60 / 2, rel=0.3)


def test_vital_signs_that_cannot_be_charted_open_no_escalation() -> None:
    cases = [(v, bad) for v in ("temperature", "heart_rate") for bad in ("x", "", float("nan"), [38.5], None)]
    cases.append(("heart_rate", 10**400))  # too large for a float
    for vital, bad in cases:
        assert kind(KIND).state_from_twins([HIGH | {vital: bad}]) == {
            "open_high": 0,
            "open_medium": 0,
            "open_low_medium": 0,
        }, (vital, bad)


class _Counting(simpy.Environment):
    """Counts the events a run processes."""

    processed = 0

    def step(self) -> None:
        self.processed += 1
        super().step()


@pytest.mark.parametrize(
    "given",
    [
        {"horizon": 20_000.0},
        # a long queue: near full load on many caregivers
        {"horizon": 600.0, "warmup": 0.0, "caregivers": 200, "assessment_time": 6.6}
        | {f"rate_{k}": 600.0 for k in LEVELS},
    ],
)
def test_the_workload_estimate_bounds_the_events_of_a_run(given: dict[str, Any]) -> None:
    # the estimate caps one replication's CPU time: each event costs a couple of µs, and the engine refuses
    # estimates above 20 million
    params = validate(KIND, given)
    env = _Counting()
    kind(KIND).build(env, params, random.Random(1), {})
    env.run(until=params["horizon"])
    assert env.processed <= kind(KIND).workload(params)
