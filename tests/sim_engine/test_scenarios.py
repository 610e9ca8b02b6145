"""Production line, EV charging and intersection scenarios against independent results; determinism; errors."""

from __future__ import annotations

import numpy as np
import pytest

from iplus.apps.registry import register_scenarios
from iplus.core.errors import InvalidInput
from iplus.engines.sim import kind, kinds, plan, run_inline, run_replication, validate
from iplus.engines.sim.intersection import timing, webster_cycle
from iplus.engines.sim.runner import origin


def _mean(kind_name: str, params: dict[str, object], key: str, *, reps: int = 4, seed: int = 3) -> float:
    point = run_inline(plan(kind_name, params, seed=seed, replications=reps))[0]
    value = point.kpis[key]["mean"]
    assert value is not None
    return value


def test_reliable_deterministic_line_runs_at_the_bottleneck_rate() -> None:
    params = {
        "processing_times": [1.0, 1.5, 0.8],
        "buffer_capacities": [3, 3],
        "mtbf": [0, 0, 0],
        "mttr": [1, 1, 1],
        "horizon": 3000.0,
        "warmup": 100.0,
    }
    assert _mean("production_line", params, "throughput", reps=1) == pytest.approx(1 / 1.5, rel=0.002)
    point = run_inline(plan("production_line", params, replications=1))[0]
    assert point.kpis["m2_utilisation"]["mean"] == pytest.approx(1.0, abs=0.002)
    assert point.kpis["m1_blocked"]["mean"] == pytest.approx(1 - 1 / 1.5, abs=0.01)


def test_breakdowns_cut_throughput_by_the_availability() -> None:
    # operation-dependent failures: each part needs p plus (p / MTBF) repairs of mean MTTR on average
    p, mtbf, mttr = 1.0, 50.0, 10.0
    params = {
        "processing_times": [p, 0.2],
        "buffer_capacities": [50],
        "mtbf": [mtbf, 0],
        "mttr": [mttr, 1],
        "horizon": 40_000.0,
        "warmup": 500.0,
    }
    expected = 1 / (p * (1 + mttr / mtbf))
    assert _mean("production_line", params, "throughput") == pytest.approx(expected, rel=0.05)


def _two_machine_throughput(mu1: float, mu2: float, buffer: int) -> float:
    """Brute force: the CTMC of a saturated two-machine exponential line with blocking after service."""
    # state n = parts in the buffer or at machine 2 (0..buffer+1); n = buffer+2: machine 1 blocked
    size = buffer + 3
    q = np.zeros((size, size))
    for n in range(size):
        if n <= buffer + 1:
            q[n, n + 1] += mu1
        if n >= 1:
            q[n, n - 1] += mu2
    np.fill_diagonal(q, -q.sum(axis=1))
    a = np.vstack([q.T, np.ones(size)])
    pi = np.linalg.lstsq(a, np.r_[np.zeros(size), 1.0], rcond=None)[0]
    return float(mu2 * pi[1:].sum())


def test_two_machine_exponential_line_matches_its_markov_chain() -> None:
    params = {
        "processing_times": [1.0, 1 / 0.9],
        "processing_cv": 1.0,
        "buffer_capacities": [2],
        "mtbf": [0, 0],
        "mttr": [1, 1],
        "horizon": 30_000.0,
        "warmup": 200.0,
    }
    expected = _two_machine_throughput(1.0, 0.9, 2)
    assert 0.6 < expected < 0.9  # blocking and starving both matter at these rates
    assert _mean("production_line", params, "throughput") == pytest.approx(expected, rel=0.03)


def test_ev_station_utilisation_and_power_follow_from_the_energy_demand() -> None:
    params = {
        "arrival_rate": 6.0,
        "chargers": 5,
        "charger_power": 50.0,
        "battery_capacity": 60.0,
        "arrival_soc_min": 0.2,
        "arrival_soc_max": 0.4,
        "target_soc": 0.8,
        "horizon": 3000.0,
    }
    energy = (0.8 - 0.3) * 60.0  # mean kWh per car, uniform state of charge on arrival
    assert _mean("ev_charging", params, "utilisation") == pytest.approx(6.0 * energy / 50.0 / 5, rel=0.03)
    assert _mean("ev_charging", params, "mean_power") == pytest.approx(6.0 * energy, rel=0.03)


