"""Types of the telemetry store port: messages to append, readings and aggregates read back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

Value = float | str | bool
AGGREGATES = ("count", "min", "max", "avg", "sum", "first", "last")
Aggregate = Literal["count", "min", "max", "avg", "sum", "first", "last"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(ts: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    delta = ts - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    """Aware UTC datetime from microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=us)


@dataclass(slots=True)
class Message:
    """One device message: its readings are stored together or not at all."""

    org_id: str
    type_id: str
    device_id: str
    msg_id: str | None
    # (property key, time in microseconds since the epoch, value)
    readings: list[tuple[str, int, Value]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Reading:
    """One stored value of one property of one device."""

    device_id: str
    key: str
    ts: datetime
    value: Value | None


@dataclass(frozen=True)
class Selection:
    """Which readings a query covers: an organisation's devices, keys and a half-open time range."""

    org_id: str
    device_ids: list[str] | None = None
    keys: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class BucketRow:
    """Aggregates of one bucket, for one device and key (device is None when grouped)."""

    bucket: datetime
    device_id: str | None
    key: str
    values: dict[str, float | int | None]


def split_value(value: Value) -> tuple[float | None, str | None, bool | None]:
    """The (number, text, flag) columns a value is stored in."""
    if isinstance(value, bool):
        return None, None, value
    if isinstance(value, str):
        return None, value, None
    return float(value), None, None


def join_value(num: float | None, txt: str | None, flag: bool | None) -> Value | None:
    """The value stored in (number, text, flag) columns."""
    if flag is not None:
        return bool(flag)
    if txt is not None:
        return txt
    return num


def latest_of(messages: list[Message]) -> dict[tuple[str, str], tuple[str, str, int, Value]]:
    """Newest reading per (device, key) across messages: (org, type, ts, value)."""
    latest: dict[tuple[str, str], tuple[str, str, int, Value]] = {}
    for m in messages:
        for key, ts, value in m.readings:
            slot = (m.device_id, key)
            current = latest.get(slot)
            if current is None or ts >= current[2]:
                latest[slot] = (m.org_id, m.type_id, ts, value)
    return latest


def fresh_messages(messages: list[Message], seen: set[tuple[str, str]]) -> list[bool]:
    """Which messages are new: not in ``seen`` and not repeated earlier in the same batch."""
    out: list[bool] = []
    batch_seen: set[tuple[str, str]] = set()
    for m in messages:
        if m.msg_id is None:
            out.append(True)
            continue
        slot = (m.device_id, m.msg_id)
        fresh = slot not in seen and slot not in batch_seen
        batch_seen.add(slot)
        out.append(fresh)
    return out
