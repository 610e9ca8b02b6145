"""The column-wise batch decoder: the same messages as the per-reading decoder, or it steps aside."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from iplus.access.codec import decode_batch_columns, decode_values
from iplus.access.registry import DeviceIdentity
from iplus.standards.wot import parse_thing_model

NOW_US = 1_764_000_000_123_456


def identity(device_id: str, type_id: str, properties: dict[str, Any], org: str = "org-a") -> DeviceIdentity:
    model = parse_thing_model(
        {
            "@context": "https://www.w3.org/2022/wot/td/v1.1",
            "@type": "tm:ThingModel",
            "title": type_id,
            "properties": properties,
        }
    )
    return DeviceIdentity(device_id, org, type_id, "", model.properties, model)


ROOM = {
    "temp": {"type": "number", "minimum": -40, "maximum": 85},
    "hum": {"type": "number", "minimum": 0, "maximum": 100},
    "free": {"type": "number"},
    "door": {"type": "boolean"},
    "mode": {"type": "string", "enum": ["eco", "off"]},
    "count": {"type": "integer", "minimum": 0},
    "level": {"type": "number", "enum": [1.5, 2.5]},
}
TANK = {"level": {"type": "number", "minimum": 0.5, "maximum": 3.25}, "temp": {"type": "number"}}
IDENTITIES = {
    "room-1": identity("room-1", "room", ROOM),
    "room-2": identity("room-2", "room", ROOM),
    "tank-1": identity("tank-1", "tank", TANK),
}
NUMBERS = {"room": ["temp", "hum", "free"], "tank": ["level", "temp"]}
BOUNDS = {("room", "temp"): (-40, 85), ("room", "hum"): (0, 100), ("tank", "level"): (0.5, 3.25)}


def valid_batch(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """Messages of number properties only, values anywhere in bounds (the bounds themselves too)."""
    items: list[dict[str, Any]] = []
    for i in range(n):
        device = rng.choice(sorted(IDENTITIES))
        kind = IDENTITIES[device].type_id
        keys = rng.sample(NUMBERS[kind], rng.randint(1, len(NUMBERS[kind])))
        values = {}
        for k in keys:
            low, high = BOUNDS.get((kind, k), (-1e300, 1e300))
            values[k] = rng.choice([float(low), float(high), rng.uniform(low, high)])
        item: dict[str, Any] = {"device_id": device, "values": values}
        ts = rng.choice([None, rng.uniform(0, 4e9), rng.randrange(0, 32503680000), 0])
        if ts is not None:
            item["ts"] = ts
        if rng.random() < 0.8:
            item["msg_id"] = f"m{i}"
        items.append(item)
    return items


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_decoding_gives_what_the_per_reading_decoder_gives(seed: int) -> None:
    items = valid_batch(random.Random(seed), 400)
    got = decode_batch_columns(items, IDENTITIES, NOW_US)
    assert got is not None
    assert len(got) == len(items)
    for item, message in zip(items, got, strict=True):
        ident = IDENTITIES[item["device_id"]]
        slow = decode_values(item["values"], ident.properties, item.get("ts"), item.get("msg_id"), NOW_US)
        assert slow.reasons == []
        assert (message.org_id, message.type_id, message.device_id) == (
            "org-a",
            ident.type_id,
            ident.device_id,
        )
        assert message.msg_id == slow.msg_id
        assert message.readings == slow.readings
    # the columns are the messages' readings flattened, in order
    flat = [r for m in got for r in m.readings]
    assert got.columns.keys.to_pylist() == [k for k, _, _ in flat]
    assert got.columns.ts.tolist() == [t for _, t, _ in flat]
    assert got.columns.nums.tolist() == [v for _, _, v in flat]
    assert got.columns.counts.tolist() == [len(m.readings) for m in got]


def test_a_missing_time_is_now_and_seconds_become_microseconds() -> None:
    items = [
        {"device_id": "tank-1", "values": {"level": 1.0}},
        {"device_id": "tank-1", "ts": 1.5, "values": {"level": 1.0}},
        {"device_id": "tank-1", "ts": 1_764_000_000, "values": {"level": 1.0}},
    ]
    got = decode_batch_columns(items, IDENTITIES, NOW_US)
    assert got is not None
    assert got.columns.ts.tolist() == [NOW_US, 1_500_000, 1_764_000_000_000_000]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"values": {"temp": 85.0001}}, "above the maximum"),
        ({"values": {"temp": -40.5}}, "below the minimum"),
        ({"device_id": "tank-1", "values": {"level": 0.25}}, "below the minimum"),
        ({"values": {"temp": 20}}, "an integer, which check_value converts"),
        ({"values": {"temp": True}}, "a boolean is not a number"),
        ({"values": {"temp": "20"}}, "a string"),
        ({"values": {"temp": None}}, "a null"),
        ({"values": {"nope": 1.0}}, "unknown property"),
        ({"values": {"door": 1.0}}, "a boolean property"),
        ({"values": {"count": 1.0}}, "an integer property"),
        ({"values": {"level": 1.5}}, "an enum"),
        ({"values": {}}, "no values"),
        ({"values": [1.0]}, "values not an object"),
        ({"device_id": "ghost"}, "unknown device"),
        ({"device_id": 7}, "an id that is not a string"),
        ({"ts": "2026-11-29T00:00:00Z"}, "an ISO time"),
        ({"ts": -1.0}, "before 1970"),
        ({"ts": 32503680000.0}, "the year 3000"),
        ({"ts": True}, "a boolean time"),
        ({"msg_id": 5}, "a number as message id"),
        ({"msg_id": ""}, "an empty message id"),
        ({"msg_id": "x" * 129}, "a message id too long"),
        ({"senml": [{"n": "temp", "v": 1.0}]}, "SenML"),
    ],
)
def test_anything_else_goes_the_per_reading_way(change: dict[str, Any], why: str) -> None:
    items = valid_batch(random.Random(9), 50)
    items[-1] = {"device_id": "room-1", "values": {"temp": 21.5}, "msg_id": "last", **change}
    assert decode_batch_columns(items, IDENTITIES, NOW_US) is None, why


@pytest.mark.parametrize("item", [None, "room-1", [1, 2], {"values": {"temp": 1.0}}])
def test_an_item_that_is_not_a_message_goes_the_per_reading_way(item: Any) -> None:
    assert (
        decode_batch_columns([{"device_id": "room-1", "values": {"temp": 1.0}}, item], IDENTITIES, 0) is None
    )


def test_a_bound_a_float_cannot_hold_goes_the_per_reading_way() -> None:
    # 2**53 + 1 is not a float: compared as a float it would let 2**53 + 2 through the fast checks
    odd = identity("odd-1", "odd", {"x": {"type": "number", "maximum": 2**53 + 1}})
    items = [{"device_id": "odd-1", "values": {"x": 1.0}}]
    assert decode_batch_columns(items, {"odd-1": odd}, 0) is None
    fine = identity("ok-1", "ok", {"x": {"type": "number", "maximum": 2**53}})
    assert decode_batch_columns([{"device_id": "ok-1", "values": {"x": 1.0}}], {"ok-1": fine}, 0) is not None


def test_non_finite_values_are_left_to_the_per_reading_checks() -> None:
    for bad in (math.inf, -math.inf, math.nan):
        items = [{"device_id": "room-1", "values": {"free": bad}}]
        assert decode_batch_columns(items, IDENTITIES, 0) is None