def test_impatient_drivers_leave_and_never_wait_longer_than_their_patience() -> None:
    params = {"arrival_rate": 12.0, "chargers": 4, "max_wait": 0.25, "horizon": 500.0}
    point = run_inline(plan("ev_charging", params, replications=2))[0]
    assert point.kpis["reneged_share"]["mean"] is not None and point.kpis["reneged_share"]["mean"] > 0.1
    assert point.kpis["mean_wait"]["mean"] is not None and point.kpis["mean_wait"]["mean"] < 0.25


def test_webster_optimal_cycle_and_green_split() -> None:
    # Webster (1958): C0 = (1.5 L + 5) / (1 - Y); greens share C0 - L in proportion to the critical y
    params = validate(
        "signalised_intersection",
        {
            "arrival_rates": [600, 500, 400, 350],
            "saturation_flows": [1800, 1800, 1600, 1600],
            "phase_of": [0, 0, 1, 1],
            "lost_time_per_phase": 4.0,
        },
    )
    y1, y2 = 600 / 1800, 400 / 1600  # critical flow ratio of each phase
    lost = 2 * 4.0
    c0 = (1.5 * lost + 5) / (1 - (y1 + y2))  # = 17 / (5/12) = 40.8 s
    assert c0 == pytest.approx(40.8)
    t = timing(params)
    assert t["cycle"] == pytest.approx(c0) and webster_cycle(lost, y1 + y2) == pytest.approx(40.8)
    assert t["greens"] == pytest.approx([(c0 - lost) * y1 / (y1 + y2), (c0 - lost) * y2 / (y1 + y2)])
    rep = run_replication("signalised_intersection", dict(params, horizon=3600.0), 1)
    assert rep.kpis["cycle"] == pytest.approx(40.8) and rep.kpis["a1_degree_of_saturation"] < 1


def test_intersection_flow_is_conserved_and_delay_grows_with_the_cycle() -> None:
    base = {
        "arrival_rates": [500, 300],
        "saturation_flows": [1800, 1800],
        "phase_of": [0, 1],
        "horizon": 20_000.0,
        "warmup": 400.0,
    }
    short = run_inline(plan("signalised_intersection", dict(base, cycle=40.0), replications=2))[0]
    long = run_inline(plan("signalised_intersection", dict(base, cycle=120.0), replications=2))[0]
    vehicles = short.kpis["vehicles"]["mean"]
    assert vehicles == pytest.approx(800 * (20_000 - 400) / 3600, rel=0.03)
    assert long.kpis["mean_delay"]["mean"] > 1.5 * short.kpis["mean_delay"]["mean"]  # type: ignore[operator]


def test_same_seed_same_result_other_seed_other_result() -> None:
    register_scenarios()
    for name, scenario in kinds().items():
        # the engine's kinds on a short horizon; the domains' kinds (their own time units) at their defaults
        given = {"horizon": 2000.0, "warmup": 100.0} if origin(name) is None else scenario.schema.defaults()
        params = validate(name, given)
        a, b, c = (run_replication(name, params, s) for s in (7, 7, 8))
        assert a == b, name
        assert a.kpis != c.kpis, name


def test_what_if_starts_from_the_given_state() -> None:
    params = validate("queueing_station", {"arrival_rate": 0.5, "horizon": 400.0, "warmup": 0.0})
    busy = run_replication("queueing_station", params, 1, {"queue_length": 40, "busy_servers": 1})
    idle = run_replication("queueing_station", params, 1)
    assert busy.series["in_system"][0] == 41 and idle.series["in_system"][0] == 0
    assert busy.series["in_queue"][0] == 40
    # the backlog drains at about mu - lambda = 0.5 per minute: gone within ~80 min, not within 40
    at = busy.series["t"]
    assert min(v for t, v in zip(at, busy.series["in_system"], strict=True) if t <= 40) > 10
    line = validate("production_line", {"horizon": 300.0, "warmup": 0.0, "mtbf": [0, 0, 0]})
    down = run_replication(
        "production_line", line, 2, {"machines_down": [False, True, False], "buffer_levels": [5, 0]}
    )
    up = run_replication("production_line", line, 2)
    assert down.series["buffer1"][0] == 5 and down.kpis["m2_down"] > 0 and up.kpis["m2_down"] == 0
    ev = validate("ev_charging", {"horizon": 10.0, "warmup": 0.0})
    plugged = run_replication(
        "ev_charging", ev, 3, {"chargers_occupied": [0.1, 0.2, 0.3, 0.4], "queue_length": 2}
    )
    assert plugged.series["occupied"][0] == 4 and plugged.series["waiting"][0] == 2


