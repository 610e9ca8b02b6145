"""Run management: start runs of stored plans, follow their orders on the bus, cancel them, watch SLAs.

Each run is moved forward by its driver's reconciliation (``driver.py``); this module decides when:
at start, on every change of one of the run's orders announced on the bus, and in a periodic round
that catches anything missed and checks the SLAs (``check_sla``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import weakref
from datetime import datetime, timedelta
from typing import Any

import jsonschema
from sqlalchemy import select

from iplus.core.clock import as_utc, utcnow
from iplus.core.errors import Conflict, InvalidInput, IplusError, NotFound
from iplus.core.jsondoc import json_problems
from iplus.core.roles import Scope
from iplus.infra.bus import EventBus, Subscription
from iplus.infra.db.engine import Database
from iplus.infra.db.models_catalog import Offer, OfferVersion
from iplus.infra.db.models_systems import ServicePlan, ServiceRun, ServiceRunTask, ServiceSystem
from iplus.platform.catalog.orders import MAX_PARAMETERS_BYTES, Orders
from iplus.platform.knowledge.algorithms import instance_problems
from iplus.platform.systems.driver import Reselect, RunDriver
from iplus.platform.systems.requirement import parse_requirement
from iplus.platform.systems.rungraph import IN_FLIGHT, check_given, unroll
from iplus.platform.systems.runstate import (
    SLA_RULE,
    Ledger,
    hours,
    latest,
    lock_run,
    option_json,
    owner_of,
)
from iplus.security.principal import Principal

log = logging.getLogger(__name__)
__all__ = ["SLA_RULE", "Runs", "latest", "option_json"]
DEFAULT_SLACK = 0.5
# plan numbers count up from 1; far beyond any real count, and within every store's integers
MAX_PLAN = 1_000_000


class Runs:
    """Start, drive, cancel and watch runs; the run's history is appended to as things happen."""

    def __init__(
        self,
        db: Database,
        orders: Orders,
        bus: EventBus,
        reselect: Reselect,
        *,
        slack: float = DEFAULT_SLACK,
        interval_s: float = 30.0,
    ) -> None:
        self.db = db
        self.orders = orders
        self.bus = bus
        self.reselect = reselect
        self.slack = slack
        self.interval_s = interval_s
        # a run's lock lives as long as someone holds or waits for it
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._subs: dict[str, tuple[Subscription, asyncio.Task[None]]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._busy = 0
        self._started = False
        self.ledger = Ledger(bus)
        self.driver = RunDriver(db, orders, self.ledger, reselect)

    # life cycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Follow the orders of every running run and check SLAs every ``interval_s`` seconds."""
        self._started = True
        for org_id in await self._running_orgs():
            self._watch(org_id)
        self._ticker = asyncio.create_task(self._tick_every(), name="iplus-run-sla")

    async def stop(self) -> None:
        """Stop following orders and checking SLAs."""
        tasks = [t for _, t in self._subs.values()]
        if self._ticker is not None:
            tasks.append(self._ticker)
        for sub, _ in self._subs.values():
            self.bus.unsubscribe(sub)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._subs, self._ticker, self._started = {}, None, False

    async def drain(self) -> None:
        """Wait until every order change announced so far has been applied to its run (tests)."""
        for _ in range(2000):
            if self._busy == 0 and all(sub.queue.empty() for sub, _ in self._subs.values()):
                return
            await asyncio.sleep(0.005)

    async def _running_orgs(self) -> set[str]:
        async with self.db.transaction() as s:
            rows = await s.scalars(select(ServiceRun.org_id).where(ServiceRun.status == "running").distinct())
            return set(rows.all())

    def _watch(self, org_id: str) -> None:
        # a command-line process that only starts a run does not stay to follow it: the server does
        if org_id in self._subs or not self._started:
            return
        sub = self.bus.subscribe(org_id)
        self._subs[org_id] = (sub, asyncio.create_task(self._follow(sub), name=f"iplus-runs-{org_id}"))

    async def _follow(self, sub: Subscription) -> None:
        while True:
            event = await sub.queue.get()
            self._busy += 1
            try:
                if event.get("type") == "order" and isinstance(event.get("order_id"), str):
                    run_id = await self._run_of_order(event["order_id"])
                    if run_id is not None:
                        await self.sync(run_id)
            except Exception:  # one bad event must not stop following the orders
                log.exception("could not follow an order change")
            finally:
                self._busy -= 1

    async def _run_of_order(self, order_id: str) -> str | None:
        async with self.db.transaction() as s:
            run_id: str | None = await s.scalar(
                select(ServiceRunTask.run_id).where(ServiceRunTask.order_id == order_id).limit(1)
            )
            return run_id

    async def _tick_every(self) -> None:
        while True:
            # the first round runs at start: runs left running by a stop catch up with their orders
            try:
                await self.tick()
            except Exception:  # the store may be restarting: try again next round
                log.exception("could not check the runs")
            await asyncio.sleep(self.interval_s)

    async def tick(self, now: datetime | None = None) -> None:
        """Check every running run's SLAs and catch up with order changes that were missed."""
        await self.check_sla(now)
        running = await self._running_orgs()
        for org_id in list(self._subs):
            if org_id not in running:
                sub, task = self._subs.pop(org_id)
                self.bus.unsubscribe(sub)
                task.cancel()
        for org_id in running:
            self._watch(org_id)

    def _lock(self, run_id: str) -> asyncio.Lock:
        lock = self._locks.get(run_id)
        if lock is None:
            lock = self._locks[run_id] = asyncio.Lock()
        return lock

    # start ---------------------------------------------------------------------------
    async def start_run(
        self,
        caller: Principal,
        system_id: str,
        number: int | None = None,
        *,
        choices: Any = None,
        seed: int | None = None,
        inputs: Any = None,
        slack: float | None = None,
    ) -> str:
        """Commit to a stored plan: unroll its graph, store the run and dispatch the first tasks."""
        caller.require_scope(Scope.WRITE)
        if number is not None and (
            isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_PLAN
        ):
            raise InvalidInput("the run cannot start", errors=[f"plan: a plan number from 1 to {MAX_PLAN}"])
        async with self.db.transaction() as s:
            system = await s.scalar(
                select(ServiceSystem).where(
                    ServiceSystem.id == system_id, ServiceSystem.org_id == caller.org_id
                )
            )
            if system is None:
                raise NotFound(f"system {system_id} not found")
            stmt = select(ServicePlan).where(ServicePlan.system_id == system.id)
            stmt = (
                stmt.where(ServicePlan.number == number)
                if number is not None
                else stmt.order_by(ServicePlan.number.desc())
            )
            plan = await s.scalar(stmt.limit(1))
            if plan is None:
                raise NotFound(f"system {system_id} has no plan {number or ''}".rstrip())
            requirement = system.requirement
        if plan.status not in ("optimal", "feasible"):
            raise Conflict(f"plan {plan.number} is {plan.status}: " + "; ".join(plan.explanation))
        req = parse_requirement(requirement)
        problems = []
        given: dict[str, int] = {}
        try:
            given = check_given(req.root, choices)
        except InvalidInput as exc:
            problems += exc.extra.get("errors", [exc.detail])
        task_ids = {t.id for t in req.tasks()}
        values = inputs or {}
        if not isinstance(values, dict):
            problems.append("inputs: an object of task id to parameter values")
            values = {}
        for task_id, params in values.items():
            if task_id not in task_ids:
                problems.append(f"inputs/{task_id}: not a task of the requirement")
            elif not isinstance(params, dict):
                problems.append(f"inputs/{task_id}: an object of parameter values")
            elif bad := json_problems(params, f"inputs/{task_id}"):
                # stored with the run and sent with its orders: what the orders would refuse, refused now
                problems += bad
            elif len(str(params)) > MAX_PARAMETERS_BYTES:
                problems.append(f"inputs/{task_id}: at most {MAX_PARAMETERS_BYTES:,} characters")
        margin = self.slack if slack is None else slack
        if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0 <= margin <= 10:
            problems.append("slack: a number from 0 to 10 (share of the promised time a task may overrun)")
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31
        ):
            problems.append("seed: an integer from 0 to 2^31 - 1")
        if problems:
            raise InvalidInput("the run cannot start", errors=problems)
        drawn_seed = secrets.randbelow(2**31) if seed is None else seed
        # reproducible draws, not secrets: the seed is stored with the run
        instances, outcomes = unroll(req.root, random.Random(drawn_seed), given)  # noqa: S311
        # inputs the planned offers refuse would fail every dispatch and exclude offers that did no wrong
        used = {inst.task.id: plan.choice[inst.task.id]["offer_id"] for inst in instances}
        if misfits := await self._misfits(used, values):
            raise InvalidInput("the inputs do not fit the planned offers", errors=misfits)
        now = utcnow()
        async with self.db.transaction() as s:
            run = ServiceRun(
                org_id=caller.org_id,
                system_id=system_id,
                plan_id=plan.id,
                plan_number=plan.number,
                status="running",
                seed=drawn_seed,
                outcomes=outcomes,
                inputs=values,
                slack=float(margin),
                deadline_at=(
                    now + timedelta(hours=req.constraints.deadline_h) if req.constraints.deadline_h else None
                ),
                deadline_alarm=False,
                events=0,
                reason="",
                created_by=caller.user_id,
                started_at=now,
                updated_at=now,
            )
            s.add(run)
            await s.flush()
            for inst in instances:
                chosen = plan.choice[inst.task.id]
                s.add(
                    ServiceRunTask(
                        org_id=run.org_id,
                        run_id=run.id,
                        key=inst.key,
                        task_id=inst.task.id,
                        position=inst.position,
                        attempt=1,
                        after=list(inst.after),
                        state="pending",
                        offer_id=chosen["offer_id"],
                        offer_version=chosen["version"],
                        provider_org_id=chosen["org_id"],
                        option=chosen,
                        late=False,
                        reason="",
                        updated_at=now,
                    )
                )
            self.ledger.event(
                s,
                run,
                "started",
                f"run of plan {plan.number} started with {len(instances)} task instance(s)",
                outcomes=outcomes,
                seed=drawn_seed,
            )
            run_id = run.id
        self.ledger.flush(run_id)
        self._watch(caller.org_id)
        await self.sync(run_id)
        return run_id

    async def _misfits(self, used: dict[str, str], values: dict[str, Any]) -> list[str]:
        """Why each task's inputs do not fit the input schema of its planned offer as published now."""
        async with self.db.transaction() as s:
            rows = await s.execute(
                select(Offer.id, OfferVersion.inputs)
                .join(
                    OfferVersion,
                    (OfferVersion.offer_id == Offer.id) & (OfferVersion.version == Offer.published_version),
                )
                .where(Offer.id.in_(sorted(set(used.values()))), Offer.stage == "published")
            )
            schemas: dict[str, Any] = {offer_id: inputs for offer_id, inputs in rows.all()}
        problems = []
        for task_id, offer_id in used.items():
            # an offer no longer published is replaced when its task is dispatched: nothing to check here
            if offer_id in schemas:
                validator = jsonschema.Draft202012Validator(schemas[offer_id])
                found = instance_problems(validator, values.get(task_id, {}))
                for p in found:
                    where, _, why = p.partition(": ")
                    problems.append(f"inputs/{task_id}{'' if where == '/' else where}: {why}")
        return list(dict.fromkeys(problems))

    # the reconciliation --------------------------------------------------------------
    async def sync(self, run_id: str, now: datetime | None = None) -> None:
        """Bring the run up to date with its orders; re-select, dispatch and finish as needed."""
        async with self._lock(run_id):
            try:
                await self.driver.settle(run_id, now)
            finally:
                self.ledger.discard(run_id)

    async def cancel(self, caller: Principal, run_id: str, reason: str = "") -> None:
        """The owner cancels a running run."""
        caller.require_scope(Scope.WRITE)
        if not isinstance(reason, str) or len(reason) > 2000 or "\x00" in reason:
            # stored with the run and its orders: PostgreSQL keeps no NUL characters
            raise InvalidInput(
                "the run cannot be cancelled", errors=["reason: a text of at most 2000 characters, no NUL"]
            )
        async with self.db.transaction() as s:
            run = await s.scalar(
                select(ServiceRun).where(ServiceRun.id == run_id, ServiceRun.org_id == caller.org_id)
            )
            if run is None:
                raise NotFound(f"run {run_id} not found")
        async with self._lock(run_id):
            try:
                await self.driver.end(run_id, "cancelled", reason.strip() or "cancelled by the user", caller)
            finally:
                self.ledger.discard(run_id)

    # SLA -----------------------------------------------------------------------------
    async def check_sla(self, now: datetime | None = None, run_id: str | None = None) -> list[dict[str, Any]]:
        """Raise an SLA alarm for each late task (and re-select it) and each run past its deadline."""
        when = as_utc(now or utcnow())
        async with self.db.transaction() as s:
            stmt = select(ServiceRun.id).where(ServiceRun.status == "running")
            ids = list(
                (await s.scalars(stmt if run_id is None else stmt.where(ServiceRun.id == run_id))).all()
            )
        raised: list[dict[str, Any]] = []
        for rid in ids:
            async with self._lock(rid):
                try:
                    raised += await self._sla(rid, when)
                    await self.driver.settle(rid, when)
                finally:
                    self.ledger.discard(rid)
        return raised

    async def _sla(self, run_id: str, now: datetime) -> list[dict[str, Any]]:
        raised = []
        async with self.db.transaction() as s:
            run = await lock_run(s, run_id)
            if run is None or run.status != "running":
                return []
            rows = list(latest(await self.driver.rows(s, run_id)).values())
            await self.driver.apply_orders(s, run, rows, now)
            late = []
            for row in rows:
                if row.state not in IN_FLIGHT or row.order_id is None:
                    continue
                since = row.started_at or max(
                    as_utc(row.dispatched_at or now), as_utc(row.window_start or now)
                )
                allowed = float(row.option["time_h"]) * (1 + run.slack)
                if hours(since, now) > allowed:
                    late.append((row.id, row.order_id, hours(since, now), allowed))
            if run.deadline_at is not None and now > as_utc(run.deadline_at) and not run.deadline_alarm:
                run.deadline_alarm = True
                over = hours(as_utc(run.deadline_at), now)
                detail = f"run {run.id} is past its deadline by {over:.2f} h"
                raised.append(await self.ledger.alarm(s, run, f"run:{run.id}", detail, over))
                self.ledger.event(s, run, "sla", detail, alarm=raised[-1]["id"])
            principal = owner_of(run)
        self.ledger.flush(run_id)
        cancelled = {}
        for row_id, order_id, elapsed, allowed in late:
            try:
                await self.orders.move(principal, order_id, "cancelled", "SLA: the task is late")
            except IplusError:  # it finished or failed meanwhile: the next round follows it
                continue
            cancelled[row_id] = (elapsed, allowed)
        if not cancelled:
            return raised
        async with self.db.transaction() as s:
            run = await lock_run(s, run_id)
            assert run is not None
            for row in await self.driver.rows(s, run_id):
                if row.id not in cancelled:
                    continue
                elapsed, allowed = cancelled[row.id]
                detail = (
                    f"task {row.key} on offer {row.offer_id} is late: {elapsed:.2f} h running, "
                    f"{allowed:.2f} h allowed (promised {float(row.option['time_h']):g} h"
                    f" + {run.slack:.0%} slack)"
                )
                subject = f"run:{run.id}/{row.key}/{row.attempt}"
                alarm = await self.ledger.alarm(s, run, subject, detail, elapsed)
                raised.append(alarm)
                self.ledger.event(s, run, "sla", detail, row, alarm=alarm["id"])
                # a provider that had taken the work on broke its promise; one that never answered did not
                accepted = row.started_at is not None or row.order_status == "accepted"
                row.order_status, row.late, row.finished_at = "cancelled", True, now
                row.reason = f"late: {elapsed:.2f} h against {allowed:.2f} h allowed"
                why = f"task {row.key} failed its SLA; its order is cancelled"
                self.ledger.move(s, run, row, "failed", why)
                if accepted:
                    self.ledger.record(s, run, row, False, now)
        self.ledger.flush(run_id)
        return raised
