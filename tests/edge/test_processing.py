"""Deadband, tumbling windows, threshold alarms with hysteresis, and the per-device processor."""

from __future__ import annotations

import pytest

from iplus.access.edge import Deadband, Reading, ThresholdAlarm, TumblingWindow, WindowResult
from iplus.access.edge.config import Aggregate, DeviceConfig, Op
from iplus.access.edge.pipeline import Processor


def passed(band: Deadband, values: list[object]) -> list[object]:
    return [v for v in values if band.offer(v)]  # type: ignore[arg-type]


def test_deadband_forwards_only_moves_larger_than_the_band_since_the_last_forwarded() -> None:
    # 10.0 first; 10.3 (0.3) and 10.5 (exactly 0.5, not more) stay; 10.6 (0.6) goes;
    # 10.2 is 0.4 from 10.6 and stays; 10.0 is 0.6 from 10.6 and goes
    assert passed(Deadband(0.5), [10.0, 10.3, 10.5, 10.6, 10.2, 10.0]) == [10.0, 10.6, 10.0]


def test_deadband_measures_from_the_last_forwarded_value_not_the_last_seen() -> None:
    # a slow drift of 0.2 per step is forwarded every third step
    assert passed(Deadband(0.5), [0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2]) == [0, 0.6, 1.2]


def test_deadband_zero_drops_only_repeats_and_non_numbers_pass_on_change() -> None:
    assert passed(Deadband(0), [1, 1, 2, 2, 1]) == [1, 2, 1]
    assert passed(Deadband(5), ["on", "on", "off", "on"]) == ["on", "off", "on"]
    assert passed(Deadband(5), [True, True, False]) == [True, False]
    assert passed(Deadband(5), [1, True]) == [1, True]  # a boolean is not the number 1


def test_tumbling_window_average_closes_when_a_later_window_starts() -> None:
    w = TumblingWindow(10, Aggregate.AVG)
    assert w.add(100, 1) is None
    assert w.add(105, 3) is None
    assert w.add(109.999, 5) is None
    assert w.add(110, 10) == WindowResult(100, 110, 3.0, 3)  # (1 + 3 + 5) / 3
    assert w.add(125, 7) == WindowResult(110, 120, 10.0, 1)  # 120..130 opens, 110..120 had one value
    assert w.add(103, 99) is None and w.late == 1  # its window is long gone
    assert w.flush() == WindowResult(120, 130, 7.0, 1)
    assert w.flush() is None


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [
        (Aggregate.AVG, 3.0),  # (4 - 2 + 7) / 3 numbers
        (Aggregate.MIN, -2.0),
        (Aggregate.MAX, 7.0),
        (Aggregate.SUM, 9.0),
        (Aggregate.COUNT, 4),  # counts the string too
        (Aggregate.LAST, "x"),
    ],
)
def test_each_aggregate(aggregate: Aggregate, expected: object) -> None:
    w = TumblingWindow(60, aggregate)
    for ts, v in [(0, 4), (10, -2), (20, 7), (30, "x")]:
        assert w.add(ts, v) is None  # type: ignore[arg-type]
    result = w.flush()
    assert result is not None and result.value == expected and result.count == 4
    assert (result.start, result.end) == (0, 60)


def test_a_window_of_only_strings_yields_nothing_for_numeric_aggregates() -> None:
    w = TumblingWindow(60, Aggregate.AVG)
    w.add(0, "a")
    assert w.flush() is None


def test_window_closes_on_the_clock_after_its_end_plus_grace_and_later_values_are_late() -> None:
    w = TumblingWindow(10, Aggregate.MAX)
    w.add(121, 2)
    w.add(128, 5)
    assert w.close_due(131.9, grace=2) is None  # end 130 + grace 2 not reached
    assert w.close_due(132, grace=2) == WindowResult(120, 130, 5.0, 2)
    assert w.add(129, 9) is None and w.late == 1  # 120..130 was already sent
    assert w.add(130, 1) is None and w.late == 1  # 130..140 is new
    assert w.flush() == WindowResult(130, 140, 1.0, 1)


def test_window_alignment_is_to_the_epoch() -> None:
    w = TumblingWindow(60, Aggregate.COUNT)
    w.add(1_700_000_030, 1)  # 1_700_000_030 // 60 * 60 = 1_699_999_980
    assert w.flush() == WindowResult(1_699_999_980, 1_700_000_040, 1, 1)


