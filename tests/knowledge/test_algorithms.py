"""Built-in algorithms against published tables and an independent brute force; the registry's rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from iplus.core.errors import Conflict, InvalidInput, NotFound
from iplus.platform.knowledge.algorithms import Algorithm, AlgorithmRegistry
from iplus.platform.knowledge.builtin import register_builtin


@pytest.fixture
def registry() -> AlgorithmRegistry:
    r = AlgorithmRegistry()
    register_builtin(r)
    return r


# Erlang B tables (traffic in erlang that gives the blocking probability with N lines),
# as printed in every teletraffic handbook: N=5 1% 1.36, N=10 1% 4.46, N=10 5% 6.22 (6.216), N=20 1% 12.03
@pytest.mark.parametrize(
    ("servers", "traffic", "blocking"),
    [(5, 1.361, 0.01), (10, 4.461, 0.01), (10, 6.216, 0.05), (20, 12.03, 0.01)],
)
def test_erlang_b_matches_the_published_table(
    registry: AlgorithmRegistry, servers: int, traffic: float, blocking: float
) -> None:
    out = registry.invoke("queueing.erlang_b", {"offered_traffic": traffic, "servers": servers}).outputs
    assert out["blocking_probability"] == pytest.approx(blocking, rel=0.01)
    assert out["carried_traffic"] + out["lost_traffic"] == pytest.approx(traffic)


def birth_death(lam: float, mu: float, servers: int, capacity: int) -> np.ndarray:
    """Stationary distribution of the M/M/c(/K) chain, solved from its generator (independent of the formula)."""
    n = capacity + 1
    q = np.zeros((n, n))
    for k in range(n):
        if k + 1 < n:
            q[k, k + 1] = lam
        if k > 0:
            q[k, k - 1] = min(k, servers) * mu
        q[k, k] = -q[k].sum()
    a = np.vstack([q.T, np.ones(n)])
    b = np.zeros(n + 1)
    b[-1] = 1.0
    pi, *_ = np.linalg.lstsq(a, b, rcond=None)
    return pi


@pytest.mark.parametrize(("lam", "mu", "servers"), [(3.0, 4.0, 1), (10.0, 4.0, 3), (45.0, 2.0, 25)])
def test_erlang_c_matches_the_brute_force_chain(
    registry: AlgorithmRegistry, lam: float, mu: float, servers: int
) -> None:
    target = 0.05
    out = registry.invoke(
        "queueing.mmc", {"arrival_rate": lam, "service_rate": mu, "servers": servers, "target_wait": target}
    ).outputs
    pi = birth_death(lam, mu, servers, capacity=servers + 600)
    k = np.arange(len(pi))
    waiting = k >= servers
    lq = float(((k - servers) * pi)[waiting].sum())
    l_sys = float((k * pi).sum())
    assert out["probability_wait"] == pytest.approx(pi[waiting].sum(), rel=1e-6)
    assert out["mean_queue_length"] == pytest.approx(lq, rel=1e-6)
    assert out["mean_in_system"] == pytest.approx(l_sys, rel=1e-6)
    # Little's law on the chain: W = L / lambda
    assert out["mean_time_in_system"] == pytest.approx(l_sys / lam, rel=1e-6)
    assert out["utilisation"] == pytest.approx(lam / (servers * mu))
    # FCFS: an arrival that finds n >= c waits for n - c + 1 completions at rate c mu (a gamma variable)
    late = sum(
        pi[n] * stats.gamma.sf(target, a=n - servers + 1, scale=1 / (servers * mu))
        for n in range(servers, len(pi))
    )
    assert out["service_level"] == pytest.approx(1 - late, rel=1e-6)


def test_mm1_closed_form(registry: AlgorithmRegistry) -> None:
    out = registry.invoke("queueing.mmc", {"arrival_rate": 3, "service_rate": 4, "servers": 1}).outputs
    rho = 0.75
    assert out["probability_wait"] == pytest.approx(rho)
    assert out["mean_in_system"] == pytest.approx(rho / (1 - rho))
    assert out["mean_wait"] == pytest.approx(rho / (4 - 3))


def test_unstable_queue_is_the_callers_error(registry: AlgorithmRegistry) -> None:
    with pytest.raises(InvalidInput, match="unstable"):
        registry.invoke("queueing.mmc", {"arrival_rate": 12, "service_rate": 4, "servers": 3})


def test_availability_by_hand(registry: AlgorithmRegistry) -> None:
    one = registry.invoke("reliability.availability", {"mtbf": 990, "mttr": 10}).outputs
    assert one["unit_availability"] == pytest.approx(0.99)
    assert one["downtime_per_year"] == pytest.approx(87.6)
    series = registry.invoke("reliability.availability", {"mtbf": 990, "mttr": 10, "units": 3}).outputs
    assert series["availability"] == pytest.approx(0.970299)
    parallel = registry.invoke(
        "reliability.availability", {"mtbf": 990, "mttr": 10, "units": 2, "arrangement": "parallel"}
    ).outputs
    assert parallel["availability"] == pytest.approx(0.9999)


def test_every_bad_input_is_listed(registry: AlgorithmRegistry) -> None:
    with pytest.raises(InvalidInput) as caught:
        registry.invoke("queueing.mmc", {"arrival_rate": -1, "servers": 2.5, "extra": 1})
    errors = caught.value.extra["errors"]
    assert any("/arrival_rate" in e for e in errors)
    assert any("/servers" in e for e in errors)
    assert any("service_rate" in e and "required" in e for e in errors)
    assert any("extra" in e for e in errors)


def _echo(**kw: float) -> dict[str, float]:
    return {"y": kw["x"] * 2}


def _schema(unit: str | None = "m") -> dict[str, object]:
    prop: dict[str, object] = {"type": "number"}
    if unit:
        prop["unit"] = unit
    return {"type": "object", "properties": {"x": prop}, "required": []}


def test_versions_are_ordered_by_number_and_immutable() -> None:
    r = AlgorithmRegistry()
    out = {"type": "object", "properties": {"y": {"type": "number", "unit": "m"}}}
    for version in ("1.9.0", "1.10.0", "1.2.3"):
        r.register(Algorithm("demo.double", version, "Double", "", _schema(), out, _echo))
    assert r.versions("demo.double") == ["1.2.3", "1.9.0", "1.10.0"]
    assert r.get("demo.double").version == "1.10.0"
    assert r.invoke("demo.double", {"x": 2}, "1.2.3").outputs == {"y": 4}
    with pytest.raises(Conflict):
        r.register(Algorithm("demo.double", "1.9.0", "Double", "", _schema(), out, _echo))
    with pytest.raises(NotFound):
        r.get("demo.double", "2.0.0")
    with pytest.raises(NotFound):
        r.get("demo.missing")


def test_schemas_must_carry_units_and_ids_versions_be_well_formed() -> None:
    out = {"type": "object", "properties": {"y": {"type": "number"}}}
    with pytest.raises(InvalidInput) as caught:
        Algorithm("Bad Id", "1.0", "x", "", _schema(unit=None), out, _echo)
    errors = caught.value.extra["errors"]
    assert any(e.startswith("id ") for e in errors)
    assert any(e.startswith("version ") for e in errors)
    assert any("inputs /x" in e and "unit" in e for e in errors)
    assert any("outputs /y" in e and "unit" in e for e in errors)
    with pytest.raises(InvalidInput) as caught:
        Algorithm(
            "demo.x", "1.0.0", "x", "", {"type": "object", "properties": {"x": {"type": 5}}}, out, _echo
        )
    assert any("not a valid JSON Schema" in e for e in caught.value.extra["errors"])


def test_an_algorithm_that_breaks_its_output_schema_is_a_bug_not_the_callers() -> None:
    out = {"type": "object", "properties": {"y": {"type": "number", "unit": "m", "maximum": 1}}}
    algorithm = Algorithm("demo.double", "1.0.0", "Double", "", _schema(), out, _echo)
    with pytest.raises(RuntimeError, match="broke its output schema"):
        algorithm.invoke({"x": 5})
    assert math.isclose(algorithm.invoke({"x": 0.25})["y"], 0.5)


def test_nan_and_infinity_are_refused_though_json_schema_bounds_let_them_pass(
    registry: AlgorithmRegistry,
) -> None:
    for bad in (math.nan, math.inf):
        with pytest.raises(InvalidInput) as caught:
            registry.invoke("queueing.mmc", {"arrival_rate": bad, "service_rate": 4, "servers": 1})
        assert "inputs/arrival_rate: numbers must be finite" in caught.value.extra["errors"]
