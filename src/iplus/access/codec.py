"""Decode device payloads (flat JSON or SenML) and validate every reading against the thing model."""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from typing import TYPE_CHECKING, Any

import orjson

from iplus.core.clock import utcnow
from iplus.core.errors import InvalidInput
from iplus.infra.telemetry import Message, Value, to_us
from iplus.infra.tsdb.columns import ColumnarMessages, ReadingColumns
from iplus.standards.senml import resolve
from iplus.standards.wot import PropertySpec

if TYPE_CHECKING:
    from iplus.access.registry import DeviceIdentity

RESERVED = ("ts", "msg_id")
INF = math.inf
LATEST_TIME = 32503680000  # 3000-01-01 in seconds since the epoch
MAX_MSG_ID = 128


@dataclass(slots=True)
class Decoded:
    """One message's readings (key, time in µs, value) or the reasons it was refused."""

    msg_id: str | None
    readings: list[tuple[str, int, Value]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def parse_ts(raw: Any, now_us: int) -> int:
    """A reading time: ISO 8601 with a UTC offset, or seconds since the epoch; absent means now."""
    if raw is None:
        return now_us
    if isinstance(raw, bool):
        raise InvalidInput("ts must be an ISO 8601 time or seconds since the epoch")
    if isinstance(raw, int | float):
        if not math.isfinite(raw) or not 0 <= raw < LATEST_TIME:
            raise InvalidInput(f"ts {raw} is not a plausible time in seconds since the epoch")
        return int(raw * 1_000_000)
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError as exc:
            raise InvalidInput(f"ts {raw!r} is not an ISO 8601 time") from exc
        if parsed.tzinfo is None:
            raise InvalidInput(f"ts {raw!r} has no UTC offset (add Z or +hh:mm)")
        us = to_us(parsed)
        if not 0 <= us < LATEST_TIME * 1_000_000:
            raise InvalidInput(f"ts {raw!r} is outside 1970 to 3000")
        return us
    raise InvalidInput("ts must be an ISO 8601 time or seconds since the epoch")


def check_value(spec: PropertySpec | None, key: str, value: Any) -> tuple[Value | None, str | None]:
    """The value as stored, or the reason it breaks the property's schema."""
    if spec is None:
        return None, f"{key}: unknown property"
    kind = spec.type
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, f"{key}: expected a number, got {type(value).__name__}"
        if not math.isfinite(value):
            return None, f"{key}: {value} is not a finite number"
        value = float(value)
    elif kind == "integer":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not value.is_integer())
        ):
            return None, f"{key}: expected an integer, got {value!r}"
        value = float(value)
    elif kind == "boolean":
        if not isinstance(value, bool):
            return None, f"{key}: expected true or false, got {value!r}"
    elif not isinstance(value, str):
        return None, f"{key}: expected a string, got {type(value).__name__}"
    if isinstance(value, float):
        if spec.minimum is not None and value < spec.minimum:
            return None, f"{key}: {value:g} is below the minimum {spec.minimum:g}"
        if spec.maximum is not None and value > spec.maximum:
            return None, f"{key}: {value:g} is above the maximum {spec.maximum:g}"
    if spec.enum is not None and value not in spec.enum:
        return None, f"{key}: {value!r} is not one of {list(spec.enum)}"
    return value, None


def _msg_id(raw: Any, reasons: list[str]) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str | int) or isinstance(raw, bool) or not 0 < len(str(raw)) <= MAX_MSG_ID:
        reasons.append(f"msg_id must be a string of 1 to {MAX_MSG_ID} characters")
        return None
    return str(raw)


