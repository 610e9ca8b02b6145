"""Pools: search virtual things by text, type subtree, attributes, radius and availability, with facets."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from iplus.core.clock import as_utc
from iplus.core.errors import InvalidInput
from iplus.infra.db.models_virtual import VirtualThing, VirtualThingAttribute, VirtualThingWindow
from iplus.virtual.spec import Kind, Visibility, in_utc_range
from iplus.virtual.taxonomy import Taxonomy

EARTH_RADIUS_KM = 6371.0088  # IUGG mean radius
MAX_LIMIT = 1000
MAX_RADIUS_KM = 20_000.0


@dataclass(frozen=True)
class AttrFilter:
    """One attribute condition: equal to a value, or within [minimum, maximum] (either side open)."""

    key: str
    equals: str | float | bool | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class PoolQuery:
    """What to look for in the pools; every field left empty does not filter."""

    kind: str | None = None
    text: str | None = None
    type: str | None = None
    attrs: tuple[AttrFilter, ...] = ()
    near: tuple[float, float] | None = None
    radius_km: float | None = None
    available_from: datetime | None = None
    available_to: datetime | None = None
    offset: int = 0
    limit: int = 20


@dataclass(frozen=True)
class PoolItem:
    """One hit, with its great-circle distance when the query gave a centre."""

    thing: VirtualThing
    distance_km: float | None = None


@dataclass(frozen=True)
class PoolPage:
    """A page of hits, the total number of hits, and counts per type, domain and kind."""

    items: list[PoolItem]
    total: int
    offset: int
    limit: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on the mean-radius sphere."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def haversine_a_expr(lat: float, lon: float) -> ColumnElement[float]:
    """The haversine term ``a`` (0 at the centre, monotonic in distance) as SQL on SQLite and PostgreSQL."""
    p1 = math.radians(lat)
    dphi = (func.radians(VirtualThing.latitude) - p1) / 2
    dlmb = (func.radians(VirtualThing.longitude) - math.radians(lon)) / 2
    s1, s2 = func.sin(dphi), func.sin(dlmb)
    expr: ColumnElement[float] = (
        s1 * s1 + math.cos(p1) * func.cos(func.radians(VirtualThing.latitude)) * s2 * s2
    )
    return expr


def _near_conditions(lat: float, lon: float, radius_km: float) -> list[ColumnElement[bool]]:
    # an indexable bounding box first, then the exact haversine bound: d <= r  <=>  a <= sin^2(r / 2R)
    ang = radius_km / EARTH_RADIUS_KM
    dlat = math.degrees(ang)
    conds: list[ColumnElement[bool]] = [
        VirtualThing.latitude.is_not(None),
        VirtualThing.latitude.between(lat - dlat, lat + dlat),
    ]
    if abs(lat) + dlat < 89.0 and ang < math.pi / 2:
        dlon = math.degrees(math.asin(min(1.0, math.sin(ang) / math.cos(math.radians(lat)))))
        low, high = lon - dlon, lon + dlon
        if low >= -180 and high <= 180:
            conds.append(VirtualThing.longitude.between(low, high))
        else:  # the box crosses the antimeridian: two ranges
            wrap_low, wrap_high = (low + 360, high) if low < -180 else (low, high - 360)
            conds.append(or_(VirtualThing.longitude >= wrap_low, VirtualThing.longitude <= wrap_high))
    bound = math.sin(min(ang, math.pi) / 2) ** 2
    conds.append(haversine_a_expr(lat, lon) <= bound + 1e-12)
    return conds


def _attr_condition(f: AttrFilter) -> ColumnElement[bool]:
    attr = VirtualThingAttribute
    # uncorrelated: the (key, value) index finds the matching things once, not once per candidate row
    where: list[ColumnElement[bool]] = [attr.key == f.key]
    if f.equals is not None:
        if isinstance(f.equals, bool):
            where.append(attr.text == ("true" if f.equals else "false"))
        elif isinstance(f.equals, int | float):
            where.append(attr.num == float(f.equals))
        else:
            where.append(attr.text == f.equals.strip().lower())
    if f.minimum is not None:
        where.append(attr.num >= f.minimum)
    if f.maximum is not None:
        where.append(attr.num <= f.maximum)
    return VirtualThing.id.in_(select(attr.thing_id).where(*where))


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def check_query(query: PoolQuery, taxonomy: Taxonomy) -> None:
    """Raise ``InvalidInput`` naming every problem of the query."""
    problems: list[str] = []
    if query.kind is not None and query.kind not in {k.value for k in Kind}:
        problems.append("kind: must be resource, capability or product")
    if query.type is not None:
        if query.type not in taxonomy:
            problems.append(f"type: unknown type {query.type!r}")
        elif query.kind is not None and taxonomy.get(query.type).kind != query.kind:
            problems.append(f"type: {query.type!r} is not a {query.kind} type")
    if (query.near is None) != (query.radius_km is None):
        problems.append("near and radius_km go together")
    if query.near is not None:
        lat, lon = query.near
        if not (math.isfinite(lat) and -90 <= lat <= 90 and math.isfinite(lon) and -180 <= lon <= 180):
            problems.append("near: latitude must be in [-90, 90] and longitude in [-180, 180]")
    if query.radius_km is not None and not (0 < query.radius_km <= MAX_RADIUS_KM):
        problems.append(f"radius_km: must be above 0 and at most {MAX_RADIUS_KM:.0f}")
    if (query.available_from is None) != (query.available_to is None):
        problems.append("available_from and available_to go together")
    elif query.available_from is not None and query.available_to is not None:
        if query.available_from.tzinfo is None or query.available_to.tzinfo is None:
            problems.append("available_from/available_to: times need a UTC offset")
        elif not in_utc_range(query.available_from, query.available_to):
            problems.append("available_from/available_to: a time is out of range in UTC")
        elif query.available_from >= query.available_to:
            problems.append("available_from must be before available_to")
    for f in query.attrs:
        if f.equals is None and f.minimum is None and f.maximum is None:
            problems.append(f"attr.{f.key}: give a value or a range")
        if f.minimum is not None and f.maximum is not None and f.minimum > f.maximum:
            problems.append(f"attr.{f.key}: the range is empty ({f.minimum} > {f.maximum})")
    if not 0 <= query.offset <= 1_000_000:
        problems.append("offset: must be between 0 and 1,000,000")
    if not 1 <= query.limit <= MAX_LIMIT:
        problems.append(f"limit: must be between 1 and {MAX_LIMIT}")
    if query.text is not None and len(query.text) > 200:
        problems.append("q: longer than 200 characters")
    if problems:
        raise InvalidInput("the pool query is not valid", errors=problems)


def pool_conditions(query: PoolQuery, viewer_org_id: str, taxonomy: Taxonomy) -> list[ColumnElement[bool]]:
    """WHERE clauses over ``VirtualThing`` for the query, visibility included (own + public things).

    Validates the query first. Compose them into any select that has ``VirtualThing`` in its FROM.
    """
    check_query(query, taxonomy)
    conds: list[ColumnElement[bool]] = [
        or_(VirtualThing.org_id == viewer_org_id, VirtualThing.visibility == Visibility.PUBLIC.value)
    ]
    if query.kind is not None:
        conds.append(VirtualThing.kind == query.kind)
    if query.type is not None:
        node = taxonomy.get(query.type)
        # a kind or a domain is a column; below that the sub-types become a short IN list
        conds.append(VirtualThing.kind == node.kind)
        if node.depth == 1:
            conds.append(VirtualThing.domain == node.domain)
        elif node.depth >= 2:
            conds.append(VirtualThing.type.in_([n.id for n in taxonomy.subtree(node.id)]))
    for word in (query.text or "").lower().split():
        conds.append(VirtualThing.search_text.like(f"%{_escape_like(word)}%", escape="\\"))
    conds.extend(_attr_condition(f) for f in query.attrs)
    if query.near is not None and query.radius_km is not None:
        conds.extend(_near_conditions(query.near[0], query.near[1], query.radius_km))
    if query.available_from is not None and query.available_to is not None:
        start, end = as_utc(query.available_from), as_utc(query.available_to)
        w = VirtualThingWindow
        conds.append(
            exists(
                select(w.id).where(
                    and_(w.thing_id == VirtualThing.id, w.starts_at <= start, w.ends_at >= end)
                )
            )
        )
    return conds


async def facet_counts(
    session: AsyncSession, conds: list[ColumnElement[bool]], taxonomy: Taxonomy
) -> dict[str, dict[str, int]]:
    """Hits per type, per domain and per kind under the same conditions (one GROUP BY on the type:
    its domain and kind follow from the taxonomy)."""
    stmt = select(VirtualThing.type, func.count()).where(*conds).group_by(VirtualThing.type)
    by_type = {str(k): int(n) for k, n in (await session.execute(stmt)).all()}
    facets: dict[str, dict[str, int]] = {"type": dict(sorted(by_type.items())), "domain": {}, "kind": {}}
    for type_id, n in facets["type"].items():
        node = taxonomy.get(type_id) if type_id in taxonomy else None
        domain, kind = (node.domain or "", node.kind) if node else ("", "")
        facets["domain"][domain] = facets["domain"].get(domain, 0) + n
        facets["kind"][kind] = facets["kind"].get(kind, 0) + n
    facets["domain"] = dict(sorted(facets["domain"].items()))
    facets["kind"] = dict(sorted(facets["kind"].items()))
    return facets


async def search(session: AsyncSession, query: PoolQuery, viewer_org_id: str, taxonomy: Taxonomy) -> PoolPage:
    """A page of visible things matching ``query``: nearest first with a centre, else by title and id."""
    conds = pool_conditions(query, viewer_org_id, taxonomy)
    stmt = select(VirtualThing).where(*conds)
    order: list[Any] = []
    if query.near is not None:
        order.append(haversine_a_expr(*query.near))
    order += [VirtualThing.title, VirtualThing.id]
    stmt = stmt.order_by(*order).offset(query.offset).limit(query.limit)
    rows = list((await session.scalars(stmt)).all())
    facets = await facet_counts(session, conds, taxonomy)
    total = sum(facets["kind"].values())
    items = [
        PoolItem(
            row,
            haversine_km(query.near[0], query.near[1], row.latitude, row.longitude)
            if query.near is not None and row.latitude is not None and row.longitude is not None
            else None,
        )
        for row in rows
    ]
    return PoolPage(items=items, total=total, offset=query.offset, limit=query.limit, facets=facets)
