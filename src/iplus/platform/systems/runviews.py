"""Reading runs as each party may see them, and the user's ratings of what was delivered.

The owner sees its runs whole; a provider sees the runs that dispatched tasks to its offers, but only
those tasks and their history; an operator sees every run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select, true
from sqlalchemy.exc import IntegrityError

from iplus.core.clock import utcnow
from iplus.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from iplus.core.roles import Role, Scope
from iplus.infra.db.engine import Database
from iplus.infra.db.models_catalog import ServiceOrder
from iplus.infra.db.models_systems import (
    ServiceRating,
    ServiceRun,
    ServiceRunEvent,
    ServiceRunTask,
    ServiceSystem,
)
from iplus.platform.systems.rungraph import RUN_STATES
from iplus.platform.systems.runstate import lock_run, order_times
from iplus.security.principal import Principal

RATED_STATES = frozenset({"done", "failed", "compensated"})
MAX_COMMENT = 2000
# attempts count up from 1; far beyond any real count, and within every store's integers
MAX_ATTEMPT = 1_000_000


def visible(caller: Principal) -> ColumnElement[bool]:
    """Runs the caller may see: its own, those with tasks on its offers, or (operators) all."""
    if Role.OPERATOR in caller.roles:
        return true()
    on_mine = exists().where(
        ServiceRunTask.run_id == ServiceRun.id,
        ServiceRunTask.provider_org_id == caller.org_id,
        ServiceRunTask.order_id.is_not(None),
    )
    return or_(ServiceRun.org_id == caller.org_id, on_mine)


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def task_json(row: ServiceRunTask) -> dict[str, Any]:
    """One attempt of one task instance."""
    return {
        "id": row.id,
        "key": row.key,
        "task": row.task_id,
        "attempt": row.attempt,
        "state": row.state,
        "after": row.after,
        "offer_id": row.offer_id,
        "offer_version": row.offer_version,
        "provider_org_id": row.provider_org_id,
        "promised": row.option,
        "order_id": row.order_id,
        "order_status": row.order_status,
        "window_start": _iso(row.window_start),
        "window_end": _iso(row.window_end),
        "dispatched_at": _iso(row.dispatched_at),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
        "late": row.late,
        "reason": row.reason,
    }


def event_json(e: ServiceRunEvent) -> dict[str, Any]:
    """One history entry."""
    return {
        "seq": e.seq,
        "at": e.at.isoformat(),
        "kind": e.kind,
        "task": e.task_key,
        "message": e.message,
        "detail": e.detail,
    }


def run_json(run: ServiceRun, name: str | None = None) -> dict[str, Any]:
    """A run's summary."""
    return {
        "id": run.id,
        "org_id": run.org_id,
        "system_id": run.system_id,
        "system_name": name,
        "plan_number": run.plan_number,
        "status": run.status,
        "seed": run.seed,
        "outcomes": run.outcomes,
        "slack": run.slack,
        "deadline_at": _iso(run.deadline_at),
        "started_at": run.started_at.isoformat(),
        "ended_at": _iso(run.ended_at),
        "reason": run.reason,
    }