def decode_values(
    values: Any, props: dict[str, PropertySpec], ts_raw: Any, msg_id_raw: Any, now_us: int
) -> Decoded:
    """A flat ``{key: value}`` message (``ts`` and ``msg_id`` given separately)."""
    reasons: list[str] = []
    out = Decoded(_msg_id(msg_id_raw, reasons), reasons=reasons)
    try:
        ts = parse_ts(ts_raw, now_us)
    except InvalidInput as exc:
        reasons.append(exc.detail)
        ts = now_us
    if not isinstance(values, dict) or not values:
        reasons.append("values must be a non-empty JSON object of property: value")
        return out
    append = out.readings.append
    for key, raw in values.items():
        spec = props.get(key)
        # fast path for the common case, a float inside a number property's bounds; the rest
        # (and every refusal, with its reason) goes through check_value
        if (
            raw.__class__ is float
            and spec is not None
            and spec.type == "number"
            and -INF < raw < INF
            and (spec.minimum is None or raw >= spec.minimum)
            and (spec.maximum is None or raw <= spec.maximum)
            and spec.enum is None
        ):
            append((key, ts, raw))
            continue
        value, why = check_value(spec, key, raw)
        if why is not None:
            reasons.append(why)
        else:
            append((key, ts, value))  # type: ignore[arg-type]
    return out


def _senml_key(name: str) -> str:
    # the property is the last segment of the resolved name: "urn:dev:ow:10e2:temp" -> "temp"
    return name.replace("/", ":").rsplit(":", 1)[-1]


def decode_senml(pack: Any, props: dict[str, PropertySpec], msg_id_raw: Any, now: float) -> Decoded:
    """A SenML pack; units given in records must match the model's units."""
    reasons: list[str] = []
    out = Decoded(_msg_id(msg_id_raw, reasons), reasons=reasons)
    try:
        records = resolve(pack, now=now)
    except InvalidInput as exc:
        reasons.append(f"SenML: {exc.detail}")
        return out
    for record in records:
        key = _senml_key(record.name)
        spec = props.get(key)
        if record.value is None:
            reasons.append(f"{key}: SenML sums are not stored; send a value")
            continue
        if spec is not None and record.unit and spec.unit and record.unit != spec.unit:
            reasons.append(f"{key}: unit {record.unit} but the model says {spec.unit}")
            continue
        if not 0 <= record.time < LATEST_TIME:
            reasons.append(f"{key}: time {record.time:g} is not a plausible time in seconds since the epoch")
            continue
        value, why = check_value(spec, key, record.value)
        if why is not None:
            reasons.append(why)
        else:
            out.readings.append((key, int(record.time * 1_000_000), value))  # type: ignore[arg-type]
    return out


def decode_payload(
    payload: bytes | Any, props: dict[str, PropertySpec], *, msg_id: str | None = None
) -> Decoded:
    """A device's own payload: flat object, SenML array, or ``{"msg_id": ..., "senml": [...]}``."""
    now = utcnow()
    if isinstance(payload, bytes | bytearray | memoryview | str):
        try:
            payload = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            return Decoded(None, reasons=[f"payload is not JSON: {exc}"])
    if isinstance(payload, list):
        return decode_senml(payload, props, msg_id, now.timestamp())
    if isinstance(payload, dict):
        if "senml" in payload:
            return decode_senml(payload["senml"], props, payload.get("msg_id", msg_id), now.timestamp())
        values = {k: v for k, v in payload.items() if k not in RESERVED}
        return decode_values(values, props, payload.get("ts"), payload.get("msg_id", msg_id), to_us(now))
    return Decoded(None, reasons=["payload must be a JSON object or a SenML array"])


def _number_bounds(spec: PropertySpec | None) -> tuple[float, float] | None:
    """(minimum, maximum) of a plain number property, or None when its values need the slow checks."""
    if spec is None or spec.type != "number" or spec.enum is not None:
        return None
    low = -INF if spec.minimum is None else float(spec.minimum)
    high = INF if spec.maximum is None else float(spec.maximum)
    # an integer bound a float cannot hold exactly would compare differently than in check_value
    if (spec.minimum is not None and low != spec.minimum) or (
        spec.maximum is not None and high != spec.maximum
    ):
        return None
    return low, high


