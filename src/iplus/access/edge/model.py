"""The edge agent's message types and the decoder of flat JSON readings."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from iplus.access.codec import parse_ts as codec_parse_ts
from iplus.core.errors import InvalidInput

Scalar = float | int | str | bool
RESERVED = ("ts", "msg_id")
MAX_ID = 128  # the platform refuses longer device and message ids


@dataclass(frozen=True, slots=True)
class Reading:
    """Values of one device at one time (seconds since the epoch), with the source's message id if any."""

    device_id: str
    ts: float
    values: Mapping[str, Scalar]
    source_msg_id: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """Input that could not be decoded, kept in the dead-letter table so nothing vanishes silently."""

    device_id: str
    payload: str
    reason: str


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A queued message as the platform receives it; ``seq`` orders the queue."""

    seq: int
    device_id: str
    msg_id: str
    ts: str
    values: Mapping[str, Scalar]

    def as_json(self) -> dict[str, Any]:
        """The message in the shape of the platform's batch endpoint."""
        return {"device_id": self.device_id, "msg_id": self.msg_id, "ts": self.ts, "values": self.values}


def is_number(value: object) -> bool:
    """True for int and float but not bool (JSON true is not a measurement of 1)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def iso(ts: float) -> str:
    """Seconds since the epoch as ISO 8601 in UTC with an explicit offset."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds")


def parse_ts(raw: object, now: float) -> float:
    """A reading time: ISO 8601 with an offset, or seconds since the epoch; absent means ``now``.

    The platform's own rules, so the gateway refuses exactly what the platform would refuse.
    """
    return codec_parse_ts(raw, round(now * 1_000_000)) / 1_000_000


def check_device_id(device_id: str) -> str:
    """The device id, or InvalidInput when it is empty, too long or unusable in an MQTT topic."""
    if not device_id or len(device_id) > MAX_ID or any(c in device_id for c in "/+#"):
        raise InvalidInput(f"device id {device_id[:MAX_ID]!r} is empty, too long or contains / + #")
    return device_id


def reading_from_object(device_id: str, obj: object, now: float) -> Reading:
    """A reading from a decoded flat object ``{key: value, "ts"?: ..., "msg_id"?: ...}``."""
    if not isinstance(obj, dict):
        raise InvalidInput("a reading must be a JSON object of key: value")
    msg_id = obj.get("msg_id")
    if msg_id is not None and (not isinstance(msg_id, str) or not 0 < len(msg_id) <= MAX_ID):
        raise InvalidInput(f"msg_id must be a string of 1 to {MAX_ID} characters")
    values: dict[str, Scalar] = {}
    for key, value in obj.items():
        if key in RESERVED or value is None:  # null means "no value this time"
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"{key}: {value} is not a finite number")
        if not isinstance(value, int | float | str | bool):
            raise InvalidInput(f"{key}: expected a number, string or boolean, got {type(value).__name__}")
        values[key] = value
    if not values:
        raise InvalidInput("the reading carries no values")
    return Reading(check_device_id(device_id), parse_ts(obj.get("ts"), now), values, msg_id)


def decode_flat(device_id: str, payload: bytes, now: float) -> list[Reading]:
    """Readings from a JSON payload holding one flat object or a list of them."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"payload is not JSON: {exc}") from exc
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise InvalidInput("the payload holds no readings")
    return [reading_from_object(device_id, item, now) for item in items]