def test_twin_values_map_to_initial_state() -> None:
    assert kind("ev_charging").state_from_twins(
        [
            {"occupied": True, "soc": 35},
            {"occupied": False},
            {"occupied": True, "soc": 0.5, "queue_length": 3},
        ]
    ) == {"chargers_occupied": [0.35, 0.5], "queue_length": 3}
    assert kind("production_line").state_from_twins(
        [{"state": "busy", "buffer": 2}, {"state": "DOWN", "buffer": 1}, {"state": "idle"}]
    ) == {"machines_down": [False, True, False], "buffer_levels": [2, 1]}
    assert kind("queueing_station").state_from_twins([{"queue_length": 4, "busy_servers": 1}]) == {
        "queue_length": [4],
        "busy_servers": [1],
    }
    assert kind("signalised_intersection").state_from_twins([{"queue_length": 3}, {}]) == {
        "queue_lengths": [3, 0]
    }


@pytest.mark.parametrize(
    ("name", "params", "state", "reasons"),
    [
        ("queueing_station", {"arrival_rate": -1}, None, ["arrival_rate: must be > 0 1/min, got -1.0"]),
        (
            "queueing_station",
            {"servers": 1.5, "colour": "red"},
            None,
            ["colour: unknown parameter", "servers: must be a whole number, got 1.5"],
        ),
        ("queueing_station", {"servers": "2"}, None, ["servers: must be an integer, got '2'"]),
        ("queueing_station", {"warmup": 20_000}, None, ["warmup: must be shorter than the horizon"]),
        (
            "queueing_station",
            {"servers": 2},
            {"busy_servers": 3},
            ["initial_state.busy_servers: cannot exceed"],
        ),
        ("queueing_station", {}, {"queue": 3}, ["initial_state.queue: unknown"]),
        ("production_line", {"buffer_capacities": [5]}, None, ["buffer_capacities: needs 2 entries"]),
        ("production_line", {}, {"buffer_levels": [9, 0]}, ["initial_state.buffer_levels: must be counts"]),
        ("ev_charging", {"arrival_soc_min": 0.9}, None, ["arrival_soc_min: must not exceed arrival_soc_max"]),
        (
            "ev_charging",
            {"chargers": 2},
            {"chargers_occupied": [0.1, 0.2, 0.3]},
            ["initial_state.chargers_occupied"],
        ),
        ("signalised_intersection", {"arrival_rates": [1500, 1500, 600, 600]}, None, ["oversaturated"]),
        ("signalised_intersection", {"cycle": 6}, None, ["cycle: must exceed the lost time 8.0 s"]),
        ("signalised_intersection", {"phase_of": [0, 0, 2, 2]}, None, ["phase_of: phases must be numbered"]),
        ("queueing_network", {"servers": [1, 1, 1]}, None, ["servers: needs one entry per service rate"]),
        (
            "queueing_station",
            {"arrival_rate": 1000, "horizon": 1e6},
            None,
            ["horizon: about 1,000,000,000 entity"],
        ),
    ],
)
def test_invalid_parameters_are_refused_with_reasons(
    name: str, params: dict[str, object], state: dict[str, object] | None, reasons: list[str]
) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate(name, params, state)
    listed = [f"{e['param']}: {e['reason']}" for e in caught.value.extra["errors"]]
    for reason in reasons:
        assert any(line.startswith(reason) or reason in line for line in listed), (reason, listed)
        assert reason.split(":")[0] in caught.value.detail


