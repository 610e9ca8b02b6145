"""Wire formats: flat JSON, SenML (decoded with the standards module) and the batch body."""

from __future__ import annotations

import json
from datetime import datetime

from iplus.access.sim import Message, batch_body, flat_json, senml
from iplus.standards.senml import resolve

MESSAGE = Message(
    device_id="dev-1",
    msg_id="run-7",
    ts=1_700_000_000.25,
    values={"temperature": 21.5, "count": 3, "door": "open", "alarm": False},
    units={"temperature": "Cel"},
)


def test_flat_json() -> None:
    body = json.loads(flat_json(MESSAGE))
    assert body == {
        "temperature": 21.5,
        "count": 3,
        "door": "open",
        "alarm": False,
        "ts": "2023-11-14T22:13:20.250+00:00",
        "msg_id": "run-7",
    }
    assert datetime.fromisoformat(body["ts"]).timestamp() == MESSAGE.ts


def test_senml_pack_resolves_to_one_record_per_value() -> None:
    pack = json.loads(senml(MESSAGE))
    assert pack[0]["bn"] == "dev-1:" and pack[0]["bt"] == 1_700_000_000.25
    assert all("bn" not in r for r in pack[1:])
    records = {r.name: r for r in resolve(pack)}
    assert set(records) == {"dev-1:temperature", "dev-1:count", "dev-1:door", "dev-1:alarm"}
    assert records["dev-1:temperature"].value == 21.5 and records["dev-1:temperature"].unit == "Cel"
    assert records["dev-1:door"].value == "open" and records["dev-1:alarm"].value is False
    assert {r.time for r in records.values()} == {1_700_000_000.25}


def test_batch_body() -> None:
    body = json.loads(batch_body([MESSAGE, MESSAGE]))
    assert body["messages"][0] == {
        "device_id": "dev-1",
        "msg_id": "run-7",
        "ts": "2023-11-14T22:13:20.250+00:00",
        "values": MESSAGE.values,
    }
    assert len(body["messages"]) == 2