def feed(alarm: ThresholdAlarm, values: list[float]) -> list[bool | None]:
    return [alarm.update(v) for v in values]


def test_alarm_above_with_hysteresis() -> None:
    # raise when > 90; clear only when no longer > 85
    alarm = ThresholdAlarm(Op.GT, 90, hysteresis=5)
    assert feed(alarm, [85, 90, 91, 88, 85.1, 85, 86, 95]) == [
        None,
        None,
        True,
        None,
        None,
        False,
        None,
        True,
    ]
    assert alarm.active


def test_alarm_below_with_hysteresis() -> None:
    # raise when < 10; clear only when no longer < 12
    alarm = ThresholdAlarm(Op.LT, 10, hysteresis=2)
    assert feed(alarm, [11, 10, 9.9, 11.9, 12, 9]) == [None, None, True, None, False, True]


def test_alarm_inclusive_operators() -> None:
    # >= 50 without hysteresis: clears as soon as the value is below 50
    assert feed(ThresholdAlarm(Op.GE, 50), [49.9, 50, 50, 49.99, 50]) == [None, True, None, False, True]
    # <= 5 with 1 of hysteresis: clears once the value is above 6
    assert feed(ThresholdAlarm(Op.LE, 5, 1), [5, 5.5, 6, 6.01]) == [True, None, None, False]


def test_alarm_restored_active_does_not_raise_again() -> None:
    alarm = ThresholdAlarm(Op.GT, 90, 5, active=True)
    assert feed(alarm, [95, 80]) == [None, False]


def boiler() -> DeviceConfig:
    return DeviceConfig.model_validate(
        {
            "id": "boiler",
            "properties": {
                "temp": {"deadband": 0.5},
                "hum": {"window": {"seconds": 60, "aggregate": "avg"}},
            },
            "alarms": [{"name": "hot", "property": "temp", "op": ">", "threshold": 30, "hysteresis": 2}],
        }
    )


def test_processor_combines_deadband_window_and_alarm_per_device() -> None:
    p = Processor([boiler()])
    out, events = p.process(Reading("boiler", 0, {"temp": 20.0, "hum": 40, "mode": "auto"}))
    assert out == [Reading("boiler", 0, {"temp": 20.0, "mode": "auto"})]  # hum waits for its window
    assert events == []
    out, events = p.process(Reading("boiler", 30, {"temp": 20.3, "hum": 50}))
    assert out == []  # 0.3 is inside the deadband, hum still windowed
    out, events = p.process(Reading("boiler", 61, {"temp": 31.0, "hum": 70}))
    # the 0..60 window closes with (40 + 50) / 2, labelled by its start, before the new values
    assert out == [
        Reading("boiler", 0, {"hum": 45.0}),
        Reading("boiler", 61, {"temp": 31.0}),
        Reading("boiler", 61, {"alarm.hot": True}),  # apart, so a platform may refuse it alone
    ]
    assert [(e.alarm, e.active, e.value) for e in events] == [("hot", True, 31.0)]
    out, events = p.process(Reading("boiler", 62, {"temp": 28.5}))
    assert out == [Reading("boiler", 62, {"temp": 28.5})] and events == []  # 28.5 is still > 28
    out, events = p.process(Reading("boiler", 63, {"temp": 28.0}))
    assert out == [Reading("boiler", 63, {"alarm.hot": False})]  # cleared; 28.0 is within 0.5 of 28.5
    assert [(e.alarm, e.active) for e in events] == [("hot", False)]
    assert p.flush() == [Reading("boiler", 60, {"hum": 70.0})]


def test_processor_passes_unknown_devices_unchanged_and_closes_windows_on_the_clock() -> None:
    p = Processor([boiler()], window_grace_s=5)
    reading = Reading("other", 1, {"x": 1}, "m1")
    assert p.process(reading) == ([reading], [])
    p.process(Reading("boiler", 10, {"hum": 30}))
    assert p.close_due(64.9) == []
    assert p.close_due(65) == [Reading("boiler", 0, {"hum": 30.0})]


def test_processor_restores_alarm_state() -> None:
    p = Processor([boiler()], alarm_states={("boiler", "hot"): True})
    out, events = p.process(Reading("boiler", 0, {"temp": 35.0}))
    assert events == [] and out == [Reading("boiler", 0, {"temp": 35.0})]
