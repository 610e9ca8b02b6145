"""Pools over the metadata store (SQLite and PostgreSQL): sub-types, attributes, radius, calendar, tenancy."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from iplus.core.errors import InvalidInput, NotFound
from iplus.virtual.pools import AttrFilter, PoolQuery
from iplus.virtual.spec import LinkSpec, Window
from tests.virtual.conftest import World, spec

R = 6371.0088  # the mean Earth radius the pools use
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


async def ids(world: World, query: PoolQuery, who: str = "a") -> set[str]:
    page = await world.things.search(getattr(world, who), query)
    return {i.thing.title for i in page.items}


async def test_type_search_includes_sub_types(world: World) -> None:
    for title, type in (("m", "milling"), ("t", "turning"), ("w", "welding"), ("p", "fdm_printing")):
        await world.things.create(world.a, spec(type=type, title=title))
    await world.things.create(world.a, spec(kind="resource", type="cnc_mill", title="r"))
    assert await ids(world, PoolQuery(type="machining", limit=100)) == {"m", "t"}
    assert await ids(world, PoolQuery(type="milling")) == {"m"}
    assert await ids(world, PoolQuery(type="additive_manufacturing")) == {"p"}
    assert await ids(world, PoolQuery(type="capability/manufacturing")) == {"m", "t", "w", "p"}
    assert await ids(world, PoolQuery(type="capability")) == {"m", "t", "w", "p"}
    assert await ids(world, PoolQuery(kind="resource")) == {"r"}
    with pytest.raises(InvalidInput):
        await world.things.search(world.a, PoolQuery(kind="resource", type="machining"))
    with pytest.raises(InvalidInput):
        await world.things.search(world.a, PoolQuery(type="no_such_type"))


async def test_text_words_must_all_occur(world: World) -> None:
    await world.things.create(world.a, spec(title="Five-axis mill", description="Aluminium parts, 100% dry"))
    await world.things.create(world.a, spec(title="Lathe service", type="turning"))
    assert await ids(world, PoolQuery(text="five-axis")) == {"Five-axis mill"}
    assert await ids(world, PoolQuery(text="ALUMINIUM mill")) == {"Five-axis mill"}
    assert await ids(world, PoolQuery(text="aluminium lathe")) == set()
    # the type's titles are searchable, so 'machining' finds both
    assert await ids(world, PoolQuery(text="machining")) == {"Five-axis mill", "Lathe service"}
    # LIKE wild cards in the query are plain characters
    assert await ids(world, PoolQuery(text="100%")) == {"Five-axis mill"}
    assert await ids(world, PoolQuery(text="%")) == {"Five-axis mill"}


async def test_attribute_filters_match_a_brute_force_oracle(world: World) -> None:
    rng = random.Random(7)
    materials = ["steel", "aluminium", "titanium"]
    made = []
    for i in range(40):
        attrs: dict[str, str | float | int | bool] = {
            "max_part_size_mm": rng.choice([100, 250, 400, 800]),
            "material": rng.choice(materials),
            "power_kw": round(rng.uniform(1, 60), 2),
            "certified": rng.random() < 0.5,
        }
        if i % 5 == 0:
            del attrs["power_kw"]
        made.append((f"t{i}", attrs))
        await world.things.create(world.a, spec(title=f"t{i}", attributes=attrs))
    cases = [
        (AttrFilter("material", equals="Steel"), lambda a: a["material"] == "steel"),
        (AttrFilter("max_part_size_mm", equals=400), lambda a: a["max_part_size_mm"] == 400),
        (
            AttrFilter("power_kw", minimum=10, maximum=30),
            lambda a: "power_kw" in a and 10 <= a["power_kw"] <= 30,
        ),
        (AttrFilter("power_kw", minimum=45), lambda a: "power_kw" in a and a["power_kw"] >= 45),
        (AttrFilter("max_part_size_mm", maximum=250), lambda a: a["max_part_size_mm"] <= 250),
        (AttrFilter("certified", equals=True), lambda a: a["certified"] is True),
    ]
    for f, oracle in cases:
        expected = {t for t, a in made if oracle(a)}
        assert await ids(world, PoolQuery(attrs=(f,), limit=100)) == expected, f
    both = (AttrFilter("material", equals="titanium"), AttrFilter("max_part_size_mm", minimum=400))
    expected = {t for t, a in made if a["material"] == "titanium" and a["max_part_size_mm"] >= 400}
    assert await ids(world, PoolQuery(attrs=both, limit=100)) == expected
    with pytest.raises(InvalidInput):
        await world.things.search(world.a, PoolQuery(attrs=(AttrFilter("power_kw", minimum=5, maximum=1),)))


async def test_radius_against_hand_computed_great_circle_distances(world: World) -> None:
    # on the equator and along a meridian a great-circle distance is R * (angle in radians), exactly
    for k in range(1, 11):
        await world.things.create(world.a, spec(title=f"e{k}", latitude=0.0, longitude=0.5 * k))
        await world.things.create(world.a, spec(title=f"m{k}", latitude=-0.5 * k, longitude=0.0))
    await world.things.create(world.a, spec(title="nowhere"))
    for radius in (55.0, 56.0, 300.0, 556.0, 600.0):
        page = await world.things.search(world.a, PoolQuery(near=(0.0, 0.0), radius_km=radius, limit=100))
        expected = {f"{p}{k}" for p in "em" for k in range(1, 11) if R * math.radians(0.5 * k) <= radius}
        assert {i.thing.title for i in page.items} == expected, radius
        for item in page.items:
            k = int(item.thing.title[1:])
            assert item.distance_km == pytest.approx(R * math.radians(0.5 * k), abs=1e-6)
        distances = [i.distance_km for i in page.items]
        assert distances == sorted(distances)  # nearest first
    # 0.5 degree is 55.597 km: a radius of 55.5 km leaves out e1 and m1
    assert await ids(world, PoolQuery(near=(0.0, 0.0), radius_km=55.5)) == set()
    assert R * math.radians(0.5) == pytest.approx(55.5975, abs=1e-4)


async def test_radius_across_the_antimeridian_and_near_a_pole(world: World) -> None:
    await world.things.create(world.a, spec(title="west", latitude=0.0, longitude=-179.9))
    await world.things.create(world.a, spec(title="east", latitude=0.0, longitude=179.8))
    await world.things.create(world.a, spec(title="polar", latitude=89.5, longitude=120.0))
    page = await world.things.search(world.a, PoolQuery(near=(0.0, 179.95), radius_km=20))
    assert {i.thing.title: round(i.distance_km or 0, 6) for i in page.items} == {
        "west": round(R * math.radians(0.15), 6),
        "east": round(R * math.radians(0.15), 6),
    }
    # from the pole every point at latitude 89.5 is 0.5 degree of arc away, whatever its longitude
    polar = await world.things.search(world.a, PoolQuery(near=(90.0, 0.0), radius_km=56))
    assert [(i.thing.title, round(i.distance_km or 0, 6)) for i in polar.items] == [
        ("polar", round(R * math.radians(0.5), 6))
    ]


async def test_availability_needs_a_window_covering_the_asked_span(world: World) -> None:
    # 9-12 and 12-14 touch, so they cover 10-13 together; 16-18 stands alone
    cal = (Window(h(9), h(12)), Window(h(12), h(14)), Window(h(16), h(18)))
    await world.things.create(world.a, spec(title="cal", calendar=cal))
    await world.things.create(world.a, spec(title="none"))
    other_zone = timezone(timedelta(hours=5, minutes=30))
    cases = [
        ((10, 13), {"cal"}),
        ((9, 14), {"cal"}),
        ((13, 15), set()),
        ((14, 16), set()),
        ((16, 18), {"cal"}),
        ((15, 17), set()),
        ((8, 9.5), set()),
    ]
    for (start, end), expected in cases:
        q = PoolQuery(available_from=h(start), available_to=h(end))
        assert await ids(world, q) == expected, (start, end)
    # the same instant written with another offset is the same instant
    shifted = PoolQuery(
        available_from=h(10).astimezone(other_zone), available_to=h(13).astimezone(other_zone)
    )
    assert await ids(world, shifted) == {"cal"}
    detail = await world.things.detail(world.a, (await world.things.list_own(world.a))[-1].id)
    assert detail.windows == [Window(h(9), h(14)), Window(h(16), h(18))]
    with pytest.raises(InvalidInput):
        await world.things.search(world.a, PoolQuery(available_from=h(3), available_to=h(2)))
    with pytest.raises(InvalidInput) as bad:
        await world.things.create(world.a, spec(calendar=(Window(datetime(2026, 1, 1), h(1)),)))
    assert "UTC offset" in str(bad.value.extra["errors"])


async def test_visibility_own_plus_public(world: World) -> None:
    secret = await world.things.create(world.a, spec(title="a-private"))
    shared = await world.things.create(world.a, spec(title="a-public", visibility="public"))
    await world.things.create(world.b, spec(title="b-private"))
    assert await ids(world, PoolQuery(), "a") == {"a-private", "a-public"}
    assert await ids(world, PoolQuery(), "b") == {"a-public", "b-private"}
    assert (await world.things.get(world.b, shared.id)).title == "a-public"
    with pytest.raises(NotFound):
        await world.things.get(world.b, secret.id)
    with pytest.raises(NotFound):
        await world.things.update(world.b, shared.id, spec(title="taken over"))
    with pytest.raises(NotFound):
        await world.things.delete(world.b, shared.id)
    with pytest.raises(NotFound):
        await world.things.get_own(world.b, shared.id)
    assert [t.title for t in await world.things.list_own(world.b)] == ["b-private"]


async def test_links_must_name_own_devices_and_real_twin_properties(world: World) -> None:
    props = {"load": {"type": "number"}, "running": {"type": "boolean"}}
    good = spec(properties=props, links=(LinkSpec("mill-a", {"load": "power", "running": "busy"}),))
    thing = await world.things.create(world.a, good)
    assert [t.id for t in await world.things.things_of_device(world.a, "mill-a")] == [thing.id]
    bad = [
        (LinkSpec("mill-b", {"load": "power"}),),  # another organisation's device
        (LinkSpec("mill-a", {"load": "torque"}),),  # no such twin property
        (LinkSpec("mill-a", {"speed": "rpm"}),),  # no such virtual property
        (LinkSpec("mill-a", {"load": "power"}), LinkSpec("mill-a", {"running": "busy"})),
    ]
    before = len(await world.things.list_own(world.a))
    for links in bad:
        with pytest.raises(InvalidInput):
            await world.things.create(world.a, spec(properties=props, links=links))
    assert len(await world.things.list_own(world.a)) == before  # nothing stored half-way


async def test_one_device_backs_several_things_and_several_devices_one_thing(world: World) -> None:
    registry_spec = spec(kind="resource", type="cnc_mill", title="from device")
    derived = await world.things.ground_on_device(world.a, registry_spec, "mill-a")
    assert set(derived.properties) == {"power", "rpm", "busy"}
    assert derived.links == (LinkSpec("mill-a", {"power": "power", "rpm": "rpm", "busy": "busy"}),)
    assert (derived.latitude, derived.longitude) == (48.1, 11.5)
    one = await world.things.create(world.a, derived)
    two = await world.things.create(
        world.a,
        spec(properties={"kw": {"type": "number"}}, links=(LinkSpec("mill-a", {"kw": "power"}),)),
    )
    assert {t.id for t in await world.things.things_of_device(world.a, "mill-a")} == {one.id, two.id}


async def test_facets_and_paging_match_a_brute_force_count(world: World) -> None:
    rng = random.Random(3)
    types = ["milling", "turning", "welding", "drip_irrigation", "ac_charging", "home_care"]
    made = []
    for i in range(37):
        t = rng.choice(types)
        made.append(t)
        await world.things.create(world.a, spec(type=t, title=f"x{i:02d}"))
    page = await world.things.search(world.a, PoolQuery(limit=10))
    assert page.total == 37
    assert page.facets["type"] == {t: made.count(t) for t in set(made)}
    domains = {"milling": "manufacturing", "turning": "manufacturing", "welding": "manufacturing"}
    domains |= {"drip_irrigation": "agriculture", "ac_charging": "energy", "home_care": "health"}
    expected_domains: dict[str, int] = {}
    for t in made:
        expected_domains[domains[t]] = expected_domains.get(domains[t], 0) + 1
    assert page.facets["domain"] == expected_domains
    seen: list[str] = []
    for offset in range(0, 40, 10):
        part = await world.things.search(world.a, PoolQuery(offset=offset, limit=10))
        assert part.total == 37
        seen += [i.thing.title for i in part.items]
    assert seen == sorted(f"x{i:02d}" for i in range(37))
    sub = await world.things.search(world.a, PoolQuery(type="machining"))
    assert sub.total == made.count("milling") + made.count("turning")
    assert set(sub.facets["type"]) <= {"milling", "turning"}