class RunViews:
    """Runs as the caller may see them; ratings by the owner."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(
        self,
        caller: Principal,
        *,
        status: str | None = None,
        system_id: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """Runs the caller sees, newest first."""
        caller.require_scope(Scope.READ)
        conds = [visible(caller)]
        if status is not None:
            if status not in RUN_STATES:
                raise InvalidInput(f"status: {status!r} is not one of {', '.join(RUN_STATES)}")
            conds.append(ServiceRun.status == status)
        if system_id is not None:
            conds.append(ServiceRun.system_id == system_id)
        async with self.db.transaction() as s:
            total = await s.scalar(select(func.count()).select_from(ServiceRun).where(*conds))
            rows = await s.execute(
                select(ServiceRun, ServiceSystem.name)
                .join(ServiceSystem, ServiceSystem.id == ServiceRun.system_id)
                .where(*conds)
                .order_by(ServiceRun.started_at.desc(), ServiceRun.id.desc())
                .offset(offset)
                .limit(limit)
            )
            return [run_json(r, n) for r, n in rows.all()], int(total or 0)

    async def get(self, caller: Principal, run_id: str) -> dict[str, Any]:
        """A run with its tasks (every attempt) and history; a provider sees its own tasks only."""
        caller.require_scope(Scope.READ)
        async with self.db.transaction() as s:
            found = (
                await s.execute(
                    select(ServiceRun, ServiceSystem.name)
                    .join(ServiceSystem, ServiceSystem.id == ServiceRun.system_id)
                    .where(ServiceRun.id == run_id, visible(caller))
                )
            ).first()
            if found is None:
                raise NotFound(f"run {run_id} not found")
            run, name = found
            whole = run.org_id == caller.org_id or Role.OPERATOR in caller.roles
            tasks = select(ServiceRunTask).where(ServiceRunTask.run_id == run.id)
            events = select(ServiceRunEvent).where(ServiceRunEvent.run_id == run.id)
            if not whole:
                # a provider sees the tasks ordered from it, not the ones merely planned on it
                tasks = tasks.where(
                    ServiceRunTask.provider_org_id == caller.org_id, ServiceRunTask.order_id.is_not(None)
                )
                events = events.where(ServiceRunEvent.provider_org_id == caller.org_id)
            rows = (await s.scalars(tasks.order_by(ServiceRunTask.position, ServiceRunTask.attempt))).all()
            history = list((await s.scalars(events.order_by(ServiceRunEvent.seq))).all())
            if not whole:
                keys = {r.key for r in rows}
                history = [e for e in history if e.task_key in keys]
            ratings = (await s.scalars(select(ServiceRating).where(ServiceRating.run_id == run.id))).all()
        stars = {r.run_task_id: {"stars": r.stars, "comment": r.comment} for r in ratings}
        newest: dict[str, int] = {}
        for r in rows:
            newest[r.key] = max(newest.get(r.key, 0), r.attempt)
        current = [r for r in rows if r.attempt == newest[r.key]]
        return run_json(run, name) | {
            "progress": {
                "done": sum(r.state == "done" for r in current),
                "total": len(current),
            },
            "tasks": [task_json(r) | {"rating": stars.get(r.id)} for r in rows],
            "history": [event_json(e) for e in history],
        }

    async def rate(
        self, caller: Principal, run_id: str, key: str, stars: Any, comment: Any = "", attempt: Any = None
    ) -> dict[str, Any]:
        """The owner rates one dispatched task of a run, once, 1 to 5 stars with an optional comment."""
        caller.require_scope(Scope.WRITE)
        problems = []
        if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
            problems.append("stars: an integer from 1 to 5")
        if comment is None:
            comment = ""
        if not isinstance(comment, str):
            problems.append("comment: a text")
        elif len(comment) > MAX_COMMENT:
            problems.append(f"comment: at most {MAX_COMMENT} characters")
        elif "\x00" in comment:
            problems.append("comment: no NUL characters")
        if attempt is not None and (
            isinstance(attempt, bool) or not isinstance(attempt, int) or not 1 <= attempt <= MAX_ATTEMPT
        ):
            problems.append(f"attempt: an integer from 1 to {MAX_ATTEMPT}")
        if problems:
            raise InvalidInput("the rating is not valid", errors=problems)
        async with self.db.transaction() as s:
            seen = await s.scalar(select(ServiceRun.id).where(ServiceRun.id == run_id, visible(caller)))
            # the run's history is numbered: lock it against the driver appending at the same time
            run = await lock_run(s, run_id) if seen else None
            if run is None:
                raise NotFound(f"run {run_id} not found")
            if run.org_id != caller.org_id:
                raise Forbidden("only the organisation that ran the system rates its tasks")
            stmt = select(ServiceRunTask).where(
                ServiceRunTask.run_id == run.id,
                ServiceRunTask.key == key,
                ServiceRunTask.order_id.is_not(None),
            )
            if attempt is not None:
                stmt = stmt.where(ServiceRunTask.attempt == attempt)
            row = await s.scalar(stmt.order_by(ServiceRunTask.attempt.desc()).limit(1))
            if row is None:
                raise NotFound(
                    f"run {run_id} has no dispatched task {key}" + (f" attempt {attempt}" if attempt else "")
                )
            if row.provider_org_id == run.org_id:
                raise Conflict(f"task {key} was done by your own offer: no one rates its own work")
            if row.state not in RATED_STATES:
                raise Conflict(f"task {key} is {row.state}: rate it once it has finished")
            order = await s.scalar(select(ServiceOrder).where(ServiceOrder.id == row.order_id))
            if row.state == "failed" and (order is None or "accepted" not in order_times(order)):
                # a refusal (or an order cancelled before the provider answered) is no broken promise
                raise Conflict(
                    f"task {key} (attempt {row.attempt}): the provider did not take the work on, "
                    "so there is nothing of its to rate"
                )
            if await s.scalar(select(ServiceRating.id).where(ServiceRating.run_task_id == row.id)):
                raise Conflict(f"task {key} (attempt {row.attempt}) is already rated")
            rating = ServiceRating(
                org_id=run.org_id,
                provider_org_id=row.provider_org_id,
                offer_id=row.offer_id,
                run_id=run.id,
                run_task_id=row.id,
                stars=stars,
                comment=comment.strip(),
                created_by=caller.user_id,
                created_at=utcnow(),
            )
            s.add(rating)
            run.events += 1
            s.add(
                ServiceRunEvent(
                    org_id=run.org_id,
                    run_id=run.id,
                    seq=run.events,
                    kind="rated",
                    task_key=row.key,
                    provider_org_id=row.provider_org_id,
                    message=f"task {row.key} rated {stars} of 5",
                    detail={"stars": stars, "attempt": row.attempt},
                    at=utcnow(),
                )
            )
            try:
                await s.flush()
            except IntegrityError as exc:  # a second rating raced this one
                raise Conflict(f"task {key} is already rated") from exc
            return {
                "run_id": run.id,
                "task": row.key,
                "attempt": row.attempt,
                "offer_id": row.offer_id,
                "stars": stars,
                "comment": rating.comment,
                "created_at": rating.created_at.isoformat(),
            }