def decode_batch_columns(
    items: list[Any], identities: dict[str, DeviceIdentity], now_us: int
) -> ColumnarMessages | None:
    """Batch messages of number properties checked column by column; None sends them the per-reading way."""
    # None whenever any message needs the per-reading path, which also lists every reason a message
    # is refused; otherwise exactly what decode_values gives per message, plus the readings as
    # columns for the store. ``identities`` holds the caller's known devices by id.
    # The thousands of containers built here would trigger a collection every 700 allocations,
    # each walking the survivors again (about half the decoding time); one collection afterwards
    # does the same job. Nothing here awaits, so no other code runs with the collector paused.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _decode_batch_columns(items, identities, now_us)
    finally:
        if paused:
            gc.enable()


def _decode_batch_columns(
    items: list[Any], identities: dict[str, DeviceIdentity], now_us: int
) -> ColumnarMessages | None:
    import numpy as np
    import pyarrow as pa

    messages: list[Message] = []
    keys: list[str] = []
    nums: list[Any] = []
    ts_us: list[int] = []
    counts: list[int] = []
    type_of: dict[str, int] = {}
    type_codes: list[int] = []
    for item in items:
        if item.__class__ is not dict:
            return None
        device_id = item.get("device_id")
        if not isinstance(device_id, str):
            return None
        identity = identities.get(device_id)
        if identity is None or "senml" in item:
            return None
        values = item.get("values")
        if values.__class__ is not dict or not values:
            return None
        msg_id = item.get("msg_id")
        if msg_id is not None and (msg_id.__class__ is not str or not 0 < len(msg_id) <= MAX_MSG_ID):
            return None
        raw_ts = item.get("ts")
        if raw_ts is None:
            ts = now_us
        elif (raw_ts.__class__ is float or raw_ts.__class__ is int) and 0 <= raw_ts < LATEST_TIME:
            ts = int(raw_ts * 1_000_000)  # as parse_ts does; NaN and infinities fail the range check
        else:
            return None
        n = len(values)
        keys.extend(values)
        nums.extend(values.values())
        ts_us.append(ts)
        counts.append(n)
        type_codes.append(type_of.setdefault(identity.type_id, len(type_of)))
        messages.append(
            Message(
                identity.org_id,
                identity.type_id,
                device_id,
                msg_id,
                list(zip(values, repeat(ts, n), values.values(), strict=True)),
            )
        )
    if set(map(type, nums)) != {float}:
        return None  # integers, booleans, strings, nulls: the per-reading checks decide
    key_array = pa.array(keys, pa.string())
    encoded = key_array.dictionary_encode()
    names = encoded.dictionary.to_pylist()
    # bounds per (device type, key); a key that is not a plain number property sends us the slow way
    props = {identities[m.device_id].type_id: identities[m.device_id].properties for m in messages}
    low = np.empty((len(type_of), len(names)))
    high = np.empty((len(type_of), len(names)))
    count_array = np.array(counts, dtype=np.int64)
    key_codes = encoded.indices.to_numpy()
    reading_types = np.repeat(np.array(type_codes, dtype=np.intp), count_array)
    present = np.zeros((len(type_of), len(names)), dtype=bool)
    present[reading_types, key_codes] = True
    for type_id, t in type_of.items():
        for k, name in enumerate(names):
            if not present[t, k]:
                continue
            bounds = _number_bounds(props[type_id].get(name))
            if bounds is None:
                return None
            low[t, k], high[t, k] = bounds
    values_array = np.array(nums, dtype=np.float64)
    flat = reading_types * len(names) + key_codes
    ok = np.isfinite(values_array)
    ok &= values_array >= low.ravel()[flat]
    ok &= values_array <= high.ravel()[flat]
    if not ok.all():
        return None
    ts_array = np.repeat(np.array(ts_us, dtype=np.int64), count_array)
    return ColumnarMessages(messages, ReadingColumns(key_array, ts_array, values_array, count_array))
