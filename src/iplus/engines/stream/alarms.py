"""Alarms: raised -> acknowledged -> cleared (or raised -> cleared), one active per rule and subject.

Severities follow ITU-T X.733 as ThingsBoard uses them. A raise while an alarm of the same rule
and subject is active bumps its counter and last-seen time instead of opening another one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from iplus.core.clock import as_utc, utcnow
from iplus.core.errors import Conflict, NotFound
from iplus.engines.stream.evaluators import Signal
from iplus.infra.db.engine import Database
from iplus.infra.db.models_stream import Alarm
from iplus.infra.telemetry import from_us

STATUSES = ("raised", "acknowledged", "cleared")


@dataclass(frozen=True)
class RuleInfo:
    """What an alarm copies from its rule."""

    name: str
    severity: str


@dataclass(frozen=True)
class Change:
    """What happened to an alarm: raised, repeated, acknowledged or cleared."""

    change: str
    alarm: dict[str, Any]


def alarm_dict(alarm: Alarm) -> dict[str, Any]:
    """An alarm as JSON-ready data."""

    def iso(value: datetime | None) -> str | None:
        return None if value is None else as_utc(value).isoformat()

    return {
        "id": alarm.id,
        "rule_id": alarm.rule_id,
        "rule": alarm.rule_name,
        "subject": alarm.subject,
        "severity": alarm.severity,
        "status": alarm.status,
        "count": alarm.count,
        "value": alarm.value,
        "detail": alarm.detail,
        "raised_at": iso(alarm.raised_at),
        "last_seen_at": iso(alarm.last_seen_at),
        "acknowledged_at": iso(alarm.acknowledged_at),
        "acknowledged_by": alarm.acknowledged_by,
        "cleared_at": iso(alarm.cleared_at),
        "cleared_by": alarm.cleared_by,
    }


@dataclass(frozen=True)
class AlarmFilter:
    """Which alarms to list."""

    status: str | None = None
    severity: str | None = None
    subject: str | None = None
    rule: str | None = None  # rule id or name


class AlarmBook:
    """Persists alarms; every query is scoped by organisation."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def apply(self, signals: Sequence[Signal], rules: dict[tuple[str, str], RuleInfo]) -> list[Change]:
        """Turn rule signals into alarm changes, in one transaction; call from one task at a time."""
        changes: list[Change] = []
        async with self.db.transaction() as s:
            for signal in signals:
                info = rules.get((signal.org_id, signal.rule_id))
                when = from_us(signal.ts)
                current = await s.scalar(
                    select(Alarm).where(
                        Alarm.org_id == signal.org_id,
                        Alarm.rule_id == signal.rule_id,
                        Alarm.subject == signal.subject,
                        Alarm.active.is_(True),
                    )
                )
                if signal.kind == "raise":
                    if info is None:
                        continue  # the rule was removed while its signal waited
                    if current is not None:
                        current.count += 1
                        current.last_seen_at = max(as_utc(current.last_seen_at), when)
                        current.value, current.detail = signal.value, signal.detail[:500]
                        await s.flush()
                        changes.append(Change("repeated", alarm_dict(current)))
                        continue
                    alarm = Alarm(
                        org_id=signal.org_id,
                        rule_id=signal.rule_id,
                        rule_name=info.name,
                        subject=signal.subject,
                        severity=info.severity,
                        status="raised",
                        active=True,
                        count=1,
                        value=signal.value,
                        detail=signal.detail[:500],
                        raised_at=when,
                        last_seen_at=when,
                    )
                    s.add(alarm)
                    await s.flush()
                    changes.append(Change("raised", alarm_dict(alarm)))
                elif current is not None:
                    self._clear(current, when, None)
                    current.detail = signal.detail[:500]
                    current.value = signal.value
                    await s.flush()
                    changes.append(Change("cleared", alarm_dict(current)))
        return changes

    @staticmethod
    def _clear(alarm: Alarm, when: datetime, by: str | None) -> None:
        alarm.status, alarm.active = "cleared", None
        alarm.cleared_at, alarm.cleared_by = when, by

    async def acknowledge(self, org_id: str, alarm_id: str, by: str | None) -> Change:
        """Acknowledge a raised alarm (again: no change); a cleared one cannot be."""
        async with self.db.transaction() as s:
            alarm = await self._get(s, org_id, alarm_id)
            if alarm.status == "cleared":
                raise Conflict(f"alarm {alarm_id} is cleared and cannot be acknowledged")
            if alarm.status == "raised":
                alarm.status, alarm.acknowledged_at, alarm.acknowledged_by = "acknowledged", utcnow(), by
            return Change("acknowledged", alarm_dict(alarm))

    async def clear(self, org_id: str, alarm_id: str, by: str | None) -> Change:
        """Clear an alarm by hand; clearing a cleared alarm is a conflict."""
        async with self.db.transaction() as s:
            alarm = await self._get(s, org_id, alarm_id)
            if alarm.status == "cleared":
                raise Conflict(f"alarm {alarm_id} is already cleared")
            self._clear(alarm, utcnow(), by or "")
            return Change("cleared", alarm_dict(alarm))

    async def clear_rule(self, org_id: str, rule_id: str, why: str) -> list[Change]:
        """Clear every active alarm of a rule (the rule was deleted or disabled)."""
        async with self.db.transaction() as s:
            rows = (
                await s.scalars(
                    select(Alarm).where(
                        Alarm.org_id == org_id, Alarm.rule_id == rule_id, Alarm.active.is_(True)
                    )
                )
            ).all()
            now = utcnow()
            for alarm in rows:
                self._clear(alarm, now, None)
                alarm.detail = why
            return [Change("cleared", alarm_dict(a)) for a in rows]

    async def get(self, org_id: str, alarm_id: str) -> dict[str, Any]:
        """One alarm of the organisation."""
        async with self.db.transaction() as s:
            return alarm_dict(await self._get(s, org_id, alarm_id))

    async def _get(self, s: Any, org_id: str, alarm_id: str) -> Alarm:
        alarm: Alarm | None = await s.scalar(
            select(Alarm).where(Alarm.org_id == org_id, Alarm.id == alarm_id)
        )
        if alarm is None:
            raise NotFound(f"alarm {alarm_id} not found")
        return alarm

    async def page(
        self, org_id: str, where: AlarmFilter, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of alarms, newest first, and how many match in all."""
        stmt = select(Alarm).where(Alarm.org_id == org_id)
        if where.status == "active":
            stmt = stmt.where(Alarm.active.is_(True))
        elif where.status:
            stmt = stmt.where(Alarm.status == where.status)
        if where.severity:
            stmt = stmt.where(Alarm.severity == where.severity)
        if where.subject:
            stmt = stmt.where(Alarm.subject == where.subject)
        if where.rule:
            stmt = stmt.where((Alarm.rule_id == where.rule) | (Alarm.rule_name == where.rule))
        async with self.db.transaction() as s:
            total = int(await s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
            page = stmt.order_by(Alarm.raised_at.desc(), Alarm.id.desc()).offset(offset).limit(limit)
            rows = (await s.scalars(page)).all()
        return [alarm_dict(a) for a in rows], total

    async def active(self, org_id: str | None = None) -> list[tuple[str, str, str]]:
        """(org, rule, subject) of every active alarm (of one organisation), to restore rules' state."""
        stmt = select(Alarm.org_id, Alarm.rule_id, Alarm.subject).where(Alarm.active.is_(True))
        if org_id is not None:
            stmt = stmt.where(Alarm.org_id == org_id)
        async with self.db.transaction() as s:
            rows = await s.execute(stmt)
            return [(o, r, sub) for o, r, sub in rows.all()]
