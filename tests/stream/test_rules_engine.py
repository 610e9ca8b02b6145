"""Threshold with hysteresis, hold time, late readings, CEP sequences, derived properties, anomaly."""

from __future__ import annotations

import pytest

from iplus.engines.stream.engine import Derived, LoadedRule, StreamEngine
from iplus.engines.stream.expr import compile_expression
from iplus.engines.stream.model import parse_rules
from tests.stream.helpers import ORG, engine_with, feed, zscore_factory

HYSTERESIS = "{name: hot, kind: threshold, key: temp, op: '>', value: 30, clear: 28, severity: critical}"


def kinds(signals: list) -> list[tuple[str, float]]:  # type: ignore[type-arg]
    return [(s.kind, s.value) for s in signals]


def test_hysteresis_raises_above_30_and_clears_only_below_28() -> None:
    engine = engine_with(HYSTERESIS)
    values = [25, 31, 29, 30.5, 27.9, 28, 31, 33, 27]
    signals = feed(engine, "d1", [("temp", i, v) for i, v in enumerate(values)])
    # worked by hand: 31 > 30 raises; 29 and 30.5 stay raised (not below 28); 27.9 clears;
    # 28 is neither above 30 nor below 28; 31 raises again; 27 clears
    assert kinds(signals) == [("raise", 31), ("clear", 27.9), ("raise", 31), ("clear", 27)]
    assert [s.ts for s in signals] == [1_000_000, 4_000_000, 6_000_000, 8_000_000]
    assert all(s.subject == "d1" and s.rule_id == "hot" for s in signals)


def test_without_clear_value_every_crossing_toggles() -> None:
    engine = engine_with("{name: hot, kind: threshold, key: temp, op: '>', value: 30}")
    signals = feed(engine, "d1", [("temp", i, v) for i, v in enumerate([25, 31, 29, 30.5, 27.9])])
    assert kinds(signals) == [("raise", 31), ("clear", 29), ("raise", 30.5), ("clear", 27.9)]


def test_devices_have_their_own_state_and_late_readings_are_skipped() -> None:
    engine = engine_with(HYSTERESIS)
    assert kinds(feed(engine, "d1", [("temp", 10, 31)])) == [("raise", 31)]
    assert kinds(feed(engine, "d2", [("temp", 10, 20)])) == []
    # an older reading of d1 (event time 5 < 10) must not clear what newer data raised
    assert kinds(feed(engine, "d1", [("temp", 5, 10)])) == []
    assert engine.late == 1
    assert kinds(feed(engine, "d1", [("temp", 11, 10)])) == [("clear", 10)]


def test_hold_time_needs_the_condition_for_the_whole_span() -> None:
    engine = engine_with("{name: hot, kind: threshold, key: temp, op: '>', value: 30, for_s: 10}")
    readings = [("temp", 0, 31), ("temp", 5, 32), ("temp", 9, 29), ("temp", 10, 31), ("temp", 15, 31)]
    assert feed(engine, "d1", readings) == []  # the dip at t=9 restarted the hold at t=10
    [signal] = feed(engine, "d1", [("temp", 20, 31)])
    assert (signal.kind, signal.ts) == ("raise", 20_000_000)


def test_rule_filter_by_device_type_and_tag() -> None:
    engine = engine_with(
        "{name: hot, kind: threshold, key: temp, op: '>', value: 30, where: {type: room, tags: [floor1]}}"
    )
    engine.set_devices({"d1": ("t1", "room", frozenset({"floor1"})), "d2": ("t1", "room", frozenset())})
    assert kinds(feed(engine, "d1", [("temp", 1, 31)])) == [("raise", 31)]
    assert feed(engine, "d2", [("temp", 1, 31)]) == []
    assert feed(engine, "d3", [("temp", 1, 31)]) == []  # unknown to the directory


def test_sequence_within_and_outside_the_span() -> None:
    engine = engine_with(
        """
        name: door-then-hot
        kind: sequence
        within_s: 60
        steps: [{key: door, op: '==', value: 1}, {key: temp, op: '>', value: 30}]
        """
    )
    inside = feed(engine, "d1", [("door", 0, 1), ("temp", 10, 25), ("temp", 30, 31)])
    assert kinds(inside) == [("raise", 31)] and inside[0].ts == 30_000_000
    # the match is consumed: more heat without a new door event raises nothing
    assert feed(engine, "d1", [("temp", 40, 35)]) == []
    # door at 100, heat at 200: 100 s apart, outside the 60 s span
    assert feed(engine, "d1", [("door", 100, 1), ("temp", 200, 31)]) == []
    # heat before the door does not count (order matters)
    assert feed(engine, "d2", [("temp", 0, 31), ("door", 1, 1)]) == []


