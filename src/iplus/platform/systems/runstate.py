"""The bookkeeping of runs: helpers over task attempts and orders, and the ledger that records what happens.

The ledger appends to a run's history, records measured executions, raises SLA alarms and publishes
each of these on the bus once the transaction that stored it has committed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from iplus.core.clock import as_utc, utcnow
from iplus.core.roles import Scope
from iplus.engines.stream.alarms import alarm_dict
from iplus.infra.bus import EventBus
from iplus.infra.db.models_catalog import OfferVersion, ServiceOrder
from iplus.infra.db.models_stream import Alarm
from iplus.infra.db.models_systems import ServiceExecution, ServiceRun, ServiceRunEvent, ServiceRunTask
from iplus.platform.catalog.spec import Window
from iplus.platform.systems.aggregate import Option
from iplus.platform.systems.rungraph import check_task_move
from iplus.security.principal import Principal

SLA_RULE = "service-sla"


def owner_of(run: ServiceRun) -> Principal:
    """The run's owner as the caller of the orders the run places and cancels on its behalf."""
    return Principal(
        org_id=run.org_id,
        roles=frozenset(),
        scopes=frozenset({Scope.READ, Scope.WRITE}),
        user_id=run.created_by,
    )


def option_json(option: Option) -> dict[str, Any]:
    """An option as stored in plans and run tasks."""
    return asdict(option)


def option_of(stored: Mapping[str, Any]) -> Option:
    """A stored option back as an ``Option``."""
    return Option(**{k: stored[k] for k in Option.__dataclass_fields__ if k in stored})


def hours(start: datetime, end: datetime) -> float:
    """Hours from ``start`` to ``end`` (never negative)."""
    return max(0.0, (as_utc(end) - as_utc(start)).total_seconds() / 3600)


def order_times(order: ServiceOrder) -> dict[str, datetime]:
    """When the order first reached each status, from its history."""
    times: dict[str, datetime] = {}
    for entry in order.history:
        with contextlib.suppress(KeyError, ValueError, TypeError):
            times.setdefault(entry["status"], as_utc(datetime.fromisoformat(entry["at"])))
    return times


def free_window(
    calendar: tuple[Window, ...], busy: list[Window], capacity: float, now: datetime, duration_h: float
) -> Window | None:
    """The earliest window of ``duration_h`` from ``now`` on inside one calendar window (empty: always
    open) that fewer than ``capacity`` of the ``busy`` windows overlap - what accepting the order needs."""
    length = timedelta(hours=max(duration_h, 1 / 60))
    opens = [(as_utc(w.start), as_utc(w.end)) for w in calendar]
    held = [(as_utc(w.start), as_utc(w.end)) for w in busy]
    # the earliest fit starts now, when a calendar window opens or when a booking ends: moving any other
    # fit earlier to the latest of those before it keeps it inside its window and overlaps no more
    starts = sorted({now, *(a for a, _ in opens if a > now), *(b for _, b in held if b > now)})
    for t in starts:
        end = t + length
        if opens and not any(a <= t and end <= b for a, b in opens):
            continue
        if sum(1 for a, b in held if a < end and b > t) < capacity:
            return Window(t, end)
    return None


def latest(rows: Iterable[ServiceRunTask]) -> dict[str, ServiceRunTask]:
    """The newest attempt of each task instance."""
    out: dict[str, ServiceRunTask] = {}
    for r in rows:
        if r.key not in out or r.attempt > out[r.key].attempt:
            out[r.key] = r
    return out


async def lock_run(s: AsyncSession, run_id: str) -> ServiceRun | None:
    """Write-lock the run first (SQLite starts its write transaction here; PostgreSQL locks the row)."""
    await s.execute(
        update(ServiceRun)
        .where(ServiceRun.id == run_id)
        .values(updated_at=ServiceRun.updated_at)
        .execution_options(synchronize_session=False)
    )
    run: ServiceRun | None = await s.scalar(
        select(ServiceRun).where(ServiceRun.id == run_id).with_for_update()
    )
    return run


async def currencies(s: AsyncSession, options: Iterable[Option]) -> dict[str, str]:
    """The price currency of each option's offer version."""
    out = {}
    for o in options:
        currency = await s.scalar(
            select(OfferVersion.currency).where(
                OfferVersion.offer_id == o.offer_id, OfferVersion.version == o.version
            )
        )
        out[o.offer_id] = currency or ""
    return out


