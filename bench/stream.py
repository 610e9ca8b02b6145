"""Stream engine throughput: threshold and window rules over pre-built readings vs a bare Python loop.

The bare loop does the same work by hand on the same readings (hysteresis state per rule and
device; window accumulators per device and window start), without rules as data, lateness,
signals or alarms. Target: >= 100,000 readings/s per core for threshold rules.
"""

from __future__ import annotations

import math
import operator
import sys
import time
from collections.abc import Callable

from bench.report import row
from iplus.engines.stream.engine import LoadedRule, StreamEngine
from iplus.engines.stream.model import parse_rules
from iplus.infra.telemetry import Message

ORG = "bench"
DEVICES = 1000


def readings(n: int) -> list[Message]:
    """``n`` one-reading messages: 1000 devices, a slow sine per device, one reading per second each."""
    out = []
    for i in range(n):
        device = i % DEVICES
        t = i // DEVICES
        value = 30.0 + 10.0 * math.sin(t / 300 + device)
        out.append(Message(ORG, "room", f"d{device}", None, [("temp", t * 1_000_000, value)]))
    return out


def engine_for(yaml_text: str) -> StreamEngine:
    """An engine with the rules of ``yaml_text``."""
    engine = StreamEngine()
    engine.load(ORG, [LoadedRule(r.name, 1, r) for r in parse_rules(yaml_text)])
    return engine


def timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn`` takes (best of 3: the machine is shared)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def thresholds(messages: list[Message]) -> tuple[float, float]:
    """(engine, bare loop) seconds for 10 threshold rules with hysteresis on the same key."""
    rules = "\n".join(
        f"- {{name: t{i}, kind: threshold, key: temp, op: '>', value: {31 + i}, clear: {29 + i}}}"
        for i in range(10)
    )

    def bare() -> int:
        limits = [(31.0 + i, 29.0 + i, set[str]()) for i in range(10)]
        gt, lt = operator.gt, operator.lt
        changes = 0
        for m in messages:
            device = m.device_id
            for key, _, value in m.readings:
                if key != "temp":
                    continue
                for high, low, active in limits:
                    if device in active:
                        if lt(value, low):
                            active.discard(device)
                            changes += 1
                    elif gt(value, high):
                        active.add(device)
                        changes += 1
        return changes

    return timed(lambda: engine_for(rules).process(messages)), timed(bare)


def windows(messages: list[Message]) -> tuple[float, float]:
    """(engine, bare loop) seconds for a tumbling 60 s avg and a sliding 60/10 s max per device."""
    rules = """
- {name: avg, kind: window, key: temp, window: tumbling, size_s: 60, aggregate: avg, op: '>', value: 38}
- {name: max, kind: window, key: temp, window: sliding, size_s: 60, slide_s: 10, aggregate: max,
   op: '>', value: 39}
"""
    size, slide = 60_000_000, 10_000_000

    def bare() -> int:
        tumbling: dict[tuple[str, int], list[float]] = {}
        sliding: dict[tuple[str, int], float] = {}
        for m in messages:
            device = m.device_id
            for _, ts, value in m.readings:
                slot = (device, ts - ts % size)
                acc = tumbling.get(slot)
                if acc is None:
                    tumbling[slot] = [1.0, value]  # type: ignore[list-item]
                else:
                    acc[0] += 1.0
                    acc[1] += value  # type: ignore[operator]
                start = ts - ts % slide
                while start > ts - size:
                    key = (device, start)
                    if value > sliding.get(key, -math.inf):  # type: ignore[operator]
                        sliding[key] = value  # type: ignore[assignment]
                    start -= slide
        return len(tumbling) + len(sliding)

    return timed(lambda: engine_for(rules).process(messages)), timed(bare)


def main(n: int = 1_000_000) -> None:
    """Build the readings once, time both rule sets and their bare loops, print rates and ratios."""
    messages = readings(n)
    print(f"stream engine, {n:,} readings from {DEVICES} devices (one core, best of 3)")
    engine, bare = thresholds(messages)
    row("10 threshold rules (hysteresis)", n / engine, n / bare, "readings/s", "bare loop")
    engine, bare = windows(messages)
    row("2 window rules (tumbling avg, sliding max)", n / engine, n / bare, "readings/s", "bare loop")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
