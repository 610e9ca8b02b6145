"""What travels: a message of one device, encoded as flat JSON, SenML (RFC 8428) or a batch body."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

Value = str | int | bool | float
FLAT_JSON = "application/json"
SENML_JSON = "application/senml+json"


@dataclass(frozen=True, slots=True)
class Message:
    """One reading message: device, unique message id, time (epoch seconds) and property values."""

    device_id: str
    msg_id: str
    ts: float
    values: dict[str, Value]
    units: Mapping[str, str] = field(default_factory=dict)

    @property
    def iso_ts(self) -> str:
        """The time as ISO 8601 in UTC with its offset, to the millisecond."""
        return datetime.fromtimestamp(self.ts, UTC).isoformat(timespec="milliseconds")


def flat_json(message: Message) -> bytes:
    """``{"<key>": value, ..., "ts": "<ISO 8601 UTC>", "msg_id": "..."}``."""
    return orjson.dumps({**message.values, "ts": message.iso_ts, "msg_id": message.msg_id})


def senml_records(message: Message) -> list[dict[str, Any]]:
    """SenML records: base name ``<device_id>:`` and base time on the first record, one record per key."""
    records: list[dict[str, Any]] = []
    for key, value in message.values.items():
        record: dict[str, Any] = {"n": key}
        unit = message.units.get(key)
        if unit:
            record["u"] = unit
        if isinstance(value, bool):  # before the number case: a bool is an int in Python
            record["vb"] = value
        elif isinstance(value, str):
            record["vs"] = value
        else:
            record["v"] = value
        records.append(record)
    if records:
        records[0] = {"bn": f"{message.device_id}:", "bt": round(message.ts, 3), **records[0]}
    return records


def senml(message: Message) -> bytes:
    """The message as a SenML JSON pack."""
    return orjson.dumps(senml_records(message))


def encode(message: Message, use_senml: bool) -> tuple[bytes, str]:
    """Body and content type of a single-device message."""
    return (senml(message), SENML_JSON) if use_senml else (flat_json(message), FLAT_JSON)


def batch_body(messages: Sequence[Message]) -> bytes:
    """``{"messages": [{"device_id", "msg_id", "ts", "values"}, ...]}`` for the batched HTTP endpoint."""
    return orjson.dumps(
        {
            "messages": [
                {"device_id": m.device_id, "msg_id": m.msg_id, "ts": m.iso_ts, "values": m.values}
                for m in messages
            ]
        }
    )
