"""Tumbling and sliding windows, per device and per group, against a brute-force recomputation."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict

import pytest

from iplus.engines.stream.engine import StreamEngine
from iplus.engines.stream.evaluators import WindowEval
from iplus.infra.telemetry import Message
from tests.stream.helpers import ORG, S, engine_with, feed

AGGREGATES = {
    "count": len,
    "sum": sum,
    "min": min,
    "max": max,
    "avg": statistics.fmean,
}


def collect(engine: StreamEngine, rule: str) -> dict[tuple[str, int], float]:
    """Every closed window's aggregate by (subject, start), through the evaluator's result hook."""
    results: dict[tuple[str, int], float] = {}
    evaluator = engine.evaluator(ORG, rule)
    assert isinstance(evaluator, WindowEval)

    def keep(subject: str, start: int, end: int, value: float) -> None:
        assert (subject, start) not in results, "a window closed twice"
        results[(subject, start)] = value

    evaluator.on_result = keep
    return results


def brute_force(
    readings: list[tuple[str, int, float]], size: int, slide: int, aggregate: str
) -> dict[tuple[str, int], float]:
    """Each window [k*slide, k*slide + size) holding at least one reading: the aggregate of its values.

    Enumerates every window start in a range wider than needed and tests membership directly.
    """
    members: dict[tuple[str, int], list[float]] = defaultdict(list)
    for subject, ts, value in readings:
        # every window start k * slide (negative ones too: windows are aligned to the epoch)
        for k in range(-(size // slide) - 1, ts // slide + 1):
            if k * slide <= ts < k * slide + size:
                members[(subject, k * slide)].append(value)
    return {slot: AGGREGATES[aggregate](values) for slot, values in members.items()}


def dataset(seed: int, devices: int = 3, per_device: int = 300, jitter_s: float = 0.0) -> list[Message]:
    """Random readings every ~0.7 s per device, optionally delivered out of order by up to ``jitter_s``."""
    rng = random.Random(seed)
    arrivals = []
    for d in range(devices):
        t = 0.0
        for _ in range(per_device):
            t += rng.uniform(0.1, 1.3)
            value = round(rng.gauss(20, 5), 3)
            arrivals.append(
                (
                    t + rng.uniform(0, jitter_s),
                    Message(ORG, "room", f"d{d}", None, [("temp", int(t * S), value)]),
                )
            )
    arrivals.sort(key=lambda a: a[0])
    return [m for _, m in arrivals]


def close_all(engine: StreamEngine, devices: list[str]) -> None:
    """A reading far in the future per device moves every watermark past all windows."""
    for device in devices:
        feed(engine, device, [("temp", 10**6, 0.0)])


@pytest.mark.parametrize("aggregate", ["count", "sum", "min", "max", "avg"])
@pytest.mark.parametrize(("window", "size", "slide"), [("tumbling", 10, 10), ("sliding", 10, 2.5)])
def test_windows_match_brute_force(aggregate: str, window: str, size: float, slide: float) -> None:
    slide_text = f", slide_s: {slide}" if window == "sliding" else ""
    engine = engine_with(
        f"{{name: w, kind: window, key: temp, window: {window}, size_s: {size}{slide_text},"
        f" aggregate: {aggregate}, op: '>', value: 1e9}}"
    )
    results = collect(engine, "w")
    messages = dataset(seed=7)
    engine.process(messages)
    close_all(engine, ["d0", "d1", "d2"])
    readings = [(m.device_id, m.readings[0][1], float(m.readings[0][2])) for m in messages]
    expected = brute_force(readings, int(size * S), int(slide * S), aggregate)
    assert set(results) == set(expected)
    for slot, value in expected.items():
        assert results[slot] == pytest.approx(value, rel=1e-9, abs=1e-9), slot


def test_out_of_order_within_allowed_lateness_changes_nothing() -> None:
    engine = engine_with(
        "{name: w, kind: window, key: temp, window: sliding, size_s: 10, slide_s: 5, aggregate: avg,"
        " op: '>', value: 1e9, lateness_s: 3}"
    )
    results = collect(engine, "w")
    messages = dataset(seed=11, jitter_s=2.5)  # disorder below the 3 s lateness
    engine.process(messages)
    close_all(engine, ["d0", "d1", "d2"])
    readings = [(m.device_id, m.readings[0][1], float(m.readings[0][2])) for m in messages]
    assert engine.evaluator(ORG, "w").late == 0  # type: ignore[union-attr]
    expected = brute_force(readings, 10 * S, 5 * S, "avg")
    assert set(results) == set(expected)
    assert all(results[k] == pytest.approx(v) for k, v in expected.items())


def test_late_reading_is_dropped_not_folded_into_a_closed_window() -> None:
    engine = engine_with(
        "{name: w, kind: window, key: temp, window: tumbling, size_s: 10, aggregate: sum,"
        " op: '>', value: 100, lateness_s: 2}"
    )
    results = collect(engine, "w")
    # window [0, 10): 40 + 50; the reading at 12 s puts the watermark at 10 s and closes it
    feed(engine, "d1", [("temp", 1, 40), ("temp", 5, 50), ("temp", 12, 1)])
    assert results == {("d1", 0): 90.0}
    # 9 s is now late for the closed window [0, 10): dropped and counted
    feed(engine, "d1", [("temp", 9, 1000)])
    feed(engine, "d1", [("temp", 11, 30)])  # in [10, 20), on time
    signals = feed(engine, "d1", [("temp", 25, 0)])  # watermark 23: closes [10, 20) = 1 + 30
    assert results[("d1", 10 * S)] == 31.0 and engine.evaluator(ORG, "w").late == 1  # type: ignore[union-attr]
    assert signals == []  # 31 is not > 100


def test_window_alarm_raises_and_clears_on_window_results() -> None:
    engine = engine_with(
        "{name: busy, kind: window, key: temp, window: tumbling, size_s: 10, aggregate: count, op: '>=', value: 3}"
    )
    signals = feed(engine, "d1", [("temp", 1, 1), ("temp", 2, 1), ("temp", 3, 1), ("temp", 11, 1)])
    assert [(s.kind, s.value, s.ts) for s in signals] == [("raise", 3.0, 10 * S)]
    signals = feed(engine, "d1", [("temp", 21, 1)])  # [10, 20) held one reading
    assert [(s.kind, s.value) for s in signals] == [("clear", 1.0)]


def test_group_window_spans_the_devices_of_a_tag() -> None:
    engine = engine_with(
        "{name: floor, kind: window, key: temp, window: tumbling, size_s: 10, aggregate: avg,"
        " group_by: group, where: {tags: [floor1]}, op: '>', value: 25}"
    )
    engine.set_devices(
        {
            "d0": ("t", "room", frozenset({"floor1"})),
            "d1": ("t", "room", frozenset({"floor1", "east"})),
            "d2": ("t", "room", frozenset({"floor2"})),
        }
    )
    results = collect(engine, "floor")
    messages = dataset(seed=3)
    signals = engine.process(messages)
    feed(engine, "d0", [("temp", 10**6, 0.0)])
    members = [
        ("group:floor", m.readings[0][1], float(m.readings[0][2])) for m in messages if m.device_id != "d2"
    ]
    # the group's watermark follows the newest reading of any member, so readings of the slower
    # member that arrive after a window closed are late; the brute force applies the same rule
    watermark, kept = -1, []
    for subject, ts, value in members:
        if ts >= (watermark // (10 * S)) * 10 * S or watermark < 0:
            kept.append((subject, ts, value))
        watermark = max(watermark, ts)
    expected = brute_force(kept, 10 * S, 10 * S, "avg")
    assert set(results) == set(expected)
    assert all(results[k] == pytest.approx(v) for k, v in expected.items())
    raised = {s.ts - 10 * S for s in signals if s.kind == "raise"}
    assert raised <= {start for (_, start), v in results.items() if v > 25}
    assert all(s.subject == "group:floor" for s in signals)
