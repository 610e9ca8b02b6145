"""The HTTP uplink maps every answer of the platform to success, retry or permanent refusal."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest

from iplus.access.edge import HttpUplink, OutboxMessage, PermanentUplinkError, RetryableUplinkError
from tests.edge.platform_server import API_KEY, PlatformServer, free_port

BATCH = [
    OutboxMessage(1, "d1", "gw-1", "2024-05-01T00:00:00.000000+00:00", {"t": 20.5}),
    OutboxMessage(2, "d2", "gw-2", "2024-05-01T00:00:01.000000+00:00", {"on": True}),
]


def uplink(handler: Callable[[httpx.Request], httpx.Response]) -> HttpUplink:
    return HttpUplink("http://127.0.0.1:1/", "k", transport=httpx.MockTransport(handler))


async def test_posts_the_contract_body_with_the_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"stored": 1, "duplicates": 1})

    up = uplink(handler)
    await up.send(BATCH)
    (request,) = seen
    assert str(request.url) == "http://127.0.0.1:1/api/v1/telemetry"
    assert request.headers["X-API-Key"] == "k"
    assert orjson.loads(request.content) == {"messages": [m.as_json() for m in BATCH]}
    assert (up.stored, up.duplicates) == (1, 1)
    await up.aclose()


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429, 401, 403])
async def test_retryable_answers(status: int) -> None:
    up = uplink(lambda r: httpx.Response(status, headers={"Retry-After": "3"}))
    with pytest.raises(RetryableUplinkError) as info:
        await up.send(BATCH)
    assert str(status) in info.value.detail
    if status in (429, 503):
        assert info.value.retry_after == 3.0
    await up.aclose()


async def test_422_names_the_culprits_and_other_4xx_refuse_the_whole_batch() -> None:
    problem = {
        "title": "Invalid input",
        "errors": [{"index": 1, "device_id": "d2", "reasons": ["unknown", "x"]}],
    }
    up = uplink(
        lambda r: httpx.Response(422, json=problem, headers={"content-type": "application/problem+json"})
    )
    with pytest.raises(PermanentUplinkError) as info:
        await up.send(BATCH)
    assert info.value.rejected == {1: "unknown; x"} and info.value.status_code == 422
    up = uplink(lambda r: httpx.Response(400, json={"detail": "broken"}))
    with pytest.raises(PermanentUplinkError) as info:
        await up.send(BATCH)
    assert info.value.rejected == {} and "broken" in info.value.detail
    up = uplink(lambda r: httpx.Response(413))
    with pytest.raises(PermanentUplinkError) as info:
        await up.send(BATCH)
    assert info.value.too_large


async def test_refused_connection_and_timeout_are_retryable() -> None:
    up = HttpUplink(f"http://127.0.0.1:{free_port()}", "k", timeout_s=1)
    with pytest.raises(RetryableUplinkError, match="unreachable"):
        await up.send(BATCH)
    await up.aclose()

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(RetryableUplinkError, match="timed out"):
        await uplink(slow).send(BATCH)


async def test_against_the_real_endpoint(platform: PlatformServer) -> None:
    up = HttpUplink(platform.base_url, API_KEY)
    await up.send(BATCH)
    await up.send(BATCH)  # the same msg ids again: de-duplicated
    assert platform.count == 2 and platform.duplicates == 2 and up.duplicates == 2
    platform.refused_devices.add("d2")
    with pytest.raises(PermanentUplinkError) as info:
        await up.send([*BATCH[:1], OutboxMessage(3, "d2", "gw-3", BATCH[0].ts, {"t": 1})])
    assert info.value.rejected == {1: "unknown device d2"} and platform.count == 2
    await up.aclose()
    wrong = HttpUplink(platform.base_url, "wrong-key")
    with pytest.raises(RetryableUplinkError, match="API key"):
        await wrong.send(BATCH)
    await wrong.aclose()
