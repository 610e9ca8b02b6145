"""Regressions found in review: bad input must be a 422, never a 500; parties only act on their own orders."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest

from iplus.core.errors import Conflict, Forbidden
from iplus.core.roles import Role
from iplus.infra.db.engine import Database
from iplus.infra.telemetry import Message
from iplus.platform.catalog.offers import Offers
from iplus.virtual.taxonomy import load_taxonomy
from tests.api.helpers import assert_problem
from tests.catalog.helpers import org, spec
from tests.catalog.test_api import World, offer_body, world  # noqa: F401
from tests.catalog.test_orders import GOOD, Setup, setup, window  # noqa: F401


async def _published(w: World) -> str:
    r = await w.c.post("/api/v1/offers", headers=w.p.auth, json=offer_body())
    assert r.status_code == 201, r.text
    oid = str(r.json()["id"])
    r = await w.c.post(f"/api/v1/offers/{oid}/stage", headers=w.p.auth, json={"stage": "published"})
    assert r.status_code == 200, r.text
    return oid


def _raw(w: World) -> dict[str, str]:
    return {**w.u.auth, "content-type": "application/json"}


async def test_order_window_at_the_end_of_time_is_422(world: World) -> None:  # noqa: F811
    oid = await _published(world)
    r = await world.c.post(
        "/api/v1/orders",
        headers=world.u.auth,
        json={
            "offer_id": oid,
            "parameters": {"material": "Al", "quantity": 1},
            "window_start": "9999-12-31T22:00:00-05:00",
            "window_end": "9999-12-31T23:00:00-05:00",
        },
    )
    assert_problem(r, 422)


async def test_order_parameters_with_nan_are_422(world: World) -> None:  # noqa: F811
    oid = await _published(world)
    body = json.dumps(
        {
            "offer_id": oid,
            "parameters": {"material": "Al", "quantity": 1, "length": 1.5},
            "window_start": "2026-12-01T08:00:00Z",
            "window_end": "2026-12-01T09:00:00Z",
        }
    ).replace("1.5", "NaN")
    r = await world.c.post("/api/v1/orders", headers=_raw(world), content=body)
    assert_problem(r, 422)


async def test_offer_with_nan_in_schema_is_422(world: World) -> None:  # noqa: F811
    body = offer_body()
    text = json.dumps(body).replace('"exclusiveMinimum": 0', '"exclusiveMinimum": NaN')
    assert "NaN" in text
    r = await world.c.post(
        "/api/v1/offers", headers={**world.p.auth, "content-type": "application/json"}, content=text
    )
    assert_problem(r, 422)


async def test_offer_sla_with_infinity_is_422(world: World) -> None:  # noqa: F811
    text = json.dumps(offer_body()).replace('"amount": 20', '"amount": 20, "note": Infinity')
    r = await world.c.post(
        "/api/v1/offers", headers={**world.p.auth, "content-type": "application/json"}, content=text
    )
    assert_problem(r, 422)


async def test_match_with_nan_weight_is_422(world: World) -> None:  # noqa: F811
    await _published(world)
    text = '{"type": "milling", "weights": {"price": NaN}}'
    r = await world.c.post(
        "/api/v1/match", headers={**world.u.auth, "content-type": "application/json"}, content=text
    )
    assert_problem(r, 422)


async def test_match_window_at_the_end_of_time_is_422(world: World) -> None:  # noqa: F811
    await _published(world)
    r = await world.c.post(
        "/api/v1/match",
        headers=world.u.auth,
        json={
            "type": "milling",
            "window_start": "9999-12-31T22:00:00-05:00",
            "window_end": "9999-12-31T23:00:00-05:00",
            "deadline": "9999-12-31T23:00:00-05:00",
        },
    )
    assert r.status_code in (200, 422), r.text


async def test_order_nul_in_parameters_is_422(world: World) -> None:  # noqa: F811
    oid = await _published(world)
    r = await world.c.post(
        "/api/v1/orders",
        headers=world.u.auth,
        json={
            "offer_id": oid,
            "parameters": {"material": "A\x00l", "quantity": 1},
            "window_start": "2026-12-01T08:00:00Z",
            "window_end": "2026-12-01T09:00:00Z",
        },
    )
    assert r.status_code in (201, 422), r.text


async def test_offer_calendar_end_of_time(world: World) -> None:  # noqa: F811
    r = await world.c.post(
        "/api/v1/offers",
        headers=world.p.auth,
        json=offer_body(
            calendar=[{"start": "0001-01-01T00:00:00+05:00", "end": "9999-12-31T23:00:00-05:00"}]
        ),
    )
    assert r.status_code in (201, 422), r.text


async def test_read_only_key_cannot_write(world: World) -> None:  # noqa: F811
    r = await world.c.post("/api/v1/api-keys", headers=world.u.auth, json={"name": "ro", "scopes": ["read"]})
    assert r.status_code == 201, r.text
    key = {"X-API-Key": r.json()["key"]}
    oid = await _published(world)
    r = await world.c.post(
        "/api/v1/orders",
        headers=key,
        json={
            "offer_id": oid,
            "parameters": {"material": "Al", "quantity": 1},
            "window_start": "2026-12-01T08:00:00Z",
            "window_end": "2026-12-01T09:00:00Z",
        },
    )
    assert_problem(r, 403)


async def test_concurrent_accept_and_reject_do_not_both_win(setup: Setup) -> None:  # noqa: F811
    o, p, u = (
        setup.orders,
        setup.p,
        setup.u,
    )  # requested -> accepted and requested -> rejected exclude each other
    for attempt in range(5):
        order = await o.place(u, setup.oid, GOOD, window(2 * attempt, 2 * attempt + 1))
        results = await asyncio.gather(
            o.move(p, order.id, "accepted"), o.move(p, order.id, "rejected"), return_exceptions=True
        )
        wins = [r for r in results if not isinstance(r, BaseException)]
        assert len(wins) == 1, results
        assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException)), results
        final = await o.get(u, order.id)
        assert [h["status"] for h in final.history] == ["requested", final.status]


async def test_concurrent_accepts_do_not_overbook(setup: Setup) -> None:  # noqa: F811
    o, p, u = setup.orders, setup.p, setup.u  # the offer serves one order at a time
    first = await o.place(u, setup.oid, GOOD, window(1, 5))
    second = await o.place(u, setup.oid, GOOD, window(2, 6))
    results = await asyncio.gather(
        o.move(p, first.id, "accepted"), o.move(p, second.id, "accepted"), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1, results


async def test_an_organisation_that_is_no_longer_a_provider_cannot_publish(database: Database) -> None:
    offers = Offers(database, load_taxonomy())
    p = await org(database, "Former provider", Role.PROVIDER)
    oid = (await offers.create(p, spec())).offer.id
    demoted = replace(p, roles=frozenset({Role.USER}))  # the operator took the provider role away
    with pytest.raises(Forbidden):
        await offers.move(demoted, oid, "published")
    with pytest.raises(Forbidden):
        await offers.revise(demoted, oid, spec(title="Changed by a user organisation"))
    await offers.move(demoted, oid, "retired")  # taking an offer down stays possible


def _deep(depth: int) -> dict[str, object]:
    node: dict[str, object] = {"type": "string"}
    for _ in range(depth):
        node = {"type": "object", "properties": {"a": node}}
    return node


async def test_deeply_nested_inputs_are_not_a_500(world: World) -> None:  # noqa: F811
    r = await world.c.post("/api/v1/offers", headers=world.p.auth, json=offer_body(inputs=_deep(450)))
    assert r.status_code in (201, 422), r.text[:300]


async def test_deeply_nested_order_parameters_are_not_a_500(world: World) -> None:  # noqa: F811
    oid = await _published(world)
    deep: object = 1
    for _ in range(450):
        deep = {"a": deep}
    r = await world.c.post(
        "/api/v1/orders",
        headers=world.u.auth,
        json={
            "offer_id": oid,
            "parameters": {"material": "Al", "quantity": 1, "x": deep},
            "window_start": "2026-12-01T08:00:00Z",
            "window_end": "2026-12-01T09:00:00Z",
        },
    )
    assert r.status_code in (201, 422), r.text[:300]


async def test_concurrent_revisions_of_a_published_offer_make_two_versions(database: Database) -> None:
    offers = Offers(database, load_taxonomy())
    p = await org(database, "Mill & Co", Role.PROVIDER)
    oid = (await offers.create(p, spec())).offer.id
    await offers.move(p, oid, "published")
    results = await asyncio.gather(
        offers.revise(p, oid, spec(title="v2 a")),
        offers.revise(p, oid, spec(title="v2 b")),
        return_exceptions=True,
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert [v.version for v in await offers.versions(p, oid)] == [1, 2]


async def test_another_organisations_device_of_the_same_id_does_not_move_an_order(
    setup: Setup,  # noqa: F811
) -> None:
    o, p, u, x = setup.orders, setup.p, setup.u, setup.x
    await o.start([])
    try:
        order = await o.place(u, setup.oid, GOOD, window(1, 5))
        await o.move(p, order.id, "accepted")
        # "mill-1" was deleted by the provider and its id taken by a device of another organisation
        o.on_messages([Message(x.org_id, "type", "mill-1", None, [("progress", 1, 100.0)])])
        await o.drain()
        assert (await o.get(u, order.id)).status == "accepted"
        o.on_messages([Message(p.org_id, "type", "mill-1", None, [("progress", 2, 100.0)])])
        await o.drain()
        assert (await o.get(u, order.id)).status == "completed"
    finally:
        await o.stop()
