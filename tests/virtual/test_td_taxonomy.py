"""Every TD the virtual layer emits validates against TD 1.1; the taxonomy covers six domains with sub-types."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from iplus.core.errors import InvalidInput
from iplus.standards.wot import schema_errors
from iplus.virtual.spec import LinkSpec, Window
from iplus.virtual.taxonomy import DOMAINS, KINDS, Taxonomy, load_taxonomy
from iplus.virtual.td import TdInput, build_td
from tests.virtual.conftest import World, spec

AFFORDANCES = {
    "properties": {"level": {"type": "number", "unit": "%", "minimum": 0, "maximum": 100}},
    "actions": {"start": {"input": {"type": "object", "properties": {"job": {"type": "string"}}}}},
    "events": {"finished": {"data": {"type": "string"}}},
}


def test_taxonomy_covers_every_kind_and_domain_with_fiware_names() -> None:
    tax = load_taxonomy()
    for kind in KINDS:
        for domain in DOMAINS:
            node = tax.get(f"{kind}/{domain}")
            assert node.kind == kind and node.domain == domain
            assert tax.children(node.id), f"{node.id} has no types"
    fiware = {
        "charger": "EVChargingStation",
        "field": "AgriParcel",
        "air_quality_station": "AirQualityObserved",
    }
    for type_id, name in fiware.items():
        assert tax.get(type_id).fiware == name
    assert tax.fiware_of("cnc_mill") == "ManufacturingMachine"  # from its parent machine_tool
    assert tax.fiware_of("milling") is None


def test_sub_types_and_subsumption() -> None:
    tax = load_taxonomy()
    assert tax.get("milling").path == "capability/manufacturing/machining/milling"
    assert {n.id for n in tax.subtree("machining")} == {
        "machining",
        "milling",
        "turning",
        "drilling",
        "grinding",
    }
    assert tax.is_a("milling", "machining") and tax.is_a("milling", "capability")
    assert tax.is_a("milling", "milling") and not tax.is_a("machining", "milling")
    assert not tax.is_a("milling", "welding")
    assert tax.get("capability/manufacturing/machining") is tax.get("machining")
    with pytest.raises(InvalidInput):
        tax.get("unknown")


def test_a_broken_taxonomy_is_refused() -> None:
    with pytest.raises(InvalidInput) as bad:
        Taxonomy({"resource": {"manufacturing": {"x": {}, "y": {"x": {}}}}, "service": {}})
    text = str(bad.value.extra["errors"])
    assert "'x' is used twice" in text and "'service'" in text and "lacks the domain" in text


@pytest.mark.parametrize("linked", [False, True])
def test_td_of_every_type_validates(linked: bool) -> None:
    tax = load_taxonomy()
    now = datetime(2026, 11, 29, tzinfo=UTC)
    for node in tax.nodes():
        if node.depth < 1:
            continue
        thing = TdInput(
            thing_id="01abc",
            kind=node.kind,
            node=node,
            title=node.title,
            description="a thing",
            affordances=AFFORDANCES,
            attributes={"power_kw": 3.5, "material": "steel", "certified": True},
            latitude=1.0,
            longitude=2.0,
            device_ids=("dev-1", "dev-2") if linked else (),
            created=now,
            modified=now,
            fiware=tax.fiware_of(node.id),
        )
        doc = build_td(thing, "http://127.0.0.1:8000/api/v1")
        assert schema_errors(doc, "td") == [], node.id
        assert len(doc["links"]) == (2 if linked else 0)


def test_a_td_with_a_broken_affordance_does_not_validate() -> None:
    node = load_taxonomy().get("milling")
    bad = {"properties": {"x": {"type": "bogus"}}}
    doc = build_td(TdInput("1", "capability", node, "t", "", bad, {}, None, None, ()), "http://h/api/v1")
    assert schema_errors(doc, "td")  # the oracle the service relies on does catch it


@pytest.mark.parametrize(
    ("kind", "type_"), [("resource", "cnc_mill"), ("capability", "milling"), ("product", "grain")]
)
async def test_emitted_tds_of_every_kind_validate_with_and_without_links(
    world: World, kind: str, type_: str
) -> None:
    cal = (Window(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)),)
    plain = await world.things.create(
        world.a,
        spec(kind=kind, type=type_, title="plain", calendar=cal, **AFFORDANCES),  # type: ignore[arg-type]
    )
    linked = await world.things.create(
        world.a,
        spec(
            kind=kind,
            type=type_,
            title="linked",
            properties={"kw": {"type": "number"}},
            links=(LinkSpec("mill-a", {"kw": "power"}),),
        ),
    )
    derived = await world.things.create(
        world.a, await world.things.ground_on_device(world.a, spec(kind=kind, type=type_, title=""), "mill-a")
    )
    for thing in (plain, linked, derived):
        doc = await world.things.td(world.a, thing.id, "http://127.0.0.1/api/v1")
        assert schema_errors(doc, "td") == []
        assert f"iplus:{type_}" in doc["@type"]
    assert (await world.things.td(world.a, plain.id, "http://x/api/v1"))["links"] == []
    assert len((await world.things.td(world.a, linked.id, "http://x/api/v1"))["links"]) == 1
