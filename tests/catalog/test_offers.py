"""Offers on SQLite and PostgreSQL: life cycle, versions, history, tenancy, search against brute force."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from iplus.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from iplus.core.roles import Role
from iplus.infra.db.engine import Database
from iplus.infra.db.models_virtual import VirtualThing, VirtualThingLink
from iplus.platform.catalog.finder import OfferQuery
from iplus.platform.catalog.offers import Offers
from iplus.virtual.taxonomy import load_taxonomy
from tests.catalog.helpers import org, qos, spec

TAX = load_taxonomy()


@pytest.fixture
async def offers(database: Database) -> Offers:
    return Offers(database, TAX)


async def test_life_cycle_and_409s(database: Database, offers: Offers) -> None:
    p = await org(database, "Mill & Co", Role.PROVIDER)
    op = await org(database, "Platform", Role.OPERATOR)
    view = await offers.create(p, spec())
    oid = view.offer.id
    assert view.offer.stage == "draft" and view.version.version == 1 and not view.version.frozen
    with pytest.raises(Conflict):
        await offers.move(p, oid, "suspended")
    assert (await offers.move(p, oid, "published")).offer.published_version == 1
    with pytest.raises(Conflict):  # nothing new to publish
        await offers.move(p, oid, "published")
    with pytest.raises(Conflict):
        await offers.move(p, oid, "draft")
    # the operator suspends with a reason; the provider cannot lift that
    with pytest.raises(InvalidInput):
        await offers.move(op, oid, "suspended")
    await offers.move(op, oid, "suspended", "misleading price")
    with pytest.raises(Conflict):
        await offers.move(p, oid, "published")
    assert (await offers.move(op, oid, "published", "price fixed")).offer.stage == "published"
    with pytest.raises(Conflict):  # an operator does not retire a provider's offer
        await offers.move(op, oid, "retired", "no")
    await offers.move(p, oid, "retired")
    for stage in ("published", "suspended", "draft", "retired"):
        with pytest.raises(Conflict):
            await offers.move(p, oid, stage)
    with pytest.raises(Conflict):
        await offers.revise(p, oid, spec(title="again"))
    history = await offers.history(op, oid)
    assert [(e.from_stage, e.to_stage) for e in history] == [
        (None, "draft"),
        ("draft", "published"),
        ("published", "suspended"),
        ("suspended", "published"),
        ("published", "retired"),
    ]
    assert history[2].reason == "misleading price" and history[2].actor_org_id == op.org_id


async def test_published_versions_are_immutable(database: Database, offers: Offers) -> None:
    p = await org(database, "Mill & Co", Role.PROVIDER)
    u = await org(database, "Buyer", Role.USER)
    oid = (await offers.create(p, spec(qos=qos(price=100)))).offer.id
    # a draft changes in place
    assert (await offers.revise(p, oid, spec(qos=qos(price=90)))).version.version == 1
    await offers.move(p, oid, "published")
    v2 = await offers.revise(p, oid, spec(title="5-axis milling, faster", qos=qos(price=95)))
    assert v2.version.version == 2 and not v2.version.frozen
    again = await offers.revise(p, oid, spec(title="5-axis milling, faster", qos=qos(price=97)))
    assert again.version.version == 2  # the unpublished v2 changes in place
    # others still see version 1, unchanged
    seen = await offers.get(u, oid)
    assert seen.version.version == 1 and seen.version.price == 90
    assert [v.version for v in await offers.versions(u, oid)] == [1]
    with pytest.raises(NotFound):
        await offers.version(u, oid, 2)
    await offers.move(p, oid, "published")
    seen = await offers.get(u, oid)
    assert seen.version.version == 2 and seen.version.price == 97
    v1 = await offers.version(u, oid, 1)
    assert v1.frozen and v1.price == 90 and v1.title == "5-axis milling"


async def test_tenancy(database: Database, offers: Offers) -> None:
    p = await org(database, "Mill & Co", Role.PROVIDER)
    q = await org(database, "Other provider", Role.PROVIDER)
    u = await org(database, "Buyer", Role.USER)
    draft = (await offers.create(p, spec(title="secret draft"))).offer.id
    live = (await offers.create(p, spec(title="open offer"))).offer.id
    await offers.move(p, live, "published")
    for outsider in (q, u):
        with pytest.raises(NotFound):
            await offers.get(outsider, draft)
        with pytest.raises(NotFound):
            await offers.revise(outsider, live, spec())
        with pytest.raises(NotFound):
            await offers.move(outsider, live, "suspended")
        with pytest.raises(NotFound):  # the history is the provider's and the operator's
            await offers.history(outsider, live)
        page, total = await offers.search(outsider, OfferQuery())
        assert [v.offer.id for v in page] == [live] and total == 1
    mine, total = await offers.search(p, OfferQuery(mine=True))
    assert {v.offer.id for v in mine} == {draft, live} and total == 2
    assert (await offers.search(q, OfferQuery(mine=True)))[1] == 0
    with pytest.raises(Forbidden):  # a user organisation does not offer
        await offers.create(u, spec())
    await offers.move(p, live, "suspended")
    assert (await offers.search(u, OfferQuery()))[1] == 0


async def test_bad_offers_are_refused_whole(database: Database, offers: Offers) -> None:
    p = await org(database, "Mill & Co", Role.PROVIDER)
    bad_qos = qos(rel=1.5)
    bad_qos["time"] = {"value": 3, "unit": "weeks"}
    with pytest.raises(InvalidInput) as info:
        await offers.create(
            p,
            spec(
                type_="cnc_mill",
                qos=bad_qos,
                inputs={"type": "object", "properties": {"length": {"type": "number"}}},
                sla={"targets": {"speed": {"max": 1}}, "penalties": [{"breach": "time", "amount": -1}]},
            ),
        )
    errors = info.value.extra["errors"]
    assert any("not a capability type" in e for e in errors)
    assert any(e.startswith("qos/reliability/value") for e in errors)
    assert any(e.startswith("qos/time/unit") for e in errors)
    assert any("inputs /length" in e and "unit" in e for e in errors)
    assert any(e.startswith("sla/targets/speed") for e in errors)
    assert any(e.startswith("sla/penalties/0/amount") for e in errors)
    with pytest.raises(InvalidInput):
        await offers.create(p, spec(type_="no_such_type"))
    with pytest.raises(InvalidInput):  # things must be the provider's own
        await offers.create(p, spec(things=("nope",)))
    assert (await offers.search(p, OfferQuery(mine=True)))[1] == 0


async def test_offer_over_things_takes_their_devices_and_place(database: Database, offers: Offers) -> None:
    from iplus.infra.db.models import Device, DeviceType

    p = await org(database, "Mill & Co", Role.PROVIDER)
    async with database.transaction() as s:
        # a device type and device to ground the virtual machine
        kind = DeviceType(org_id=p.org_id, name="mill", thing_model={})
        s.add(kind)
        await s.flush()
        s.add(Device(id="mill-7", org_id=p.org_id, type_id=kind.id, name="mill 7", token_hash="x"))
        thing = VirtualThing(
            org_id=p.org_id,
            kind="resource",
            type="cnc_mill",
            domain="manufacturing",
            title="Mill 7",
            latitude=48.1,
            longitude=11.6,
            affordances={},
        )
        s.add(thing)
        await s.flush()
        s.add(VirtualThingLink(org_id=p.org_id, thing_id=thing.id, device_id="mill-7", mapping={}))
        thing_id = thing.id
    view = await offers.create(p, spec(things=(thing_id,)))
    assert view.version.devices == ["mill-7"]
    assert (view.version.latitude, view.version.longitude) == (48.1, 11.6)
    other = await org(database, "Other", Role.PROVIDER)
    with pytest.raises(InvalidInput):  # another provider cannot offer my machine
        await offers.create(other, spec(things=(thing_id,)))


async def test_search_agrees_with_brute_force(database: Database, offers: Offers) -> None:
    rng = random.Random(9)
    p = await org(database, "Mill & Co", Role.PROVIDER)
    u = await org(database, "Buyer", Role.USER)
    types = [n.id for n in TAX.subtree("capability/manufacturing")] + ["drip_irrigation", "home_care"]
    words = ["precise", "fast", "cheap", "certified", "green"]
    made = []
    for i in range(60):
        s = spec(
            title=f"{rng.choice(words)} service {i} 100%_done",
            type_=rng.choice(types),
            qos=qos(
                price=round(rng.uniform(10, 500), 2),
                time=round(rng.uniform(1, 50), 1),
                rel=round(rng.uniform(0.8, 1), 3),
                avail=round(rng.uniform(0.8, 1), 3),
                cap=rng.randint(1, 5),
            ),
        )
        view = await offers.create(p, s)
        if rng.random() < 0.8:
            await offers.move(p, view.offer.id, "published")
            made.append((view.offer.id, s))
    for _ in range(25):
        query = OfferQuery(
            text=rng.choice([None, rng.choice(words), "SERVICE 1", "100%_d"]),
            type=rng.choice(
                [None, "machining", "capability/manufacturing", "additive_manufacturing", "care"]
            ),
            max_price=rng.choice([None, rng.uniform(50, 450)]),
            min_reliability=rng.choice([None, rng.uniform(0.8, 1)]),
            max_time_h=rng.choice([None, rng.uniform(5, 45)]),
            limit=7,
            offset=rng.choice([0, 7]),
        )

        def keep(s: object) -> bool:
            sp = s  # type: ignore[assignment]
            q = sp.qos  # type: ignore[attr-defined]
            title = sp.title.lower()  # type: ignore[attr-defined]
            if query.text and not all(
                w in f"{title} {sp.capability_type}" for w in query.text.lower().split()
            ):  # type: ignore[attr-defined]
                return False
            if query.type and not TAX.is_a(sp.capability_type, query.type):  # type: ignore[attr-defined]
                return False
            if query.max_price is not None and q["price"]["value"] > query.max_price:
                return False
            if query.min_reliability is not None and q["reliability"]["value"] < query.min_reliability:
                return False
            return not (query.max_time_h is not None and q["time"]["value"] > query.max_time_h)

        expected = sorted(((s.qos["price"]["value"], oid) for oid, s in made if keep(s)))
        page, total = await offers.search(u, query)
        assert total == len(expected)
        assert [v.offer.id for v in page] == [oid for _, oid in expected][query.offset : query.offset + 7]
    assert replace(OfferQuery(), limit=1).limit == 1