def test_unknown_kind_bad_sweep_and_replications_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"unknown scenario kind 'rocket'.*queueing_station"):
        validate("rocket", {})
    with pytest.raises(InvalidInput, match=r"replications must be 1\.\.1000"):
        plan("queueing_station", {}, replications=0)
    with pytest.raises(InvalidInput, match=r"sweep point 2: .*servers"):
        plan("queueing_station", {}, sweep={"servers": [1, 0]})
    with pytest.raises(InvalidInput, match="non-empty list"):
        plan("queueing_station", {}, sweep={"servers": []})


def test_every_kind_publishes_a_json_schema_with_units_and_defaults() -> None:
    import jsonschema

    register_scenarios()
    for name, scenario in kinds().items():
        described = scenario.describe()
        schema = described["parameters"]
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.validate(scenario.schema.defaults(), schema)
        validate(name, scenario.schema.defaults())
        assert all("unit" in p and "default" in p for p in schema["properties"].values())
        assert schema["properties"]["horizon"]["unit"] in {"min", "h", "s", "d"}


def _webster_delay(c: float, g: float, q: float, s: float) -> float:
    """Webster (1958) average delay per vehicle, written out here from the published formula."""
    lam, x = g / c, q * c / (s * g)
    return (
        c * (1 - lam) ** 2 / (2 * (1 - lam * x))
        + x**2 / (2 * q * (1 - x))
        - 0.65 * (c / q**2) ** (1 / 3) * x ** (2 + 5 * lam)
    )


@pytest.mark.parametrize(
    "params",
    [
        {},  # four approaches, two phases, Webster's optimal cycle
        {"arrival_rates": [700, 500], "saturation_flows": [1800, 1800], "phase_of": [0, 1]},
        {"arrival_rates": [400, 300], "saturation_flows": [1800, 1600], "phase_of": [0, 1], "cycle": 60.0},
    ],
)
def test_intersection_delay_is_near_websters_formula(params: dict[str, object]) -> None:
    # Webster's formula is itself an empirical fit to simulated Poisson arrivals: agreement within ~10%
    point = run_inline(
        plan("signalised_intersection", dict(params, horizon=100_000.0), seed=5, replications=2)
    )[0]
    full = validate("signalised_intersection", params)
    t = timing(full)
    for i, (q, s, ph) in enumerate(
        zip(full["arrival_rates"], full["saturation_flows"], full["phase_of"], strict=True), 1
    ):
        expected = _webster_delay(t["cycle"], t["greens"][ph], q / 3600, s / 3600)
        simulated = point.kpis[f"a{i}_mean_delay"]["mean"]
        assert simulated == pytest.approx(expected, rel=0.12), (i, simulated, expected)


@pytest.mark.parametrize("horizon", [60.0, 7.0, 1234.567])
def test_a_run_samples_exactly_200_points_at_multiples_of_the_step(horizon: float) -> None:
    params = validate("queueing_station", {"horizon": horizon, "warmup": 0.0})
    times = run_replication("queueing_station", params, 1).series["t"]
    step = horizon / 200
    assert len(times) == 200
    assert times == [k * step for k in range(200)]


def test_a_huge_integer_is_refused_with_a_reason_not_an_overflow() -> None:
    for param in ("servers", "arrival_rate"):  # an integer and a number parameter
        with pytest.raises(InvalidInput) as err:
            validate("queueing_station", {param: 10**400})
        assert err.value.extra["errors"] == [{"param": param, "reason": "must be finite (too large)"}]


def test_a_choice_parameter_is_a_string_enum_and_refuses_other_words() -> None:
    from iplus.engines.sim.schema import Param

    p = Param("source", "choice", "constant", description="where from", choices=("constant", "typical_year"))
    assert p.json_schema() == {
        "description": "where from",
        "unit": "",
        "default": "constant",
        "type": "string",
        "enum": ["constant", "typical_year"],
    }
    assert p.check("typical_year") == ("typical_year", None)
    for bad in ("yearly", 1, None, ["constant"]):
        value, why = p.check(bad)
        assert value is None and why is not None and why.startswith("must be one of constant, typical_year")
