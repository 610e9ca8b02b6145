"""Finding offers: the search conditions, the type lineage, and matching a requirement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement

from iplus.core.clock import utcnow
from iplus.infra.db.models_catalog import OfferVersion
from iplus.platform.catalog.matching import (
    REPUTATION,
    Candidate,
    Match,
    Rejection,
    Requirement,
    check_requirement,
    match,
)
from iplus.platform.catalog.spec import calendar_of, input_units, parse_qos
from iplus.security.principal import Principal
from iplus.virtual.taxonomy import Taxonomy

if TYPE_CHECKING:
    from iplus.platform.catalog.offers import Offers


@dataclass(frozen=True)
class OfferQuery:
    """A search over offers: text, type with its sub-types, QoS bounds, paging."""

    text: str | None = None
    type: str | None = None
    max_price: float | None = None
    currency: str | None = None
    max_time_h: float | None = None
    min_reliability: float | None = None
    min_availability: float | None = None
    min_capacity: float | None = None
    mine: bool = False
    stage: str | None = None
    offset: int = 0
    limit: int = 20


def lineage(taxonomy: Taxonomy, type_id: str) -> list[str]:
    """Type ids from ``type_id`` up to its kind, the type first."""
    chain = []
    node = taxonomy.get(type_id)
    while True:
        chain.append(node.id)
        if node.parent is None:
            return chain
        node = taxonomy.get(node.parent)


def query_conditions(query: OfferQuery, taxonomy: Taxonomy) -> list[ColumnElement[bool]]:
    """WHERE clauses over ``OfferVersion`` for the query's text, type and QoS bounds."""
    conds: list[ColumnElement[bool]] = []
    for word in (query.text or "").lower().split()[:8]:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conds.append(OfferVersion.search_text.like(f"%{escaped}%", escape="\\"))
    if query.type:
        conds.append(OfferVersion.capability_type.in_([n.id for n in taxonomy.subtree(query.type)]))
    bounds: list[tuple[Any, float | None, bool]] = [
        (OfferVersion.price, query.max_price, True),
        (OfferVersion.time_h, query.max_time_h, True),
        (OfferVersion.reliability, query.min_reliability, False),
        (OfferVersion.availability, query.min_availability, False),
        (OfferVersion.capacity, query.min_capacity, False),
    ]
    for column, bound, upper in bounds:
        if bound is not None:
            conds.append(column <= bound if upper else column >= bound)
    if query.currency:
        conds.append(OfferVersion.currency == query.currency.upper())
    return conds


def candidate_of(version: OfferVersion) -> Candidate:
    """An offer version as matching sees it."""
    qos, _ = parse_qos(version.qos)
    assert qos is not None  # stored versions were checked on the way in
    return Candidate(
        offer_id=version.offer_id,
        version=version.version,
        org_id=version.org_id,
        title=version.title,
        capability_type=version.capability_type,
        inputs=input_units(version.inputs),
        required_inputs=frozenset(version.inputs.get("required") or ()),
        qos=qos,
        calendar=calendar_of(version.calendar),
        latitude=version.latitude,
        longitude=version.longitude,
    )


# (offer id, provider org id) pairs -> reputation per offer id, from the evaluation of past runs
ReputationSource = Callable[[list[tuple[str, str]]], Awaitable[dict[str, float]]]


async def match_offers(
    offers: Offers, caller: Principal, req: Requirement, reputation: ReputationSource | None = None
) -> tuple[list[Match], list[Rejection]]:
    """Match a requirement against the published offers of its type and sub-types."""
    check_requirement(req)
    types = [n.id for n in offers.taxonomy.subtree(req.type)]
    required = offers.taxonomy.get(req.type).id
    req = replace(req, type=required)
    versions = await offers.published_of_types(caller, types)
    candidates = [candidate_of(v) for v in versions]
    if reputation is not None and req.weights.get(REPUTATION):
        known = await reputation([(c.offer_id, c.org_id) for c in candidates])
        candidates = [replace(c, reputation=known.get(c.offer_id)) for c in candidates]
    return match(req, candidates, lambda t: lineage(offers.taxonomy, t), utcnow())
