"""Offers: versioned service offers over virtual things, their life cycle, history and search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from iplus.core.clock import utcnow
from iplus.core.errors import Conflict, InvalidInput, NotFound
from iplus.core.roles import Role, Scope
from iplus.infra.db.engine import Database
from iplus.infra.db.models_catalog import Offer, OfferEvent, OfferVersion
from iplus.infra.db.models_virtual import VirtualThing, VirtualThingLink
from iplus.platform.catalog.finder import OfferQuery, query_conditions
from iplus.platform.catalog.spec import (
    OfferSpec,
    calendar_json,
    parse_qos,
    spec_problems,
)
from iplus.security.principal import Principal
from iplus.virtual.taxonomy import Taxonomy

STAGES = ("draft", "published", "suspended", "retired")
# the stages each stage may move to; publishing while published puts a newer version in place
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"published", "retired"}),
    "published": frozenset({"published", "suspended", "retired"}),
    "suspended": frozenset({"published", "retired"}),
    "retired": frozenset(),
}


@dataclass
class OfferView:
    """An offer with the version the caller sees (owners: the newest; others: the published one)."""

    offer: Offer
    version: OfferVersion


async def _write_lock(s: AsyncSession, offer_id: str) -> None:
    """Write-lock an offer before reading it: FOR UPDATE locks rows on PostgreSQL only, and SQLite
    starts its write transaction at the first write, so two concurrent changes would both read the
    old offer (a lost update, or two "new" versions with the same number)."""
    await s.execute(
        update(Offer)
        .where(Offer.id == offer_id)
        .values(updated_at=Offer.updated_at)
        .execution_options(synchronize_session=False)
    )


class Offers:
    """Create, revise, move through the life cycle, find and read service offers."""

    def __init__(self, db: Database, taxonomy: Taxonomy) -> None:
        self.db = db
        self.taxonomy = taxonomy

    # checks --------------------------------------------------------------------------
    def _check(self, spec: OfferSpec) -> list[str]:
        problems = spec_problems(spec)
        if spec.capability_type not in self.taxonomy:
            problems.append(f"capability_type: unknown type {spec.capability_type!r}")
        elif self.taxonomy.get(spec.capability_type).kind != "capability":
            problems.append(f"capability_type: {spec.capability_type!r} is not a capability type")
        return problems

    async def _grounding(self, s: AsyncSession, org_id: str, things: Sequence[str]) -> tuple[list[str], Any]:
        """The devices grounding the provider's own things, and the first thing's location."""
        if not things:
            return [], None
        rows = (
            await s.scalars(
                select(VirtualThing).where(VirtualThing.org_id == org_id, VirtualThing.id.in_(things))
            )
        ).all()
        found = {t.id: t for t in rows}
        missing = [t for t in things if t not in found]
        if missing:
            raise InvalidInput(
                "an offer is made over your own virtual things",
                errors=[f"things: {m} not found" for m in missing],
            )
        links = (
            await s.scalars(select(VirtualThingLink.device_id).where(VirtualThingLink.thing_id.in_(things)))
        ).all()
        first = found[things[0]]
        place = (first.latitude, first.longitude) if first.latitude is not None else None
        return sorted(set(links)), place

    async def _version_row(
        self, s: AsyncSession, caller: Principal, offer: Offer, number: int, spec: OfferSpec
    ) -> OfferVersion:
        qos, _ = parse_qos(spec.qos)
        assert qos is not None  # checked before
        devices, place = await self._grounding(s, caller.org_id, spec.things)
        lat, lon = (spec.latitude, spec.longitude) if spec.latitude is not None else (place or (None, None))
        node = self.taxonomy.get(spec.capability_type)
        return OfferVersion(
            org_id=offer.org_id,
            offer_id=offer.id,
            version=number,
            frozen=False,
            listed=False,
            title=spec.title.strip(),
            description=spec.description,
            capability_type=node.id,
            inputs=spec.inputs,
            outputs=spec.outputs,
            qos=spec.qos,
            calendar=calendar_json(spec.calendar),
            sla=spec.sla,
            things=list(spec.things),
            devices=devices,
            latitude=lat,
            longitude=lon,
            search_text=f"{spec.title} {spec.description} {node.id} {node.title}".lower(),
            price=qos.price,
            currency=qos.currency,
            time_h=qos.time_h,
            reliability=qos.reliability,
            availability=qos.availability,
            capacity=qos.capacity,
            created_by=caller.user_id,
        )

    @staticmethod
    def _event(
        offer: Offer, caller: Principal, action: str, before: str | None, after: str | None, reason: str = ""
    ) -> OfferEvent:
        return OfferEvent(
            org_id=offer.org_id,
            offer_id=offer.id,
            version=offer.latest_version,
            action=action,
            from_stage=before,
            to_stage=after,
            actor_org_id=caller.org_id,
            actor_user_id=caller.user_id,
            reason=reason,
        )

    # writes --------------------------------------------------------------------------
    async def create(self, caller: Principal, spec: OfferSpec) -> OfferView:
        """A new offer in draft, version 1; only providers offer services."""
        caller.require_scope(Scope.WRITE)
        caller.require_role(Role.PROVIDER)
        problems = self._check(spec)
        if problems:
            raise InvalidInput("the offer is not valid", errors=problems)
        async with self.db.transaction() as s:
            offer = Offer(org_id=caller.org_id, stage="draft", latest_version=1)
            s.add(offer)
            await s.flush()
            version = await self._version_row(s, caller, offer, 1, spec)
            s.add(version)
            s.add(self._event(offer, caller, "created", None, "draft"))
            await s.flush()
            return OfferView(offer, version)

    async def revise(self, caller: Principal, offer_id: str, spec: OfferSpec) -> OfferView:
        """Change an offer: a draft version changes in place, a published one gets a new draft version."""
        caller.require_scope(Scope.WRITE)
        problems = self._check(spec)
        if problems:
            raise InvalidInput("the offer is not valid", errors=problems)
        async with self.db.transaction() as s:
            offer = await self._own(s, caller, offer_id, lock=True)
            caller.require_role(Role.PROVIDER)  # an organisation that lost the role keeps its offers, frozen
            if offer.stage == "retired":
                raise Conflict(f"offer {offer_id} is retired: it cannot change")
            latest = await self._version(s, offer.id, offer.latest_version)
            fresh = await self._version_row(s, caller, offer, offer.latest_version, spec)
            if latest.frozen:
                offer.latest_version += 1
                fresh.version = offer.latest_version
                s.add(fresh)
                action = "new version"
            else:
                kept = ("id", "offer_id", "version", "org_id", "created_at", "frozen", "listed")
                for column in OfferVersion.__table__.columns.keys():
                    if column not in kept:
                        setattr(latest, column, getattr(fresh, column))
                fresh = latest
                action = "revised"
            offer.updated_at = utcnow()
            s.add(self._event(offer, caller, action, offer.stage, offer.stage))
            await s.flush()
            return OfferView(offer, fresh)

    async def move(self, caller: Principal, offer_id: str, to: str, reason: str = "") -> OfferView:
        """Move an offer through draft -> published -> suspended -> retired; anything else is a 409."""
        caller.require_scope(Scope.WRITE)
        if to not in STAGES:
            raise InvalidInput(f"stage: {to!r} is not one of {', '.join(STAGES)}")
        reason = reason.strip()
        if len(reason) > 2000:
            raise InvalidInput("reason: at most 2000 characters")
        async with self.db.transaction() as s:
            await _write_lock(s, offer_id)
            offer = await s.scalar(select(Offer).where(Offer.id == offer_id).with_for_update())
            own = offer is not None and offer.org_id == caller.org_id
            operator = Role.OPERATOR in caller.roles and offer is not None and offer.stage != "draft"
            if offer is None or not (own or operator):
                raise NotFound(f"offer {offer_id} not found")
            before = offer.stage
            if to not in TRANSITIONS[before]:
                raise Conflict(f"offer {offer_id} is {before}: it cannot become {to}")
            acting_as = "provider" if own else "operator"
            if to == "suspended":
                if acting_as == "operator" and not reason:
                    raise InvalidInput("reason: an operator suspends an offer with a reason")
                offer.suspended_by = acting_as
            elif to == "published":
                if acting_as == "provider":
                    caller.require_role(Role.PROVIDER)
                await self._publish(s, offer, acting_as)
            elif to == "retired" and acting_as != "provider":
                raise Conflict("only the provider retires its offer; an operator suspends it")
            offer.stage = to
            offer.updated_at = utcnow()
            # exactly the published version of a published offer is listed in the pools
            await s.execute(
                update(OfferVersion)
                .where(OfferVersion.offer_id == offer.id)
                .values(
                    listed=(OfferVersion.version == offer.published_version) if to == "published" else False
                )
                .execution_options(synchronize_session="fetch")
            )
            s.add(self._event(offer, caller, "stage", before, to, reason))
            await s.flush()
            shown = offer.published_version if to == "published" else offer.latest_version
            return OfferView(offer, await self._version(s, offer.id, shown or offer.latest_version))

    async def _publish(self, s: AsyncSession, offer: Offer, acting_as: str) -> None:
        latest = await self._version(s, offer.id, offer.latest_version)
        if offer.stage == "suspended":
            if offer.suspended_by == "operator" and acting_as != "operator":
                raise Conflict("an operator suspended this offer: only an operator can lift the suspension")
            if acting_as == "operator" and offer.suspended_by != "operator":
                raise Conflict("the provider suspended this offer: only the provider can publish it again")
            offer.suspended_by = None
            if latest.frozen:
                return
        elif acting_as != "provider":
            raise Conflict("only the provider publishes its offer")
        if latest.frozen:
            raise Conflict(f"offer {offer.id} has no new version to publish")
        latest.frozen = True
        offer.published_version = latest.version

    # reads ---------------------------------------------------------------------------
    async def _own(self, s: AsyncSession, caller: Principal, offer_id: str, *, lock: bool = False) -> Offer:
        stmt = select(Offer).where(Offer.id == offer_id, Offer.org_id == caller.org_id)
        if lock:
            await _write_lock(s, offer_id)
        offer = await s.scalar(stmt.with_for_update() if lock else stmt)
        if offer is None:
            raise NotFound(f"offer {offer_id} not found")
        return offer

    @staticmethod
    async def _version(s: AsyncSession, offer_id: str, number: int) -> OfferVersion:
        row = await s.scalar(
            select(OfferVersion).where(OfferVersion.offer_id == offer_id, OfferVersion.version == number)
        )
        if row is None:
            raise NotFound(f"offer {offer_id} has no version {number}")
        return row

    @staticmethod
    def visible(caller: Principal) -> ColumnElement[bool]:
        """Offers the caller may see: its own, published ones, and (operators) every one past draft."""
        if Role.OPERATOR in caller.roles:
            return or_(Offer.org_id == caller.org_id, Offer.stage != "draft")
        return or_(Offer.org_id == caller.org_id, Offer.stage == "published")

    async def get(self, caller: Principal, offer_id: str) -> OfferView:
        """An offer as the caller sees it; a draft of another organisation does not exist for it."""
        async with self.db.transaction() as s:
            offer = await s.scalar(select(Offer).where(Offer.id == offer_id, self.visible(caller)))
            if offer is None:
                raise NotFound(f"offer {offer_id} not found")
            number = offer.latest_version if offer.org_id == caller.org_id else offer.published_version
            if number is None:  # an operator looking at an offer retired before it was ever published
                number = offer.latest_version
            return OfferView(offer, await self._version(s, offer.id, number))

    async def versions(self, caller: Principal, offer_id: str) -> list[OfferVersion]:
        """The versions the caller may see, oldest first: owners all, others the published ones."""
        view = await self.get(caller, offer_id)
        async with self.db.transaction() as s:
            stmt = select(OfferVersion).where(OfferVersion.offer_id == view.offer.id)
            if view.offer.org_id != caller.org_id:
                stmt = stmt.where(OfferVersion.frozen.is_(True))
            return list((await s.scalars(stmt.order_by(OfferVersion.version))).all())

    async def version(self, caller: Principal, offer_id: str, number: int) -> OfferVersion:
        """One version the caller may see."""
        for v in await self.versions(caller, offer_id):
            if v.version == number:
                return v
        raise NotFound(f"offer {offer_id} has no version {number}")

    async def history(self, caller: Principal, offer_id: str) -> list[OfferEvent]:
        """Every change of the offer, oldest first (the provider's and the operator's view)."""
        view = await self.get(caller, offer_id)
        if view.offer.org_id != caller.org_id and Role.OPERATOR not in caller.roles:
            raise NotFound(f"offer {offer_id} has no history visible to you")
        async with self.db.transaction() as s:
            rows = await s.scalars(
                select(OfferEvent)
                .where(OfferEvent.offer_id == offer_id)
                .order_by(OfferEvent.at, OfferEvent.id)
            )
            return list(rows.all())

    def _search_stmt(self, caller: Principal, query: OfferQuery) -> Any:
        if query.mine:
            # the owner's own offers in their newest version, whatever the stage
            join_on = and_(OfferVersion.offer_id == Offer.id, OfferVersion.version == Offer.latest_version)
            where: list[ColumnElement[bool]] = [Offer.org_id == caller.org_id]
        else:
            join_on = and_(OfferVersion.offer_id == Offer.id, OfferVersion.version == Offer.published_version)
            where = [self.visible(caller)]
        if query.stage:
            if query.stage not in STAGES:
                raise InvalidInput(f"stage: {query.stage!r} is not one of {', '.join(STAGES)}")
            where.append(Offer.stage == query.stage)
        elif not query.mine:
            where.append(Offer.stage == "published")
        return join_on, [*where, *query_conditions(query, self.taxonomy)]

    async def search(self, caller: Principal, query: OfferQuery) -> tuple[list[OfferView], int]:
        """A page of offers matching the query, cheapest first, and how many match in all."""
        if not 1 <= query.limit <= 500 or query.offset < 0:
            raise InvalidInput("limit: 1-500; offset: at least 0")
        if not query.mine and query.stage in (None, "published"):
            return await self._search_listed(query)
        join_on, where = self._search_stmt(caller, query)
        async with self.db.transaction() as s:
            total = await s.scalar(
                select(func.count()).select_from(Offer).join(OfferVersion, join_on).where(*where)
            )
            rows = await s.execute(
                select(Offer, OfferVersion)
                .join(OfferVersion, join_on)
                .where(*where)
                .order_by(OfferVersion.price, Offer.id)
                .offset(query.offset)
                .limit(query.limit)
            )
            return [OfferView(o, v) for o, v in rows.all()], int(total or 0)

    async def _search_listed(self, query: OfferQuery) -> tuple[list[OfferView], int]:
        # the pools: one table, one pass (the total rides along as a window count), offers by key
        where = [OfferVersion.listed.is_(True), *query_conditions(query, self.taxonomy)]
        async with self.db.transaction() as s:
            rows = (
                await s.execute(
                    select(OfferVersion, func.count().over().label("total"))
                    .where(*where)
                    .order_by(OfferVersion.price, OfferVersion.offer_id)
                    .offset(query.offset)
                    .limit(query.limit)
                )
            ).all()
            if not rows:
                total = 0 if query.offset == 0 else await s.scalar(select(func.count()).where(*where))
                return [], int(total or 0)
            versions = [r[0] for r in rows]
            found = await s.scalars(select(Offer).where(Offer.id.in_([v.offer_id for v in versions])))
            by_id = {o.id: o for o in found.all()}
            return [OfferView(by_id[v.offer_id], v) for v in versions], int(rows[0][1])

    async def published_of_types(
        self, caller: Principal, types: list[str], limit: int = 2000
    ) -> list[OfferVersion]:
        """Published versions visible to the caller whose capability type is one of ``types``."""
        async with self.db.transaction() as s:
            rows = await s.scalars(
                select(OfferVersion)
                .join(
                    Offer,
                    and_(OfferVersion.offer_id == Offer.id, OfferVersion.version == Offer.published_version),
                )
                .where(Offer.stage == "published", OfferVersion.capability_type.in_(types))
                .order_by(OfferVersion.price, Offer.id)
                .limit(limit)
            )
            return list(rows.all())

    async def statistics(self) -> dict[str, Any]:
        """Offers by stage and published offers by capability type (the operator's pool statistics)."""
        async with self.db.transaction() as s:
            stages = dict((await s.execute(select(Offer.stage, func.count()).group_by(Offer.stage))).all())
            types = dict(
                (
                    await s.execute(
                        select(OfferVersion.capability_type, func.count())
                        .join(
                            Offer,
                            and_(
                                OfferVersion.offer_id == Offer.id,
                                OfferVersion.version == Offer.published_version,
                            ),
                        )
                        .where(Offer.stage == "published")
                        .group_by(OfferVersion.capability_type)
                    )
                ).all()
            )
        return {
            "offers_by_stage": {k: int(v) for k, v in stages.items()},
            "published_by_type": {k: int(v) for k, v in types.items()},
        }
