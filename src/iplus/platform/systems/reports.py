"""Evaluation reports: a provider's offers as delivered, and the operator's view of every running system."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import case, func, select

from iplus.core.clock import utcnow
from iplus.core.errors import Forbidden
from iplus.core.roles import Role, Scope
from iplus.engines.stream.alarms import alarm_dict
from iplus.infra.db.engine import Database
from iplus.infra.db.models import Organisation
from iplus.infra.db.models_catalog import Offer, OfferVersion
from iplus.infra.db.models_stream import Alarm
from iplus.infra.db.models_systems import (
    ServiceExecution,
    ServiceRating,
    ServiceRun,
    ServiceRunTask,
    ServiceSystem,
)
from iplus.platform.systems.reputation import Reputations
from iplus.platform.systems.runs import SLA_RULE, latest
from iplus.security.principal import Principal


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


class Reports:
    """Provider and operator reports over executions, ratings, runs and SLA alarms."""

    def __init__(self, db: Database, reputations: Reputations) -> None:
        self.db = db
        self.reputations = reputations

    async def provider(self, caller: Principal) -> dict[str, Any]:
        """Per offer of the caller: executions, success rate, actual against promised time, cost, ratings."""
        caller.require_scope(Scope.READ)
        async with self.db.transaction() as s:
            offers = (
                await s.execute(
                    select(Offer.id, Offer.stage, OfferVersion.title)
                    .join(
                        OfferVersion,
                        (OfferVersion.offer_id == Offer.id) & (OfferVersion.version == Offer.latest_version),
                    )
                    .where(Offer.org_id == caller.org_id)
                    .order_by(Offer.created_at, Offer.id)
                )
            ).all()
            executions = (
                await s.scalars(
                    select(ServiceExecution).where(ServiceExecution.provider_org_id == caller.org_id)
                )
            ).all()
            ratings = (
                await s.scalars(select(ServiceRating).where(ServiceRating.provider_org_id == caller.org_id))
            ).all()
        now = utcnow()
        ids = [o for o, _, _ in offers]
        standings = await self.reputations.offers(ids, now)
        mine = (await self.reputations.providers([caller.org_id], now))[caller.org_id]
        rows = []
        for offer_id, stage, title in offers:
            ex = [e for e in executions if e.offer_id == offer_id]
            ok = [e for e in ex if e.success]
            stars = [r.stars for r in ratings if r.offer_id == offer_id]
            rows.append(
                {
                    "offer_id": offer_id,
                    "title": title,
                    "stage": stage,
                    "executions": len(ex),
                    "successes": len(ok),
                    "success_rate": len(ok) / len(ex) if ex else None,
                    "mean_actual_time_h": _mean([e.actual_time_h for e in ok]),
                    "mean_promised_time_h": _mean([e.promised_time_h for e in ex]),
                    "late": sum(1 for e in ok if e.actual_time_h > e.promised_time_h),
                    "mean_cost": _mean([e.cost for e in ok]),
                    "ratings": len(stars),
                    "mean_stars": _mean([float(x) for x in stars]),
                    "reputation": standings[offer_id].reputation,
                }
            )
        return {
            "org_id": caller.org_id,
            "at": now.isoformat(),
            "reputation": mine.reputation,
            "executions": mine.executions,
            "ratings": mine.ratings,
            "offers": rows,
        }

    async def operator(self, caller: Principal) -> dict[str, Any]:
        """Every running system with its progress, the active SLA alarms, and every provider's record."""
        caller.require_scope(Scope.READ)
        if Role.OPERATOR not in caller.roles:
            raise Forbidden("the operator report is for platform operators")
        async with self.db.transaction() as s:
            running = (
                await s.execute(
                    select(ServiceRun, ServiceSystem.name)
                    .join(ServiceSystem, ServiceSystem.id == ServiceRun.system_id)
                    .where(ServiceRun.status == "running")
                    .order_by(ServiceRun.started_at)
                )
            ).all()
            run_ids = [r.id for r, _ in running]
            tasks = (
                (await s.scalars(select(ServiceRunTask).where(ServiceRunTask.run_id.in_(run_ids)))).all()
                if run_ids
                else []
            )
            alarms = (
                await s.scalars(
                    select(Alarm)
                    .where(Alarm.rule_name == SLA_RULE, Alarm.active.is_(True))
                    .order_by(Alarm.raised_at.desc())
                )
            ).all()
            per_provider = (
                await s.execute(
                    select(
                        ServiceExecution.provider_org_id,
                        func.count(),
                        func.sum(case((ServiceExecution.success.is_(True), 1), else_=0)),
                    ).group_by(ServiceExecution.provider_org_id)
                )
            ).all()
            rated: dict[str, Any] = dict(
                (
                    await s.execute(
                        select(ServiceRating.provider_org_id, func.avg(ServiceRating.stars)).group_by(
                            ServiceRating.provider_org_id
                        )
                    )
                ).all()
            )
            names = dict((await s.execute(select(Organisation.id, Organisation.name))).all())
        by_run: dict[str, list[ServiceRunTask]] = {}
        for t in tasks:
            by_run.setdefault(t.run_id, []).append(t)
        alarm_rows = [alarm_dict(a) for a in alarms]
        standings = await self.reputations.providers([p for p, _, _ in per_provider])
        systems = []
        for run, name in running:
            current = latest(by_run.get(run.id, []))
            systems.append(
                {
                    "run_id": run.id,
                    "system_id": run.system_id,
                    "system_name": name,
                    "org_id": run.org_id,
                    "org_name": names.get(run.org_id),
                    "started_at": run.started_at.isoformat(),
                    "deadline_at": None if run.deadline_at is None else run.deadline_at.isoformat(),
                    "done": sum(t.state == "done" for t in current.values()),
                    "total": len(current),
                    "in_flight": sorted(
                        k for k, t in current.items() if t.state in ("dispatched", "running")
                    ),
                    "sla_alarms": sum(1 for a in alarms if a.rule_id == run.id),
                }
            )
        providers = [
            {
                "org_id": org,
                "name": names.get(org),
                "executions": int(n),
                "success_rate": int(ok or 0) / int(n) if n else None,
                "mean_stars": None if rated.get(org) is None else float(rated[org]),
                "reputation": standings[org].reputation,
            }
            for org, n, ok in per_provider
        ]
        providers.sort(key=lambda p: (-p["reputation"], p["org_id"]))
        return {
            "at": utcnow().isoformat(),
            "running": systems,
            "sla_alarms": alarm_rows,
            "providers": providers,
        }
