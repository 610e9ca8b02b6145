"""The on-disk queue: sequence and msg ids, dead letters, input de-duplication, reopening."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from iplus.access.edge import Buffer, Reading
from iplus.access.edge.buffer import AlarmEvent
from iplus.access.edge.model import Rejected
from iplus.core.errors import ConfigurationError


def enqueue(buffer: Buffer, readings: list[Reading]) -> None:
    with buffer.transaction():
        buffer.enqueue(readings)


def test_sequence_msg_ids_and_order(tmp_path: Path) -> None:
    before_us = time.time_ns() // 1000
    buffer = Buffer(tmp_path / "q.db", "gw-1")
    enqueue(buffer, [Reading("a", 1_700_000_000.25, {"t": 1.5}), Reading("b", 1_700_000_001, {"on": True})])
    first, second = buffer.peek(10)
    # the sequence starts at the creation time in µs, so a re-created file never reuses a msg id
    assert first.seq > before_us and second.seq == first.seq + 1
    assert first.msg_id == f"gw-1-{first.seq}"
    assert first.as_json() == {
        "device_id": "a",
        "msg_id": f"gw-1-{first.seq}",
        "ts": "2023-11-14T22:13:20.250000+00:00",
        "values": {"t": 1.5},
    }
    assert second.values == {"on": True}
    assert [m.seq for m in buffer.peek(1)] == [first.seq]
    buffer.close()


def test_ack_removes_and_sequence_is_never_reused_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    buffer = Buffer(path, "gw-1")
    enqueue(buffer, [Reading("a", 0, {"n": i}) for i in range(3)])
    batch = buffer.peek(10)
    buffer.ack([m.seq for m in batch])
    assert buffer.queued() == 0
    buffer.close()
    buffer = Buffer(path, "gw-1")
    enqueue(buffer, [Reading("a", 0, {"n": 3})])
    (again,) = buffer.peek(10)
    assert again.seq == batch[-1].seq + 1  # AUTOINCREMENT: an emptied queue does not restart at 1
    buffer.close()


def test_rollback_keeps_nothing(tmp_path: Path) -> None:
    buffer = Buffer(tmp_path / "q.db", "gw-1")
    with pytest.raises(RuntimeError), buffer.transaction():
        buffer.enqueue([Reading("a", 0, {"n": 1})])
        raise RuntimeError("disk full, say")
    assert buffer.queued() == 0
    buffer.close()


def test_dead_letter_moves_rows_with_reason(tmp_path: Path) -> None:
    buffer = Buffer(tmp_path / "q.db", "gw-1")
    enqueue(buffer, [Reading("a", 0, {"n": i}) for i in range(3)])
    batch = buffer.peek(10)
    buffer.dead_letter([(batch[1], "unknown device a")], 422)
    assert [m.seq for m in buffer.peek(10)] == [batch[0].seq, batch[2].seq]
    (dead,) = buffer.dead_letters()
    assert dead["msg_id"] == batch[1].msg_id and dead["status"] == 422
    assert dead["reason"] == "unknown device a" and dead["payload"] == '{"n":1}'
    with buffer.transaction():
        buffer.reject_inputs([Rejected("b", "{oops", "payload is not JSON")], 0)
    assert buffer.dead_letters()[-1]["reason"] == "payload is not JSON"
    buffer.close()


def test_input_seen_once_by_device_and_msg_id(tmp_path: Path) -> None:
    buffer = Buffer(tmp_path / "q.db", "gw-1")
    r1, r2, r3 = Reading("a", 0, {"n": 1}, "m1"), Reading("b", 0, {"n": 1}, "m1"), Reading("a", 0, {"n": 1})
    with buffer.transaction():
        assert buffer.first_seen([r1, r2, r3, r1], now=100) == [r1, r2, r3]
        assert buffer.first_seen([r1, r3], now=101) == [r3]  # no msg_id: cannot tell, passes
        buffer.forget_inputs_before(100.5)
        assert buffer.first_seen([r1], now=102) == [r1]
    buffer.close()


def test_alarm_state_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    buffer = Buffer(path, "gw-1")
    with buffer.transaction():
        buffer.record_alarms(
            [AlarmEvent("a", "hot", True, "t", 91.0, 10), AlarmEvent("a", "hot", False, "t", 80, 20)]
        )
        buffer.record_alarms([AlarmEvent("b", "cold", True, "t", -5.0, 30)])
    buffer.close()
    buffer = Buffer(path, "gw-1")
    assert buffer.alarm_states() == {("a", "hot"): False, ("b", "cold"): True}
    assert [(e.alarm, e.active, e.ts) for e in buffer.alarm_events()] == [
        ("hot", True, 10),
        ("hot", False, 20),
        ("cold", True, 30),
    ]
    buffer.close()


def test_a_buffer_belongs_to_one_gateway(tmp_path: Path) -> None:
    Buffer(tmp_path / "q.db", "gw-1").close()
    with pytest.raises(ConfigurationError, match="belongs to gateway 'gw-1'"):
        Buffer(tmp_path / "q.db", "gw-2")
