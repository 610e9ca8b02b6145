"""HTTP transports against a real Starlette app served by uvicorn on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime

from starlette.responses import JSONResponse, Response

from iplus.access.sim import Device, HttpBatchTransport, HttpTransport, RunOptions, parse_profile, simulate

from .conftest import Seen

PROFILE = parse_profile(
    {
        "name": "h",
        "properties": {
            "temperature": {
                "unit": "Cel",
                "decimals": 1,
                "signal": [{"kind": "constant", "value": 20}, {"kind": "noise", "sigma": 1}],
            },
            "door": {"states": ["closed", "open"], "dwell_s": [10, 10]},
        },
    }
)
PROBLEM = "application/problem+json"
Start = Callable[[Callable[[Seen], Awaitable[Response]]], Awaitable[tuple[str, list[Seen]]]]


async def device_endpoint(seen: Seen) -> Response:
    """200 for the good token, 401 otherwise; 422 with reasons for device bad-4."""
    if seen.headers.get("authorization") != "Bearer good":
        return JSONResponse(
            {"title": "Unauthenticated", "status": 401, "detail": "unknown device token"},
            401,
            media_type=PROBLEM,
        )
    if "/bad-4/" in seen.path:
        problem = {
            "title": "Invalid input",
            "status": 422,
            "detail": "2 readings refused",
            "reasons": ["temperature: above the maximum"],
        }
        return JSONResponse(problem, 422, media_type=PROBLEM)
    return JSONResponse({"accepted": 1})


DEVICES = [Device("h-1", "good"), Device("h-2", "good"), Device("h-3", "wrong"), Device("bad-4", "good")]


async def test_per_device_posts_carry_the_token_and_flat_json(http_server: Start) -> None:
    url, seen = await http_server(device_endpoint)
    stats = await simulate(DEVICES, PROFILE, HttpTransport(url), RunOptions(rate=200, count=40, run_id="run"))
    assert len(seen) == 40
    assert (stats.sent, stats.failed, stats.dropped) == (20, 20, 0)
    assert dict(stats.failures) == {"http 401": 10, "http 422": 10}
    assert (
        "2 readings refused" in stats.examples["http 422"]
        and "above the maximum" in stats.examples["http 422"]
    )
    for request in seen:
        device = request.path.split("/")[4]
        assert request.path == f"/api/v1/devices/{device}/telemetry"
        token = next(d.token for d in DEVICES if d.device_id == device)
        assert request.headers["authorization"] == f"Bearer {token}"
        assert request.headers["content-type"] == "application/json"
        body = json.loads(request.body)
        assert set(body) == {"temperature", "door", "ts", "msg_id"}
        assert (
            body["msg_id"].startswith("run-") and datetime.fromisoformat(body["ts"]).utcoffset() is not None
        )
        assert isinstance(body["temperature"], float) and body["door"] in ("closed", "open")


async def test_per_device_senml(http_server: Start) -> None:
    url, seen = await http_server(device_endpoint)
    stats = await simulate(
        DEVICES[:2], PROFILE, HttpTransport(url, senml=True), RunOptions(rate=200, count=10)
    )
    assert stats.sent == 10 and len(seen) == 10
    for request in seen:
        assert request.headers["content-type"] == "application/senml+json"
        pack = json.loads(request.body)
        device = request.path.split("/")[4]
        assert pack[0]["bn"] == f"{device}:" and isinstance(pack[0]["bt"], float)
        assert {r["n"] for r in pack} == {"temperature", "door"}
        assert next(r for r in pack if r["n"] == "temperature")["u"] == "Cel"
        assert isinstance(next(r for r in pack if r["n"] == "door")["vs"], str)


async def test_batched_posts_carry_the_api_key_and_many_devices(http_server: Start) -> None:
    async def batch_endpoint(seen: Seen) -> Response:
        if seen.headers.get("x-api-key") != "ipk_test":
            return JSONResponse({"title": "Unauthenticated", "status": 401}, 401, media_type=PROBLEM)
        return JSONResponse({"accepted": len(json.loads(seen.body)["messages"])})

    url, seen = await http_server(batch_endpoint)
    devices = [Device(f"b-{i}", "unused") for i in range(5)]
    transport = HttpBatchTransport(url, api_key="ipk_test", batch_size=8)
    stats = await simulate(devices, PROFILE, transport, RunOptions(rate=400, count=40))
    assert (stats.sent, stats.failed) == (40, 0)
    batches = [json.loads(r.body)["messages"] for r in seen]
    assert all(r.path == "/api/v1/telemetry" and r.headers["x-api-key"] == "ipk_test" for r in seen)
    assert all("authorization" not in r.headers for r in seen)
    assert sum(map(len, batches)) == 40 and max(map(len, batches)) == 8
    messages = [m for batch in batches for m in batch]
    assert {m["device_id"] for m in messages} == {d.device_id for d in devices}
    assert all(
        set(m) == {"device_id", "msg_id", "ts", "values"} and set(m["values"]) == {"temperature", "door"}
        for m in messages
    )
    assert len({(m["device_id"], m["msg_id"]) for m in messages}) == 40

    bad = await simulate(
        devices,
        PROFILE,
        HttpBatchTransport(url, api_key="wrong", batch_size=8),
        RunOptions(rate=400, count=16),
    )
    assert bad.sent == 0 and dict(bad.failures) == {"http 401": 16}


async def test_unreachable_platform_is_counted_not_raised() -> None:
    stats = await simulate(
        DEVICES[:1], PROFILE, HttpTransport("http://127.0.0.1:1", timeout=2.0), RunOptions(rate=100, count=3)
    )
    assert stats.sent == 0 and stats.failed == 3 and set(stats.failures) == {"http error"}
