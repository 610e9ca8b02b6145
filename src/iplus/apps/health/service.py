"""The health domain on one running platform: records, NEWS2 escalation, CGM reports, visits, caregivers.

``care(ctx)`` gives the domain's services for a context (one set per context). ``start(ctx)`` attaches
the NEWS2 worker to ingest; the server calls it once the platform runs (the demo feed calls it too, and
a second call changes nothing); ``stop(ctx)`` detaches it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from iplus.apps.health.crypto import RecordCipher
from iplus.apps.health.escalation import NEWS2_RULE, Escalation
from iplus.apps.health.glucose import GlucoseReports
from iplus.apps.health.records import Records
from iplus.apps.health.things import VITALS
from iplus.apps.health.visits import Visits
from iplus.core.errors import Forbidden, NotFound
from iplus.core.roles import Scope
from iplus.engines.stream.alarms import alarm_dict
from iplus.infra.db.models_health import HealthAssessment, HealthResident
from iplus.infra.db.models_stream import Alarm
from iplus.infra.telemetry import Selection
from iplus.platform.context import Context
from iplus.security.principal import Principal


def assessment_json(a: HealthAssessment) -> dict[str, Any]:
    """A stored NEWS2 assessment."""
    return {
        "resident_id": a.resident_id,
        "device_id": a.device_id,
        "observed_at": a.observed_at.isoformat(),
        "aggregate": a.aggregate,
        "band": a.band,
        "scores": a.scores,
        "vitals": a.vitals,
        "red": a.red,
        "monitoring": a.monitoring,
        "alarm_id": a.alarm_id,
    }


class HealthCare:
    """The health domain's services over one platform context."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.records = Records(ctx.db, RecordCipher(ctx.secret_key))
        self.escalation = Escalation(ctx.db, ctx.telemetry, ctx.algorithms, ctx.bus)
        self.glucose = GlucoseReports(self.records, ctx.telemetry)
        self.visits = Visits(ctx.db, ctx.systems, ctx.orders)

    async def admit(self, caller: Principal, doc: Any, purpose: Any) -> dict[str, Any]:
        """Admit a resident; a running NEWS2 worker follows the new wearable at once."""
        made = await self.records.create(caller, doc, purpose)
        if self.escalation.running:
            await self.escalation.refresh()
        return made

    async def change(self, caller: Principal, resident_id: str, changes: Any, purpose: Any) -> dict[str, Any]:
        """Change a resident's record or devices; a running NEWS2 worker follows a new wearable at once."""
        changed = await self.records.update(caller, resident_id, changes, purpose)
        if self.escalation.running:
            await self.escalation.refresh()
        return changed

    async def news2_alarms(
        self, caller: Principal, *, resident_ids: list[str] | None = None, active_only: bool = True
    ) -> list[dict[str, Any]]:
        """NEWS2 alarms of the organisation (of some residents only), newest first."""
        caller.require_scope(Scope.READ)
        conds = [Alarm.org_id == caller.org_id, Alarm.rule_name == NEWS2_RULE]
        if resident_ids is not None:
            conds.append(Alarm.rule_id.in_(resident_ids))
        if active_only:
            conds.append(Alarm.active.is_(True))
        async with self.ctx.db.transaction() as s:
            rows = await s.scalars(
                select(Alarm).where(*conds).order_by(Alarm.last_seen_at.desc(), Alarm.id.desc()).limit(200)
            )
            return [alarm_dict(a) | {"resident_id": a.rule_id} for a in rows.all()]

    async def caregiver_alarms(self, caller: Principal) -> list[dict[str, Any]]:
        """The active NEWS2 alarms of the residents the caller cares for (the caregiver's routing)."""
        mine = await self.records.cared_for(caller)
        return await self.news2_alarms(caller, resident_ids=mine) if mine else []

    async def acknowledge(self, caller: Principal, alarm_id: str) -> dict[str, Any]:
        """A caregiver of the alarm's resident (or an administrator) acknowledges a NEWS2 alarm."""
        caller.require_scope(Scope.WRITE)
        async with self.ctx.db.transaction() as s:
            alarm = await s.scalar(
                select(Alarm).where(
                    Alarm.id == alarm_id, Alarm.org_id == caller.org_id, Alarm.rule_name == NEWS2_RULE
                )
            )
        if alarm is None:
            raise NotFound(f"NEWS2 alarm {alarm_id} not found")
        if not caller.is_admin and alarm.rule_id not in await self.records.cared_for(caller):
            raise Forbidden("only the resident's caregivers and the administrators acknowledge its alarms")
        return await self.ctx.rules.acknowledge(caller, alarm_id)

    async def latest_assessments(self, org_id: str, resident_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Each resident's newest NEWS2 assessment."""
        if not resident_ids:
            return {}
        async with self.ctx.db.transaction() as s:
            newest = (
                select(HealthAssessment.resident_id, func.max(HealthAssessment.observed_at).label("at"))
                .where(HealthAssessment.org_id == org_id, HealthAssessment.resident_id.in_(resident_ids))
                .group_by(HealthAssessment.resident_id)
                .subquery()
            )
            rows = await s.scalars(
                select(HealthAssessment).join(
                    newest,
                    (newest.c.resident_id == HealthAssessment.resident_id)
                    & (newest.c.at == HealthAssessment.observed_at),
                )
            )
            return {a.resident_id: assessment_json(a) for a in rows.all()}

    async def history(self, caller: Principal, resident_id: str, limit: int = 500) -> list[dict[str, Any]]:
        """A resident's NEWS2 assessments (each change of score), oldest first."""
        caller.require_scope(Scope.READ)
        async with self.ctx.db.transaction() as s:
            rows = await s.scalars(
                select(HealthAssessment)
                .where(HealthAssessment.org_id == caller.org_id, HealthAssessment.resident_id == resident_id)
                .order_by(HealthAssessment.observed_at.desc())
                .limit(limit)
            )
            return [assessment_json(a) for a in reversed(rows.all())]

    async def vitals(self, org_id: str, device_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The newest value and time of each vital sign of each wearable."""
        if not device_ids:
            return {}
        latest = await self.ctx.telemetry.latest(Selection(org_id, device_ids, list(VITALS)))
        out: dict[str, dict[str, Any]] = {d: {} for d in device_ids}
        for r in latest:
            out.setdefault(r.device_id, {})[r.key] = {"value": r.value, "ts": r.ts.isoformat()}
        return out

    async def overview(self, caller: Principal) -> list[dict[str, Any]]:
        """Every resident with its newest NEWS2, vitals and active alarm (no personal data)."""
        residents = await self.records.residents(caller)
        ids = [r["id"] for r in residents]
        assessed = await self.latest_assessments(caller.org_id, ids)
        alarms = {a["resident_id"]: a for a in await self.news2_alarms(caller, resident_ids=ids)}
        vitals = await self.vitals(caller.org_id, [r["wearable_id"] for r in residents if r["wearable_id"]])
        return [
            r
            | {
                "news2": assessed.get(r["id"]),
                "alarm": alarms.get(r["id"]),
                "vitals": vitals.get(r["wearable_id"] or "", {}),
            }
            for r in residents
        ]

    async def wearable_residents(self, org_id: str) -> dict[str, str]:
        """Wearable id -> resident id of an organisation."""
        async with self.ctx.db.transaction() as s:
            rows = await s.execute(
                select(HealthResident.wearable_id, HealthResident.id).where(
                    HealthResident.org_id == org_id, HealthResident.wearable_id.is_not(None)
                )
            )
            return {w: r for w, r in rows.all() if w}


_services: dict[int, HealthCare] = {}


def care(ctx: Context) -> HealthCare:
    """The health domain's services of this context (made on first use)."""
    found = _services.get(id(ctx))
    if found is None or found.ctx is not ctx:
        found = _services[id(ctx)] = HealthCare(ctx)
    return found


async def start(ctx: Context) -> HealthCare:
    """Attach NEWS2 scoring to ingest (idempotent)."""
    services = care(ctx)
    await services.escalation.start(ctx.ingestor.listeners)
    return services


async def stop(ctx: Context) -> None:
    """Detach NEWS2 scoring and forget the context's services."""
    services = _services.pop(id(ctx), None)
    if services is not None and services.ctx is ctx:
        await services.escalation.stop()
