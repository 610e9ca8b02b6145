"""The virtual things service: create, change and find virtual resources, capabilities and products."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from iplus.core.clock import utcnow
from iplus.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from iplus.core.roles import Scope
from iplus.infra.db.engine import Database
from iplus.infra.db.models import Device
from iplus.infra.db.models_virtual import (
    VirtualThing,
    VirtualThingAttribute,
    VirtualThingLink,
    VirtualThingWindow,
)
from iplus.infra.db.repos import DeviceRepository, DeviceTypeRepository, TenantRepository
from iplus.security.principal import Principal
from iplus.standards.wot import parse_thing_model, schema_errors
from iplus.virtual.pools import PoolPage, PoolQuery, search
from iplus.virtual.spec import LinkSpec, ThingSpec, Visibility, Window, check_spec, utc_windows
from iplus.virtual.state import TwinSource, live_state
from iplus.virtual.taxonomy import Taxonomy, load_taxonomy
from iplus.virtual.td import TdInput, build_td, checked_td


class VirtualThingRepository(TenantRepository[VirtualThing]):
    """Virtual things of one organisation."""

    model = VirtualThing
    noun = "virtual thing"


@dataclass(frozen=True)
class ThingDetail:
    """A thing with its grounding links and merged availability windows."""

    thing: VirtualThing
    links: list[VirtualThingLink]
    windows: list[Window]


def _attribute_rows(attributes: dict[str, Any]) -> list[VirtualThingAttribute]:
    rows = []
    for key, value in attributes.items():
        if isinstance(value, bool):
            rows.append(VirtualThingAttribute(key=key, text="true" if value else "false"))
        elif isinstance(value, int | float):
            rows.append(VirtualThingAttribute(key=key, num=float(value)))
        else:
            rows.append(VirtualThingAttribute(key=key, text=str(value).strip().lower()[:500]))
    return rows


class VirtualThings:
    """Virtual things of organisations, grounded by devices, found through the pools."""

    def __init__(self, db: Database, twins: TwinSource, taxonomy: Taxonomy | None = None) -> None:
        self.db = db
        self.twins = twins
        self.taxonomy = taxonomy or load_taxonomy()

    # writing -------------------------------------------------------------------------
    async def create(self, caller: Principal, spec: ThingSpec) -> VirtualThing:
        """Store a new virtual thing (all checks first: nothing is stored half-way)."""
        return (await self.create_many(caller, [spec]))[0]

    async def create_many(self, caller: Principal, specs: list[ThingSpec]) -> list[VirtualThing]:
        """Store several things in one transaction: all of them, or none when one is not valid."""
        caller.require_scope(Scope.WRITE)
        if not specs:
            raise InvalidInput("no virtual things to create")
        made = []
        async with self.db.transaction() as s:
            for i, spec in enumerate(specs):
                try:
                    await self._check(s, caller.org_id, spec)
                except InvalidInput as exc:
                    if len(specs) == 1:
                        raise
                    raise InvalidInput(f"thing {i} ({spec.title!r}): {exc.detail}", **exc.extra) from exc
            for spec in specs:
                thing = VirtualThing()
                self._fill(thing, spec)
                await VirtualThingRepository(s, caller.org_id).add(thing)
                await self._write_children(s, caller.org_id, thing.id, spec)
                made.append(thing)
        return made

    async def update(self, caller: Principal, thing_id: str, spec: ThingSpec) -> VirtualThing:
        """Replace an own thing's description, attributes, calendar and links."""
        caller.require_scope(Scope.WRITE)
        async with self.db.transaction() as s:
            thing = await VirtualThingRepository(s, caller.org_id).get(thing_id)
            await self._check(s, caller.org_id, spec)
            self._fill(thing, spec)
            thing.updated_at = utcnow()
            for table in (VirtualThingLink, VirtualThingWindow, VirtualThingAttribute):
                await s.execute(delete(table).where(table.thing_id == thing.id))
            await self._write_children(s, caller.org_id, thing.id, spec)
            return thing

    async def delete(self, caller: Principal, thing_id: str) -> None:
        """Remove an own thing with its links, calendar and attributes."""
        caller.require_scope(Scope.WRITE)
        async with self.db.transaction() as s:
            thing = await VirtualThingRepository(s, caller.org_id).get(thing_id)
            for table in (VirtualThingLink, VirtualThingWindow, VirtualThingAttribute):
                await s.execute(delete(table).where(table.thing_id == thing.id))
            await s.delete(thing)

    def _fill(self, thing: VirtualThing, spec: ThingSpec) -> None:
        node = self.taxonomy.get(spec.type)
        lineage = [n.title for n in self._lineage(node.id)]
        words = [spec.title, spec.description, node.id.replace("_", " "), *lineage]
        words += [str(v) for v in spec.attributes.values() if isinstance(v, str)]
        thing.kind = spec.kind
        thing.type = node.id
        thing.domain = node.domain or ""
        thing.title = spec.title.strip()
        thing.description = spec.description
        thing.search_text = " ".join(words).lower()
        thing.visibility = spec.visibility
        thing.attributes = dict(spec.attributes)
        thing.latitude, thing.longitude = spec.latitude, spec.longitude
        thing.affordances = {
            "properties": dict(spec.properties),
            "actions": dict(spec.actions),
            "events": dict(spec.events),
        }

    def _lineage(self, type_id: str) -> list[Any]:
        out, node = [], self.taxonomy.get(type_id)
        while node.parent is not None:
            out.append(node)
            node = self.taxonomy.get(node.parent)
        return out

    async def _check(self, s: AsyncSession, org_id: str, spec: ThingSpec) -> None:
        problems = check_spec(spec, self.taxonomy)
        devices = DeviceRepository(s, org_id)
        types = DeviceTypeRepository(s, org_id)
        for link in spec.links:
            try:
                device = await devices.get(link.device_id)
            except NotFound:
                problems.append(f"links/{link.device_id}: no such device in this organisation")
                continue
            model = parse_thing_model((await types.get(device.type_id)).thing_model)
            for vprop, tprop in link.mapping.items():
                if tprop not in model.properties:
                    problems.append(f"links/{link.device_id}/{vprop}: the device has no property {tprop!r}")
        if not problems:
            # the emitted TD must validate: check the affordances as they will be published
            node = self.taxonomy.get(spec.type)
            affordances = {"properties": spec.properties, "actions": spec.actions, "events": spec.events}
            probe = TdInput(
                "probe",
                spec.kind,
                node,
                spec.title,
                spec.description,
                affordances,
                dict(spec.attributes),
                spec.latitude,
                spec.longitude,
                tuple(link.device_id for link in spec.links),
                utcnow(),
                utcnow(),
            )
            problems += schema_errors(build_td(probe, "https://probe/api/v1"), "td")
        if problems:
            raise InvalidInput("the virtual thing is not valid", errors=problems)

    async def _write_children(self, s: AsyncSession, org_id: str, thing_id: str, spec: ThingSpec) -> None:
        rows: list[Any] = [
            VirtualThingLink(org_id=org_id, thing_id=thing_id, device_id=link.device_id, mapping=link.mapping)
            for link in spec.links
        ]
        rows += [
            VirtualThingWindow(org_id=org_id, thing_id=thing_id, starts_at=w.starts_at, ends_at=w.ends_at)
            for w in utc_windows(spec.calendar)
        ]
        for row in _attribute_rows(spec.attributes):
            row.org_id, row.thing_id = org_id, thing_id
            rows.append(row)
        s.add_all(rows)
        await s.flush()

    # reading -------------------------------------------------------------------------
    async def _visible(self, s: AsyncSession, caller: Principal, thing_id: str) -> VirtualThing:
        # another organisation's thing is found only when it was published as public
        stmt = select(VirtualThing).where(
            VirtualThing.id == thing_id,
            or_(VirtualThing.org_id == caller.org_id, VirtualThing.visibility == Visibility.PUBLIC.value),
        )
        thing = await s.scalar(stmt)
        if thing is None:
            raise NotFound(f"virtual thing {thing_id} not found")
        return thing

    async def get(self, caller: Principal, thing_id: str) -> VirtualThing:
        """An own thing or another organisation's public one; anything else is ``NotFound``."""
        async with self.db.transaction() as s:
            return await self._visible(s, caller, thing_id)

    async def get_own(self, caller: Principal, thing_id: str) -> VirtualThing:
        """A thing of the caller's organisation."""
        async with self.db.transaction() as s:
            return await VirtualThingRepository(s, caller.org_id).get(thing_id)

    async def detail(self, caller: Principal, thing_id: str) -> ThingDetail:
        """A visible thing with its links and calendar."""
        async with self.db.transaction() as s:
            thing = await self._visible(s, caller, thing_id)
            links = list(
                (
                    await s.scalars(
                        select(VirtualThingLink)
                        .where(VirtualThingLink.thing_id == thing.id)
                        .order_by(VirtualThingLink.device_id)
                    )
                ).all()
            )
            windows = (
                await s.scalars(
                    select(VirtualThingWindow)
                    .where(VirtualThingWindow.thing_id == thing.id)
                    .order_by(VirtualThingWindow.starts_at)
                )
            ).all()
        return ThingDetail(thing, links, [Window(w.starts_at, w.ends_at) for w in windows])

    async def list_own(
        self, caller: Principal, *, kind: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[VirtualThing]:
        """A page of the organisation's own things, newest first."""
        async with self.db.transaction() as s:
            stmt = select(VirtualThing).where(VirtualThing.org_id == caller.org_id)
            if kind is not None:
                stmt = stmt.where(VirtualThing.kind == kind)
            stmt = stmt.order_by(VirtualThing.id.desc()).offset(offset).limit(limit)
            return list((await s.scalars(stmt)).all())

    async def td(self, caller: Principal, thing_id: str, api_base: str) -> dict[str, Any]:
        """The thing's W3C WoT Thing Description, validated against TD 1.1."""
        d = await self.detail(caller, thing_id)
        t = d.thing
        return checked_td(
            TdInput(
                t.id,
                t.kind,
                self.taxonomy.get(t.type),
                t.title,
                t.description,
                t.affordances,
                t.attributes,
                t.latitude,
                t.longitude,
                # which devices ground a thing is its owner's business: others see the thing only
                tuple(link.device_id for link in d.links) if t.org_id == caller.org_id else (),
                t.created_at,
                t.updated_at,
                self.taxonomy.fiware_of(t.type),
            ),
            api_base,
        )

    async def state(self, caller: Principal, thing_id: str) -> dict[str, Any]:
        """Live values of the thing's properties, following the twins of its grounding devices."""
        d = await self.detail(caller, thing_id)
        # the owner's twins: a public thing shows its grounded state to every organisation that finds it
        reported = await self.twins.reported(d.thing.org_id, [link.device_id for link in d.links])
        state = live_state(d.thing.id, [(link.device_id, link.mapping) for link in d.links], reported)
        if d.thing.org_id != caller.org_id:  # values and times, not the owner's device ids
            state["links"] = []
            for value in state["properties"].values():
                value.pop("device_id", None)
                value.pop("source", None)
        return state

    async def action_device(self, caller: Principal, thing_id: str, action: str) -> str:
        """The grounding device of an own thing that performs ``action`` (its type's Thing Model has it)."""
        d = await self.detail(caller, thing_id)
        if action not in (d.thing.affordances.get("actions") or {}):
            raise NotFound(f"virtual thing {thing_id} has no action {action!r}")
        if d.thing.org_id != caller.org_id:
            raise Forbidden(
                "another organisation's thing is used by ordering its service, not by invoking it"
            )
        async with self.db.transaction() as s:
            devices, types = DeviceRepository(s, caller.org_id), DeviceTypeRepository(s, caller.org_id)
            for link in d.links:
                device = await devices.get(link.device_id)
                if action in parse_thing_model((await types.get(device.type_id)).thing_model).actions:
                    return device.id
        raise Conflict(f"no grounding device performs {action!r}: it is carried out by ordering the service")

    async def things_of_device(self, caller: Principal, device_id: str) -> list[VirtualThing]:
        """The organisation's things that a device grounds."""
        async with self.db.transaction() as s:
            stmt = (
                select(VirtualThing)
                .join(VirtualThingLink, VirtualThingLink.thing_id == VirtualThing.id)
                .where(VirtualThingLink.device_id == device_id, VirtualThing.org_id == caller.org_id)
                .order_by(VirtualThing.id)
            )
            return list((await s.scalars(stmt)).all())

    async def ground_on_device(self, caller: Principal, spec: ThingSpec, device_id: str) -> ThingSpec:
        """``spec`` completed from a device: its type's Thing Model gives the affordances (the spec's own
        win), each property is linked to the same-named twin property, and the device's location is used
        when the spec has none."""
        async with self.db.transaction() as s:
            device: Device = await DeviceRepository(s, caller.org_id).get(device_id)
            kind_row = await DeviceTypeRepository(s, caller.org_id).get(device.type_id)
        model = parse_thing_model(kind_row.thing_model)

        def bare(items: dict[str, Any]) -> dict[str, dict[str, Any]]:
            return {n: {k: v for k, v in a.items() if k != "forms"} for n, a in items.items()}

        props = bare(model.document.get("properties") or {})
        others = [link for link in spec.links if link.device_id != device.id]
        mine = {name: name for name in props if name not in spec.properties}
        located = spec.latitude is not None
        return replace(
            spec,
            title=spec.title or device.name,
            description=spec.description or str(model.document.get("description") or ""),
            latitude=spec.latitude if located else device.latitude,
            longitude=spec.longitude if located else device.longitude,
            properties={**props, **spec.properties},
            actions={**bare(model.actions), **spec.actions},
            events={**bare(model.events), **spec.events},
            links=(LinkSpec(device.id, mine), *others),
        )

    async def search(self, caller: Principal, query: PoolQuery) -> PoolPage:
        """Visible things (own + public) matching the query, with facets and the total."""
        async with self.db.transaction() as s:
            return await search(s, query, caller.org_id, self.taxonomy)
