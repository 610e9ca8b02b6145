"""Regressions found in review: odd times and non-finite numbers are a 422, never a 500."""

from __future__ import annotations

import httpx
import orjson

from tests.api.helpers import Tenant, assert_problem
from tests.virtual.test_api import MILL, pair  # noqa: F401

END_OF_TIME = {"starts_at": "9999-12-31T20:00:00-05:00", "ends_at": "9999-12-31T23:00:00-05:00"}


async def test_pool_window_past_the_last_utc_date_is_422(
    client: httpx.AsyncClient,
    pair: tuple[Tenant, Tenant],  # noqa: F811
) -> None:
    a, _ = pair
    r = await client.get(
        "/api/v1/pools/capabilities",
        headers=a.auth,
        params={"available_from": END_OF_TIME["starts_at"], "available_to": END_OF_TIME["ends_at"]},
    )
    assert_problem(r, 422)


async def test_calendar_past_the_last_utc_date_is_422(
    client: httpx.AsyncClient,
    pair: tuple[Tenant, Tenant],  # noqa: F811
) -> None:
    a, _ = pair
    r = await client.post("/api/v1/virtual-things", headers=a.auth, json={**MILL, "calendar": [END_OF_TIME]})
    assert_problem(r, 422)


async def test_non_finite_numbers_in_affordances_are_422(
    client: httpx.AsyncClient,
    pair: tuple[Tenant, Tenant],  # noqa: F811
) -> None:
    a, _ = pair
    body = orjson.dumps({**MILL, "calendar": []}).decode()
    text = body.replace('"unit":"kW"', '"unit":"kW","maximum":NaN')
    assert "NaN" in text
    r = await client.post(
        "/api/v1/virtual-things", headers={**a.auth, "content-type": "application/json"}, content=text
    )
    assert_problem(r, 422)


async def test_non_finite_attribute_is_422(
    client: httpx.AsyncClient,
    pair: tuple[Tenant, Tenant],  # noqa: F811
) -> None:
    a, _ = pair
    body = orjson.dumps({**MILL, "calendar": []}).decode()
    text = body.replace('"max_part_size_mm":400', '"max_part_size_mm":Infinity')
    assert "Infinity" in text
    r = await client.post(
        "/api/v1/virtual-things", headers={**a.auth, "content-type": "application/json"}, content=text
    )
    assert_problem(r, 422)


async def test_deeply_nested_affordance_is_422_not_a_stored_500(
    client: httpx.AsyncClient,
    pair: tuple[Tenant, Tenant],  # noqa: F811
) -> None:
    a, _ = pair
    deep: dict[str, object] = {"type": "string"}
    for _ in range(300):
        deep = {"type": "object", "properties": {"a": deep}}
    r = await client.post(
        "/api/v1/virtual-things",
        headers=a.auth,
        json={**MILL, "calendar": [], "properties": {"spindle_kw": deep}},
    )
    assert_problem(r, 422)
    r = await client.get("/api/v1/virtual-things", headers=a.auth)
    assert r.status_code == 200 and r.json() == [], r.text[:300]
