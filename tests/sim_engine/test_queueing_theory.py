"""M/M/1 and M/M/c stations against the textbook closed forms (Little's law, Erlang C), within 5%."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from iplus.engines.sim import Point, execute, plan
from iplus.infra.compute.local import LocalCompute

TOLERANCE = 0.05


def erlang_c(c: int, lam: float, mu: float) -> dict[str, float]:
    """Closed forms for M/M/c (Kleinrock vol. 1, sec. 3.5): Wq, W, Lq, L and utilisation."""
    a = lam / mu
    rho = a / c
    head = sum(a**k / math.factorial(k) for k in range(c))
    tail = a**c / math.factorial(c) / (1 - rho)
    p_wait = tail / (head + tail)
    wq = p_wait / (c * mu - lam)
    return {"Wq": wq, "W": wq + 1 / mu, "Lq": lam * wq, "L": lam * (wq + 1 / mu), "rho": rho}


CASES: dict[str, tuple[dict[str, Any], int, int]] = {
    # name: (parameters, seed, replications); long enough that each 95% CI is well under 5%
    "M/M/1 rho=0.5": (
        {"arrival_rate": 0.5, "service_rate": 1.0, "servers": 1, "horizon": 20_000.0, "warmup": 200.0},
        11,
        16,
    ),
    "M/M/1 rho=0.8": (
        {"arrival_rate": 0.8, "service_rate": 1.0, "servers": 1, "horizon": 25_000.0, "warmup": 500.0},
        12,
        48,
    ),
    "M/M/3 rho=0.7": (
        {"arrival_rate": 2.1, "service_rate": 1.0, "servers": 3, "horizon": 20_000.0, "warmup": 300.0},
        13,
        16,
    ),
}


# Jackson network in series: by Burke's theorem each station sees Poisson arrivals at the same rate
TANDEM = {
    "arrival_rate": 0.6,
    "service_rates": [1.0, 0.6],
    "servers": [1, 2],
    "horizon": 20_000.0,
    "warmup": 300.0,
}


@pytest.fixture(scope="module")
def simulated() -> dict[str, Point]:
    """All three stations, run once on the local process pool (both cores)."""

    async def run() -> dict[str, Point]:
        compute = LocalCompute("local://?workers=2")
        try:
            plans = [plan("queueing_station", p, seed=s, replications=r) for p, s, r in CASES.values()]
            plans.append(plan("queueing_network", TANDEM, seed=14, replications=12))
            results = await asyncio.gather(*(execute(x, compute) for x in plans))
        finally:
            await compute.close()
        return {name: points[0] for name, points in zip([*CASES, "tandem"], results, strict=True)}

    return asyncio.run(run())


def _close(name: str, point: Point, kpi: str, exact: float) -> None:
    stat = point.kpis[kpi]
    mean, ci = stat["mean"], stat["ci95"]
    assert mean is not None and ci is not None
    assert abs(mean - exact) <= TOLERANCE * exact, f"{name} {kpi}: simulated {mean:.4f}, exact {exact:.4f}"
    # precise enough that agreement within 5% means something
    assert ci <= 0.04 * exact, f"{name} {kpi}: 95% CI half-width {ci:.4f} too wide"


@pytest.mark.parametrize("name", list(CASES))
def test_station_matches_closed_forms(name: str, simulated: dict[str, Point]) -> None:
    params = CASES[name][0]
    exact = erlang_c(params["servers"], params["arrival_rate"], params["service_rate"])
    point = simulated[name]
    _close(name, point, "mean_wait", exact["Wq"])
    _close(name, point, "mean_time_in_system", exact["W"])
    _close(name, point, "mean_in_system", exact["L"])
    _close(name, point, "mean_in_queue", exact["Lq"])
    _close(name, point, "utilisation", exact["rho"])


def test_mm1_closed_forms_are_the_textbook_ones() -> None:
    # for c = 1 Erlang C reduces to Wq = rho / (mu - lambda), L = rho / (1 - rho)
    exact = erlang_c(1, 0.8, 1.0)
    assert exact["Wq"] == pytest.approx(4.0) and exact["L"] == pytest.approx(4.0)
    # M/M/3, a = 2.1: P(wait) = 0.4923 by hand from the Erlang C sum
    assert erlang_c(3, 2.1, 1.0)["Wq"] * 0.9 == pytest.approx(0.49234, abs=1e-4)


@pytest.mark.parametrize("name", list(CASES))
def test_littles_law_holds_on_each_replication(name: str, simulated: dict[str, Point]) -> None:
    # L (time average of the count) against lambda * W (per-customer averages): measured independently
    for rep in simulated[name].replications:
        assert rep["mean_in_system"] == pytest.approx(
            rep["arrival_rate"] * rep["mean_time_in_system"], rel=0.02
        )
        assert rep["mean_in_queue"] == pytest.approx(rep["arrival_rate"] * rep["mean_wait"], rel=0.03)


def test_tandem_stations_each_behave_as_their_own_mmc(simulated: dict[str, Point]) -> None:
    point = simulated["tandem"]
    first = erlang_c(1, 0.6, 1.0)
    second = erlang_c(2, 0.6, 0.6)
    _close("tandem", point, "s1_mean_time_in_system", first["W"])
    _close("tandem", point, "s2_mean_time_in_system", second["W"])
    _close("tandem", point, "s2_utilisation", second["rho"])
    _close("tandem", point, "mean_time_in_system", first["W"] + second["W"])
    _close("tandem", point, "mean_in_system", first["L"] + second["L"])