class Ledger:
    """Writes a run's history, executions and alarms into a session; publishes them after commit."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        # per run: each run is driven by one task at a time, so its events never mix with another's
        self.outbox: dict[str, list[tuple[str, dict[str, Any]]]] = {}

    def event(
        self,
        s: AsyncSession,
        run: ServiceRun,
        kind: str,
        message: str,
        row: ServiceRunTask | None = None,
        **detail: Any,
    ) -> None:
        run.events += 1
        run.updated_at = utcnow()
        s.add(
            ServiceRunEvent(
                org_id=run.org_id,
                run_id=run.id,
                seq=run.events,
                kind=kind,
                task_key=row.key if row is not None else None,
                provider_org_id=row.provider_org_id if row is not None else None,
                message=message[:2000],
                detail=detail,
                at=utcnow(),
            )
        )
        event: dict[str, Any] = {
            "type": "run",
            "run_id": run.id,
            "status": run.status,
            "event": kind,
            "message": message,
        }
        if row is not None:
            event |= {"task": row.key, "state": row.state, "attempt": row.attempt}
            self.outbox.setdefault(run.id, []).append((row.provider_org_id, event))
        self.outbox.setdefault(run.id, []).append((run.org_id, event))

    def flush(self, run_id: str) -> None:
        """Publish what the run's committed transaction did (never before: a rollback would have lied)."""
        for org_id, event in self.outbox.pop(run_id, []):
            if self.bus.listening(org_id):
                self.bus.publish(org_id, event)

    def discard(self, run_id: str) -> None:
        """Forget what a rolled-back transaction of the run would have announced."""
        self.outbox.pop(run_id, None)

    def move(self, s: AsyncSession, run: ServiceRun, row: ServiceRunTask, to: str, message: str) -> None:
        check_task_move(row.state, to, f"task {row.key} (attempt {row.attempt})")
        row.state = to
        row.updated_at = utcnow()
        self.event(s, run, to, message, row)

    def record(
        self, s: AsyncSession, run: ServiceRun, row: ServiceRunTask, success: bool, at: datetime
    ) -> None:
        """The measured execution of one attempt: the evidence behind reputation and forecasts."""
        begun = row.started_at or row.dispatched_at or at
        promised = row.option
        s.add(
            ServiceExecution(
                org_id=run.org_id,
                provider_org_id=row.provider_org_id,
                offer_id=row.offer_id,
                offer_version=row.offer_version,
                run_id=run.id,
                run_task_id=row.id,
                task_id=row.task_id,
                success=success,
                actual_time_h=hours(begun, at),
                # the price is paid for delivered work only
                cost=float(promised["cost"]) if success else 0.0,
                currency=str(promised.get("currency") or ""),
                promised_time_h=float(promised["time_h"]),
                promised_cost=float(promised["cost"]),
                promised_reliability=float(promised["reliability"]),
                promised_availability=float(promised["availability"]),
                finished_at=at,
            )
        )

    async def alarm(
        self, s: AsyncSession, run: ServiceRun, subject: str, detail: str, value: float
    ) -> dict[str, Any]:
        """Persist an SLA alarm beside the stream engine's alarms, so the alarm console shows it."""
        now = utcnow()
        alarm = await s.scalar(
            select(Alarm).where(
                Alarm.org_id == run.org_id,
                Alarm.rule_id == run.id,
                Alarm.subject == subject[:200],
                Alarm.active.is_(True),
            )
        )
        if alarm is None:
            alarm = Alarm(
                org_id=run.org_id,
                rule_id=run.id,
                rule_name=SLA_RULE,
                subject=subject[:200],
                severity="major",
                status="raised",
                active=True,
                count=1,
                value=value,
                detail=detail[:500],
                raised_at=now,
                last_seen_at=now,
            )
            s.add(alarm)
        else:
            alarm.count += 1
            alarm.last_seen_at, alarm.value, alarm.detail = now, value, detail[:500]
        await s.flush()
        data = alarm_dict(alarm)
        self.outbox.setdefault(run.id, []).append(
            (run.org_id, {"type": "alarm", "change": "raised", "device_id": data["subject"], **data})
        )
        return data


def pinned(rows: Iterable[ServiceRunTask], failing: set[str]) -> dict[str, Option]:
    """Tasks re-selection must keep: done ones with their measured QoS, dispatched ones as promised."""
    by_task: dict[str, list[ServiceRunTask]] = {}
    for r in rows:
        by_task.setdefault(r.task_id, []).append(r)
    fixed: dict[str, Option] = {}
    for task_id, mine in by_task.items():
        if task_id in failing or all(r.state == "pending" for r in mine):
            continue
        # the service the task is committed to now: its newest attempt not yet done
        open_rows = [r for r in mine if r.state != "done"]
        promised = option_of((open_rows[-1] if open_rows else mine[0]).option)
        done = [r for r in mine if r.state == "done" and r.started_at and r.finished_at]
        if len(done) == len(mine):
            # observed: this long, this price, and it worked
            measured = sum(hours(r.started_at, r.finished_at) for r in done if r.started_at and r.finished_at)
            fixed[task_id] = Option(
                offer_id=promised.offer_id,
                version=promised.version,
                org_id=promised.org_id,
                title=promised.title,
                time_h=measured / len(done),
                cost=promised.cost,
                reliability=1.0,
                availability=1.0,
                reputation=promised.reputation,
                capacity=promised.capacity,
            )
        else:
            fixed[task_id] = promised
    return fixed
