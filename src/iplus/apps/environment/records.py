"""Readings the domain writes (simulated devices, computed indices), checked like any device's own message.

They go through the same codec checks against the device's Thing Model and into the same ingest writer as
HTTP and MQTT messages, so the stream rules, the twin and the live pages see them like any other reading.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from iplus.access.codec import decode_values
from iplus.core.errors import InvalidInput, NotFound
from iplus.infra.telemetry import Message, Value
from iplus.platform.context import Context


@dataclass(frozen=True)
class Row:
    """One message of a device: its values at epoch second ``ts``, with an optional message id."""

    device_id: str
    ts: float
    values: Mapping[str, Value]
    msg_id: str | None = None


async def messages_of(ctx: Context, rows: Sequence[Row]) -> list[Message]:
    """The rows as messages, each checked against its device's Thing Model; every problem at once."""
    out: list[Message] = []
    problems: list[str] = []
    for i, row in enumerate(rows):
        identity = await ctx.registry.identity(row.device_id)
        if identity is None:
            raise NotFound(f"device {row.device_id} not found")
        decoded = decode_values(dict(row.values), identity.properties, row.ts, row.msg_id, int(row.ts * 1e6))
        problems += [f"/{i} ({row.device_id}): {why}" for why in decoded.reasons]
        out.append(
            Message(identity.org_id, identity.type_id, identity.device_id, decoded.msg_id, decoded.readings)
        )
    if problems:
        raise InvalidInput("the readings do not fit the devices' thing models", errors=problems)
    return out


async def record(ctx: Context, rows: Sequence[Row]) -> int:
    """Store the rows in time order through the ingest writer; returns how many messages were new."""
    if not rows:
        return 0
    ordered = sorted(rows, key=lambda r: r.ts)  # the stream rules judge each key in time order
    fresh = await ctx.ingestor.write(await messages_of(ctx, ordered))
    return sum(fresh)
