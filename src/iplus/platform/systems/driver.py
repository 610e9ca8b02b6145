"""The reconciliation that drives one run: follow orders, re-select failed tasks, dispatch ready ones, end.

``RunDriver.settle`` is safe to repeat: each round moves task attempts after their orders, re-selects
the services of failed tasks (tasks already done are pinned with their measured QoS, the offers that
failed a task are excluded), dispatches every task whose predecessors are done, and closes the run
when all are done. The caller holds the run's lock.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from iplus.core.clock import as_utc, utcnow
from iplus.core.errors import IplusError, NotFound
from iplus.infra.db.engine import Database
from iplus.infra.db.models_catalog import Offer, OfferVersion, ServiceOrder
from iplus.infra.db.models_systems import ServiceRun, ServiceRunTask, ServiceSystem
from iplus.platform.catalog.orders import OCCUPYING, Orders
from iplus.platform.catalog.spec import Window, calendar_of
from iplus.platform.systems.aggregate import Option
from iplus.platform.systems.requirement import RequirementGraph, parse_requirement
from iplus.platform.systems.rungraph import IN_FLIGHT, check_run_move
from iplus.platform.systems.runstate import (
    Ledger,
    currencies,
    free_window,
    latest,
    lock_run,
    option_json,
    order_times,
    owner_of,
    pinned,
)
from iplus.platform.systems.selection import Plan
from iplus.security.principal import Principal

log = logging.getLogger(__name__)
MAX_ROUNDS = 200
MAX_ATTEMPTS = 20
# a claim to dispatch a task outlives the placing of its order by far; one this old was left by a
# process that stopped half-way, and the task may be dispatched again
CLAIM_TTL = timedelta(minutes=5)
# re-select the services of some tasks: (run owner, requirement, pinned tasks, excluded offers) -> plan
Reselect = Callable[
    [Principal, RequirementGraph, Mapping[str, Option], Mapping[str, set[str]]], Awaitable[Plan]
]


class RunDriver:
    """Moves one run forward from what its orders say; every change is written through the ledger."""

    def __init__(self, db: Database, orders: Orders, ledger: Ledger, reselect: Reselect) -> None:
        self.db = db
        self.orders = orders
        self.ledger = ledger
        self.reselect = reselect

    async def settle(self, run_id: str, now: datetime | None) -> None:
        for _ in range(MAX_ROUNDS):
            changed = await self._follow_orders(run_id, now)
            changed = await self._reselect_failed(run_id) or changed
            changed = await self._dispatch_ready(run_id, now) or changed
            if not changed:
                return
        log.warning("run %s did not settle in %d rounds", run_id, MAX_ROUNDS)

    async def rows(self, s: AsyncSession, run_id: str) -> list[ServiceRunTask]:
        rows = await s.scalars(
            select(ServiceRunTask)
            .where(ServiceRunTask.run_id == run_id)
            .order_by(ServiceRunTask.position, ServiceRunTask.attempt)
        )
        return list(rows.all())

    async def _follow_orders(self, run_id: str, now: datetime | None) -> bool:
        async with self.db.transaction() as s:
            run = await lock_run(s, run_id)
            if run is None or run.status != "running":
                return False
            current = latest(await self.rows(s, run_id))
            changed = await self.apply_orders(s, run, list(current.values()), now or utcnow())
            if current and all(r.state == "done" for r in current.values()):
                check_run_move(run.status, "completed")
                run.status, run.ended_at = "completed", now or utcnow()
                self.ledger.event(s, run, "completed", f"all {len(current)} task instance(s) done")
                changed = True
        self.ledger.flush(run_id)
        return changed

    async def apply_orders(
        self, s: AsyncSession, run: ServiceRun, rows: list[ServiceRunTask], now: datetime
    ) -> bool:
        flying = [r for r in rows if r.state in IN_FLIGHT and r.order_id]
        if not flying:
            return False
        found = await s.scalars(select(ServiceOrder).where(ServiceOrder.id.in_([r.order_id for r in flying])))
        by_id = {o.id: o for o in found.all()}
        changed = False
        for row in flying:
            order = by_id.get(row.order_id or "")
            if order is not None and order.status != row.order_status:
                self._follow_order(s, run, row, order, now)
                changed = True
        return changed

    def _follow_order(
        self, s: AsyncSession, run: ServiceRun, row: ServiceRunTask, order: ServiceOrder, now: datetime
    ) -> None:
        status, times = order.status, order_times(order)
        row.order_status = status
        who = f"offer {row.offer_id}"
        if status == "accepted":
            self.ledger.event(s, run, "accepted", f"{who} accepted the order of task {row.key}", row)
        elif status == "in_progress":
            row.started_at = times.get("in_progress", now)
            self.ledger.move(s, run, row, "running", f"task {row.key} is running on {who}")
        elif status == "completed":
            if row.state == "dispatched":
                row.started_at = times.get("in_progress") or times.get("accepted") or now
                self.ledger.move(s, run, row, "running", f"task {row.key} is running on {who}")
            row.finished_at = times.get("completed", now)
            self.ledger.move(s, run, row, "done", f"task {row.key} done by {who}")
            self.ledger.record(s, run, row, True, row.finished_at)
        elif status in ("failed", "rejected", "cancelled"):
            row.finished_at = times.get(status, now)
            row.reason = f"the order was {status}" + (f": {order.reason}" if order.reason else "")
            self.ledger.move(s, run, row, "failed", f"task {row.key} failed on {who}: {row.reason}")
            # only work the provider took on and did not deliver counts against it
            if status == "failed" and "accepted" in times:
                self.ledger.record(s, run, row, False, row.finished_at)

    # re-selection --------------------------------------------------------------------
    async def _reselect_failed(self, run_id: str) -> bool:
        async with self.db.transaction() as s:
            run = await s.scalar(select(ServiceRun).where(ServiceRun.id == run_id))
            if run is None or run.status != "running":
                return False
            rows = await self.rows(s, run_id)
            current = latest(rows)
            failed = [r for r in current.values() if r.state == "failed"]
            if not failed:
                return False
            system = await s.scalar(select(ServiceSystem).where(ServiceSystem.id == run.system_id))
            assert system is not None
            requirement, principal = system.requirement, owner_of(run)
        if any(r.attempt >= MAX_ATTEMPTS for r in failed):
            await self.end(run_id, "failed", f"a task failed {MAX_ATTEMPTS} times")
            return True
        req = parse_requirement(requirement)
        excluded: dict[str, set[str]] = {}
        for r in rows:
            if r.state == "failed":
                excluded.setdefault(r.task_id, set()).add(r.offer_id)
        fixed = pinned(current.values(), {r.task_id for r in failed})
        plan = await self.reselect(principal, req, fixed, excluded)
        if plan.status not in ("optimal", "feasible"):
            why = "; ".join(plan.explanation) or "no service is left for the failed task"
            await self.end(run_id, "failed", f"re-selection found no plan: {why}")
            return True
        async with self.db.transaction() as s:
            run = await lock_run(s, run_id)
            if run is None or run.status != "running":
                return False
            current = latest(await self.rows(s, run_id))
            currency = await currencies(s, plan.choice.values())
            for row in current.values():
                new = plan.choice.get(row.task_id)
                if new is None:
                    continue
                if row.state == "failed":
                    fresh = ServiceRunTask(
                        org_id=row.org_id,
                        run_id=row.run_id,
                        key=row.key,
                        task_id=row.task_id,
                        position=row.position,
                        attempt=row.attempt + 1,
                        after=list(row.after),
                        state="pending",
                        offer_id=new.offer_id,
                        offer_version=new.version,
                        provider_org_id=new.org_id,
                        option=option_json(new) | {"currency": currency.get(new.offer_id)},
                        late=False,
                        reason="",
                        updated_at=utcnow(),
                    )
                    s.add(fresh)
                    await s.flush()
                    self.ledger.event(
                        s,
                        run,
                        "reselected",
                        f"task {row.key} re-selected: offer {row.offer_id} -> {new.offer_id} "
                        f"(attempt {fresh.attempt}; excluded {', '.join(sorted(excluded[row.task_id]))})",
                        fresh,
                        previous=row.offer_id,
                        excluded=sorted(excluded[row.task_id]),
                        utility=plan.utility,
                    )
                elif row.state == "pending" and new.offer_id != row.offer_id:
                    before = row.offer_id
                    row.offer_id, row.offer_version, row.provider_org_id = (
                        new.offer_id,
                        new.version,
                        new.org_id,
                    )
                    row.option = option_json(new) | {"currency": currency.get(new.offer_id)}
                    self.ledger.event(
                        s, run, "replanned", f"task {row.key} re-planned: {before} -> {new.offer_id}", row
                    )
        self.ledger.flush(run_id)
        return True

    # dispatch ------------------------------------------------------------------------
    async def _dispatch_ready(self, run_id: str, now: datetime | None) -> bool:
        at = as_utc(now or utcnow()).replace(microsecond=0)
        async with self.db.transaction() as s:
            # claimed under the run's lock: another process settling the same run skips these tasks
            # instead of ordering them a second time while this one places their orders
            run = await lock_run(s, run_id)
            if run is None or run.status != "running":
                return False
            current = latest(await self.rows(s, run_id))
            claimed = utcnow()
            stale = claimed - CLAIM_TTL
            ready = [
                r
                for r in current.values()
                if r.state == "pending"
                and (r.dispatched_at is None or as_utc(r.dispatched_at) < stale)
                and all(current[k].state == "done" for k in r.after if k in current)
            ]
            if not ready:
                return False
            for r in ready:
                r.dispatched_at = claimed
            wanted = sorted({r.offer_id for r in ready})
            # the order is for the version published now: its calendar and capacity decide the window
            versions = {
                v.offer_id: v
                for v in await s.scalars(
                    select(OfferVersion)
                    .join(
                        Offer,
                        (Offer.id == OfferVersion.offer_id)
                        & (Offer.published_version == OfferVersion.version),
                    )
                    .where(Offer.id.in_(wanted), Offer.stage == "published")
                )
            }
            # accepted work holds capacity; so do this run's own orders not yet answered
            own = [r.order_id for r in current.values() if r.state in IN_FLIGHT and r.order_id]
            held = await s.execute(
                select(ServiceOrder.offer_id, ServiceOrder.window_start, ServiceOrder.window_end).where(
                    ServiceOrder.offer_id.in_(wanted),
                    ServiceOrder.window_end > at,
                    or_(
                        ServiceOrder.status.in_(OCCUPYING),
                        and_(ServiceOrder.id.in_(own), ServiceOrder.status == "requested"),
                    ),
                )
            )
            busy: dict[str, list[Window]] = {}
            for offer_id, start, end in held.all():
                busy.setdefault(offer_id, []).append(Window(start, end))
            principal, inputs = owner_of(run), dict(run.inputs)
        placed: dict[str, tuple[str, Window, int, str] | str] = {}
        for r in ready:
            version = versions.get(r.offer_id)
            calendar = calendar_of(version.calendar) if version is not None else ()
            capacity = version.capacity if version is not None else math.inf
            window = free_window(calendar, busy.get(r.offer_id, []), capacity, at, float(r.option["time_h"]))
            if window is None:
                placed[r.id] = (
                    f"offer {r.offer_id}'s calendar has no window of {r.option['time_h']:g} h from now on"
                )
                continue
            try:
                order = await self.orders.place(principal, r.offer_id, inputs.get(r.task_id, {}), window)
            except IplusError as exc:
                problems = exc.extra.get("errors")
                placed[r.id] = exc.detail + (f" ({'; '.join(map(str, problems))})" if problems else "")
                continue
            # the next task ordered from the same offer in this round must not take the same slot
            busy.setdefault(r.offer_id, []).append(window)
            placed[r.id] = (order.id, window, order.offer_version, r.offer_id)
        stray: list[str] = []
        async with self.db.transaction() as s:
            run = await lock_run(s, run_id)
            assert run is not None
            rows = {r.id: r for r in await self.rows(s, run_id)}
            for row_id, outcome in placed.items():
                row = rows[row_id]
                # still this round's claim: not moved on, re-planned or claimed again by anyone else since
                ours = (
                    row.state == "pending"
                    and row.dispatched_at is not None
                    and as_utc(row.dispatched_at) == claimed
                )
                if isinstance(outcome, str):
                    if run.status == "running" and ours:
                        row.reason = f"dispatch failed: {outcome}"
                        self.ledger.move(
                            s, run, row, "failed", f"task {row.key} could not be dispatched: {outcome}"
                        )
                    continue
                order_id, window, published, offer_id = outcome
                if run.status != "running" or not ours or row.offer_id != offer_id:
                    # the run ended, or the task moved on, while the order was being placed: take it back
                    stray.append(order_id)
                    continue
                # the order is for the version published now, which may be newer than the plan's
                row.order_id, row.order_status, row.offer_version = order_id, "requested", published
                row.window_start, row.window_end, row.dispatched_at = window.start, window.end, utcnow()
                ordered = f"task {row.key} ordered from offer {row.offer_id}"
                self.ledger.move(s, run, row, "dispatched", ordered)
        self.ledger.flush(run_id)
        for order_id in stray:
            with contextlib.suppress(IplusError):
                await self.orders.move(principal, order_id, "cancelled", "the run has ended")
        return True

    # the end -------------------------------------------------------------------------
    async def end(self, run_id: str, status: str, reason: str, caller: Principal | None = None) -> None:
        """Fail or cancel a run: cancel its open orders, undo (compensate) the tasks already done."""
        async with self.db.transaction() as s:
            run = await lock_run(s, run_id)
            if run is None:
                raise NotFound(f"run {run_id} not found")
            check_run_move(run.status, status, f"run {run_id}")
            principal = caller or owner_of(run)
            open_orders = [
                r.order_id
                for r in latest(await self.rows(s, run_id)).values()
                if r.state in IN_FLIGHT and r.order_id
            ]
        refused = {}
        for order_id in open_orders:
            assert order_id is not None
            try:
                await self.orders.move(principal, order_id, "cancelled", reason[:2000])
            except IplusError as exc:  # it ended meanwhile: the order's own state tells what happened
                refused[order_id] = exc.detail
        now = utcnow()
        late: list[str] = []
        async with self.db.transaction() as s:
            run = await lock_run(s, run_id)
            assert run is not None
            check_run_move(run.status, status, f"run {run_id}")
            rows = list(latest(await self.rows(s, run_id)).values())
            for row in rows:
                if row.order_id in open_orders and row.order_id not in refused:
                    row.order_status = "cancelled"  # by us: not a failure to follow
            # an order that ended before it could be cancelled is followed first (a completion counts)
            await self.apply_orders(s, run, rows, now)
            for row in rows:
                if row.state == "done":
                    self.ledger.move(
                        s, run, row, "compensated", f"task {row.key} compensated: its result is undone"
                    )
                elif row.state in ("pending", *IN_FLIGHT):
                    if row.order_id in refused:
                        row.reason = refused[row.order_id]
                    elif row.state in IN_FLIGHT and row.order_id and row.order_id not in open_orders:
                        # ordered by another process after the open orders were read: cancelled below
                        late.append(row.order_id)
                    self.ledger.move(s, run, row, "cancelled", f"task {row.key} cancelled")
            run.status, run.ended_at, run.reason = status, now, reason[:2000]
            self.ledger.event(s, run, status, f"run {status}: {reason}")
        self.ledger.flush(run_id)
        for order_id in late:
            with contextlib.suppress(IplusError):  # it ended meanwhile: nothing is left open
                await self.orders.move(principal, order_id, "cancelled", reason[:2000])