def test_three_step_sequence_keeps_the_newest_start() -> None:
    engine = engine_with(
        """
        name: abc
        kind: sequence
        within_s: 10
        steps: [{key: a, op: '>', value: 0}, {key: b, op: '>', value: 0}, {key: c, op: '>', value: 0}]
        """
    )
    # a at 0 is too old by c at 12, but the restart a at 5 -> b at 6 -> c at 12 is within 10 s
    readings = [("a", 0, 1), ("b", 1, 1), ("a", 5, 1), ("b", 6, 1), ("c", 12, 1)]
    assert kinds(feed(engine, "d1", readings)) == [("raise", 1)]
    assert feed(engine, "d1", [("a", 20, 1), ("b", 21, 1), ("c", 31, 1)]) == []  # 11 s


def test_derived_property_feeds_other_rules() -> None:
    engine = engine_with(
        """
        - {name: fahrenheit, kind: derived, output: temp_f, expression: 'temp * 9 / 5 + 32'}
        - {name: dew, kind: derived, output: spread, expression: 'temp - (100 - hum) / 5'}
        - {name: hot-f, kind: threshold, key: temp_f, op: '>', value: 86}
        """
    )
    derived: list[Derived] = []
    signals = feed(engine, "d1", [("temp", 1, 25), ("temp", 2, 31)], derived)
    assert [(d.key, d.value) for d in derived] == [("temp_f", 77.0), ("temp_f", pytest.approx(87.8))]
    assert kinds(signals) == [("raise", pytest.approx(87.8))]
    derived.clear()
    feed(engine, "d1", [("hum", 3, 60)], derived)
    # the dew-point spread needs both keys: computed once hum arrives, with the last temp (31)
    assert [(d.key, d.value) for d in derived] == [("spread", 31 - 40 / 5)]


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os').system('true')",
        "temp.real",
        "[temp]",
        "open('x')",
        "lambda: 1",
        "temp if",
        "'a' + 'b'",
    ],
)
def test_expressions_refuse_anything_but_arithmetic(source: str) -> None:
    with pytest.raises(ValueError):
        compile_expression(source)


def test_expressions_compute_like_arithmetic() -> None:
    e = compile_expression("max(a, b) ** 2 + sqrt(16) - (a > b) + round(2.567, 2)")
    assert e.inputs == {"a", "b"}
    assert e.evaluate({"a": 3.0, "b": 2.0}) == pytest.approx(9 + 4 - 1 + 2.57)


def test_anomaly_rule_scores_with_the_detector_handed_in() -> None:
    engine = StreamEngine(detectors=zscore_factory)
    engine_with(
        "{name: odd, kind: anomaly, key: flow, model: zscore, threshold: 4, clear: 2, warmup: 10}", engine
    )
    normal = [("flow", i, 19.0 if i % 2 else 21.0) for i in range(40)]
    assert feed(engine, "d1", normal) == []
    # 40 readings alternating 19/21: mean 20, sample std ~1.01, so 40 scores ~19.7 >= 4
    signals = feed(engine, "d1", [("flow", 40, 40.0)])
    assert kinds(signals) == [("raise", 40.0)] and "scored" in signals[0].detail
    # back to normal: score well under 2 clears
    assert kinds(feed(engine, "d1", [("flow", 41, 20.0)])) == [("clear", 20.0)]


def test_anomaly_rule_with_unknown_model_is_not_loaded() -> None:
    engine = StreamEngine(detectors=zscore_factory)
    [rule] = parse_rules("{name: odd, kind: anomaly, key: flow, model: nope, threshold: 4}")
    failed = engine.load(ORG, [LoadedRule("odd", 1, rule)])
    assert failed and "nope" in failed[0][1]


def test_reload_keeps_state_of_unchanged_rules_and_resets_changed_ones() -> None:
    engine = engine_with(HYSTERESIS)
    assert kinds(feed(engine, "d1", [("temp", 1, 31)])) == [("raise", 31)]
    [same] = parse_rules(HYSTERESIS)
    engine.load(ORG, [LoadedRule("hot", 1, same)])
    assert kinds(feed(engine, "d1", [("temp", 2, 27)])) == [("clear", 27)]  # still knew it was raised
    [changed] = parse_rules(HYSTERESIS.replace("value: 30, clear: 28", "value: 20, clear: 18"))
    engine.load(ORG, [LoadedRule("hot", 2, changed)])
    assert kinds(feed(engine, "d1", [("temp", 3, 25)])) == [("raise", 25)]
