"""Beta reputation with ageing, per offer and per provider, from measured executions and user ratings.

Each execution is one unit of evidence: a success counts as positive, a failure (or a late task) as
negative. A rating of ``k`` stars out of 5 counts as ``(k - 1) / 4`` positive and ``(5 - k) / 4``
negative. Evidence ``age`` days old weighs ``lambda ** age`` (Jøsang and Ismail's forgetting factor),
and reputation is the mean of the Beta posterior, ``(r + 1) / (r + s + 2)``: 0.5 with no evidence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from iplus.core.clock import as_utc, utcnow
from iplus.infra.db.engine import Database
from iplus.infra.db.models_systems import ServiceExecution, ServiceRating
from iplus.platform.systems.history import QosHistory

LAMBDA = 0.98  # per day: evidence a month old weighs 0.98**30 = 0.55
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class Evidence:
    """Positive and negative evidence observed at one time."""

    at: datetime
    positive: float
    negative: float


@dataclass(frozen=True)
class Standing:
    """Aged evidence and the reputation it gives, with the raw counts behind it."""

    reputation: float
    positive: float
    negative: float
    executions: int = 0
    successes: int = 0
    ratings: int = 0


def execution_evidence(success: bool, at: datetime) -> Evidence:
    """One execution: a success is one positive unit, a failure one negative unit."""
    return Evidence(at, 1.0, 0.0) if success else Evidence(at, 0.0, 1.0)


def rating_evidence(stars: int, at: datetime) -> Evidence:
    """A 1-5 star rating as one unit split between positive ``(k-1)/4`` and negative ``(5-k)/4``."""
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise ValueError("stars: an integer from 1 to 5")
    return Evidence(at, (stars - 1) / 4, (5 - stars) / 4)


def age_weight(at: datetime, now: datetime, lam: float = LAMBDA) -> float:
    """``lam ** age`` with the age in (fractional) days; evidence from the future counts as new."""
    age_days = max(0.0, (as_utc(now) - as_utc(at)).total_seconds() / SECONDS_PER_DAY)
    return float(lam**age_days)


def beta_reputation(positive: float, negative: float) -> float:
    """The Beta posterior mean ``(r + 1) / (r + s + 2)``."""
    return (positive + 1.0) / (positive + negative + 2.0)


def standing(evidence: Iterable[Evidence], now: datetime, lam: float = LAMBDA) -> Standing:
    """Aged evidence summed (exactly, with fsum) and its reputation."""
    items = list(evidence)
    weights = [age_weight(e.at, now, lam) for e in items]
    r = math.fsum(w * e.positive for w, e in zip(weights, items, strict=True))
    s = math.fsum(w * e.negative for w, e in zip(weights, items, strict=True))
    return Standing(beta_reputation(r, s), r, s)


class Reputations:
    """Reads executions and ratings and answers reputations and measured QoS histories."""

    def __init__(self, db: Database, lam: float = LAMBDA) -> None:
        if not 0 < lam <= 1:
            raise ValueError("lambda: more than 0 and at most 1")
        self.db = db
        self.lam = lam

    async def _evidence(
        self, column: str, keys: Iterable[str]
    ) -> dict[str, tuple[list[Evidence], int, int, int]]:
        """Per key (offer id or provider org id): evidence, executions, successes, ratings."""
        wanted = sorted(set(keys))
        out: dict[str, tuple[list[Evidence], int, int, int]] = {}
        if not wanted:
            return out
        execution_key = getattr(ServiceExecution, column)
        rating_key = getattr(ServiceRating, column)
        async with self.db.transaction() as s:
            # an organisation's runs of its own offers vouch for nothing: they are no one else's evidence
            runs = await s.execute(
                select(execution_key, ServiceExecution.success, ServiceExecution.finished_at).where(
                    execution_key.in_(wanted), ServiceExecution.org_id != ServiceExecution.provider_org_id
                )
            )
            rates = await s.execute(
                select(rating_key, ServiceRating.stars, ServiceRating.created_at).where(
                    rating_key.in_(wanted), ServiceRating.org_id != ServiceRating.provider_org_id
                )
            )
            executions = runs.all()
            ratings = rates.all()
        for key in wanted:
            out[key] = ([], 0, 0, 0)
        for key, success, at in executions:
            ev, n, ok, k = out[key]
            ev.append(execution_evidence(bool(success), at))
            out[key] = (ev, n + 1, ok + (1 if success else 0), k)
        for key, stars, at in ratings:
            ev, n, ok, k = out[key]
            ev.append(rating_evidence(int(stars), at))
            out[key] = (ev, n, ok, k + 1)
        return out

    async def _standings(self, column: str, keys: Iterable[str], now: datetime | None) -> dict[str, Standing]:
        when = now or utcnow()
        found = await self._evidence(column, keys)
        result = {}
        for key, (ev, n, ok, k) in found.items():
            base = standing(ev, when, self.lam)
            result[key] = Standing(base.reputation, base.positive, base.negative, n, ok, k)
        return result

    async def offers(self, offer_ids: Iterable[str], now: datetime | None = None) -> dict[str, Standing]:
        """Standing of each offer from its own executions and ratings."""
        return await self._standings("offer_id", offer_ids, now)

    async def providers(self, org_ids: Iterable[str], now: datetime | None = None) -> dict[str, Standing]:
        """Standing of each provider organisation from the executions and ratings of all its offers."""
        return await self._standings("provider_org_id", org_ids, now)

    async def for_options(
        self, offers: Iterable[tuple[str, str]], now: datetime | None = None
    ) -> dict[str, float]:
        """Reputation per offer id for ranking: the offer's own, or its provider's while it has none."""
        pairs = list(offers)
        when = now or utcnow()
        by_offer = await self.offers([o for o, _ in pairs], when)
        by_org = await self.providers([p for _, p in pairs], when)
        out = {}
        for offer_id, org_id in pairs:
            own = by_offer.get(offer_id)
            if own is not None and own.executions + own.ratings > 0:
                out[offer_id] = own.reputation
            else:
                out[offer_id] = by_org[org_id].reputation if org_id in by_org else 0.5
        return out

    async def histories(self, offer_ids: Iterable[str]) -> dict[str, QosHistory]:
        """Measured durations, costs and outcomes per offer (the forecast's evidence)."""
        wanted = sorted(set(offer_ids))
        if not wanted:
            return {}
        async with self.db.transaction() as s:
            rows = (
                await s.execute(
                    select(
                        ServiceExecution.offer_id,
                        ServiceExecution.success,
                        ServiceExecution.actual_time_h,
                        ServiceExecution.cost,
                    )
                    .where(ServiceExecution.offer_id.in_(wanted))
                    .order_by(ServiceExecution.finished_at, ServiceExecution.id)
                )
            ).all()
        acc: dict[str, tuple[list[float], int, int, list[float]]] = {o: ([], 0, 0, []) for o in wanted}
        for offer_id, success, hours, cost in rows:
            durations, ok, bad, costs = acc[offer_id]
            if success:
                # only a finished execution says how long the work takes and what it costs
                durations.append(float(hours))
                costs.append(float(cost))
            acc[offer_id] = (durations, ok + (1 if success else 0), bad + (0 if success else 1), costs)
        return {o: QosHistory(tuple(d), ok, bad, tuple(c)) for o, (d, ok, bad, c) in acc.items()}
