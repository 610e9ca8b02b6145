"""Training end to end through the API on telemetry ingested over HTTP; stages, artifact, predictions."""

from __future__ import annotations

import hashlib
import math

from tests.access.conftest import Platform
from tests.api.helpers import assert_problem

T0 = 1_780_000_000  # seconds since the epoch


def temp(i: int) -> float:
    return 20 + 5 * math.sin(2 * math.pi * i / 24)


async def test_train_promote_download_and_predict(platform: Platform) -> None:
    c, a, b = platform.client, platform.a, platform.b
    await platform.device(a, "room-1")
    msgs = [{"device_id": "room-1", "ts": T0 + 3600 * i, "values": {"temp": temp(i)}} for i in range(480)]
    r = await c.post("/api/v1/telemetry", headers=a.auth, json={"messages": msgs})
    assert r.json()["stored"] == 480, r.text
    body = {
        "name": "room-temp",
        "kind": "forecast",
        "devices": ["room-1"],
        "key": "temp",
        "params": {"model": "ridge", "lags": 24},
    }
    r = await c.post("/api/v1/models/train", headers=a.auth, json=body)
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert (v1["version"], v1["stage"], v1["kind"]) == (1, "candidate", "forecast")
    assert v1["lineage"]["readings"] == 480 and v1["lineage"]["devices"] == ["room-1"]
    assert v1["lineage"]["data_start"].startswith("2026-05-28T20:26:40")
    assert v1["metrics"]["model"]["mae"] < 0.01 < v1["metrics"]["persistence"]["mae"]
    # a second version on the first 10 days only
    r = await c.post("/api/v1/models/train", headers=a.auth, json={**body, "end": "2026-06-07T20:00:00Z"})
    assert r.status_code == 201 and r.json()["version"] == 2 and r.json()["lineage"]["readings"] == 240

    for v in (1, 2):
        r = await c.post(
            f"/api/v1/models/room-temp/versions/{v}/stage", headers=a.auth, json={"stage": "production"}
        )
        assert r.status_code == 200, r.text
    versions = (await c.get("/api/v1/models/room-temp/versions", headers=a.auth)).json()
    assert [v["stage"] for v in versions] == ["archived", "production"]
    assert (await c.get("/api/v1/models", headers=a.auth)).json() == [
        {"name": "room-temp", "kind": "forecast", "versions": 2, "latest": 2, "production": 2}
    ]
    one = (
        await c.get("/api/v1/models/room-temp/versions/1", headers=a.auth, params={"evaluation": "true"})
    ).json()
    assert len(one["evaluation"]["actual"]) == one["metrics"]["n_test"] == 96

    art = await c.get("/api/v1/models/room-temp/versions/1/artifact", headers=a.auth)
    assert art.status_code == 200
    assert (
        hashlib.sha256(art.content).hexdigest() == art.headers["x-artifact-sha256"] == v1["artifact_sha256"]
    )

    # forecast the next 6 hours from the device's latest readings: the sinusoid goes on
    r = await c.post("/api/v1/models/room-temp/versions/1/predict", headers=a.auth, json={"horizon": 6})
    assert r.status_code == 200, r.text
    assert [round(x, 1) for x in r.json()["forecast"]] == [round(temp(480 + i), 1) for i in range(6)]

    # an online detector registered from the same data scores a spike
    r = await c.post(
        "/api/v1/models/train",
        headers=a.auth,
        json={**body, "name": "room-zs", "kind": "robust-zscore", "params": {}},
    )
    assert r.status_code == 201, r.text
    assert r.json()["artifact_format"] == "json" and r.json()["metrics"]["threshold"] == 3.5
    values = [temp(i) for i in range(48)] + [60.0]
    scored = (
        await c.post("/api/v1/models/room-zs/versions/1/predict", headers=a.auth, json={"values": values})
    ).json()
    assert scored["anomalous"][-1] is True and not any(scored["anomalous"][:48])

    # tenancy and bad input
    assert_problem(await c.get("/api/v1/models/room-temp/versions/1", headers=b.auth), 404)
    assert (await c.get("/api/v1/models", headers=b.auth)).json() == []
    assert_problem(
        await c.post("/api/v1/models/train", headers=b.auth, json=body), 422
    )  # b has no such readings
    assert_problem(
        await c.post("/api/v1/models/train", headers=a.auth, json={**body, "params": {"lagz": 3}}), 422
    )
    assert_problem(await c.post("/api/v1/models/train", headers=a.auth, json={**body, "kind": "lstm"}), 422)
    assert_problem(
        await c.post(
            "/api/v1/models/room-temp/versions/1/stage", headers=a.auth, json={"stage": "candidate"}
        ),
        409,
    )
    assert_problem(await c.post("/api/v1/models/room-temp/versions/1/predict", headers=a.auth, json={}), 422)
    assert_problem(await c.get("/api/v1/models/room-temp/versions/9", headers=a.auth), 404)
    assert [
        v["version"] for v in (await c.get("/api/v1/models/room-temp/versions", headers=a.auth)).json()
    ] == [1, 2]
