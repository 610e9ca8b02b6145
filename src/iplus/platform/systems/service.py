"""Construction of smart service systems: match each task, select, schedule, forecast, store the plan."""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from iplus.core.clock import utcnow
from iplus.core.errors import InvalidInput, NotFound
from iplus.core.roles import Role, Scope
from iplus.infra.bus import EventBus
from iplus.infra.db.engine import Database
from iplus.infra.db.models_catalog import OfferVersion, ServiceOrder
from iplus.infra.db.models_systems import ServicePlan, ServiceSystem
from iplus.platform.catalog.finder import match_offers
from iplus.platform.catalog.matching import Requirement
from iplus.platform.catalog.offers import Offers
from iplus.platform.catalog.orders import OCCUPYING, Orders
from iplus.platform.catalog.spec import Window, calendar_of
from iplus.platform.systems.aggregate import Option
from iplus.platform.systems.forecast import forecast
from iplus.platform.systems.reports import Reports
from iplus.platform.systems.reputation import LAMBDA, Reputations
from iplus.platform.systems.requirement import (
    MAX_SCHEDULED,
    Choice,
    Loop,
    Node,
    Parallel,
    RequirementGraph,
    Sequence,
    Task,
    max_runs,
    parse_requirement,
    requirement_json,
)
from iplus.platform.systems.runs import MAX_PLAN, Runs, option_json
from iplus.platform.systems.runviews import RunViews
from iplus.platform.systems.schedule import Resource, schedule
from iplus.platform.systems.selection import Plan
from iplus.platform.systems.selection import select as select_plan
from iplus.security.principal import Principal

FORECAST_REPLICATIONS = 500
# simulated task executions per forecast (about 2 s of GIL-bound SimPy on one core): a long graph gets
# fewer replications, never fewer than FORECAST_MIN; the forecast answers how many it ran
FORECAST_WORK = 200_000
FORECAST_MIN = 50
# offers turned down by matching listed per task in a plan's ranking (the first ones, by the catalog's order)
MAX_REJECTED_LISTED = 50
# selection, schedule and forecast run on threads of their own: a burst of constructions queues for
# these instead of taking every thread of the loop's default executor, which logins share
SOLVER_THREADS = 2
T = TypeVar("T")
# the catalog takes any finite time and price; the schedule counts minutes in 64-bit integers and the
# selection sums prices over up to MAX_RUNS executions, so offers past these are left out with why
MAX_PLANNED_TIME_H = 10 * 366 * 24.0
MAX_PLANNED_PRICE = 1e12


@dataclass(frozen=True)
class Built:
    """A plan computed and not yet stored: selection, schedule and forecast (JSON), price currencies."""

    plan: Plan
    schedule: dict[str, Any] | None
    forecast: dict[str, Any] | None
    currencies: dict[str, str]


def task_paths(node: Node, path: str = "graph") -> dict[str, str]:
    """Each task id and the JSON path of its task object in the requirement."""
    if isinstance(node, Task):
        return {node.id: f"{path}/task"}
    out: dict[str, str] = {}
    if isinstance(node, Sequence):
        for i, step in enumerate(node.steps):
            out |= task_paths(step, f"{path}/sequence/{i}")
    elif isinstance(node, Parallel):
        for i, branch in enumerate(node.branches):
            out |= task_paths(branch, f"{path}/parallel/{i}")
    elif isinstance(node, Choice):
        for i, (_, branch) in enumerate(node.branches):
            out |= task_paths(branch, f"{path}/choice/{i}/do")
    elif isinstance(node, Loop):
        out |= task_paths(node.body, f"{path}/loop/do")
    return out


def catalog_requirement(task: Task, req: RequirementGraph) -> Requirement:
    """What matching must find for one task: its type, parameters, local bounds and the currency."""
    c = task.constraints
    return Requirement(
        type=task.capability,
        parameters=dict(task.parameters),
        max_price=c.max_price,
        currency=req.constraints.currency,
        max_time_h=c.max_time_h,
        min_reliability=c.min_reliability,
        min_availability=c.min_availability,
        near=c.near,
        radius_km=c.radius_km,
    )


def infeasible(explanation: list[str], ranking: dict[str, list[dict[str, Any]]]) -> Plan:
    """A plan that cannot be built because some task has no candidate at all."""
    return Plan(
        status="infeasible",
        method="matching",
        choice={},
        aggregate={},
        utility=0.0,
        bound=None,
        gap=None,
        explanation=explanation,
        ranking=ranking,
        solve_ms=0.0,
    )


def beyond_planning(time_h: float, price: float) -> str | None:
    """Why an offer's declared time or price is more than planning can hold (None when it is not)."""
    if not time_h <= MAX_PLANNED_TIME_H:
        return (
            f"time {time_h:g} h is more than the {MAX_PLANNED_TIME_H:,.0f} h (ten years) "
            "one execution may be planned for"
        )
    if not price <= MAX_PLANNED_PRICE:
        return f"price {price:g} is more than {MAX_PLANNED_PRICE:g}, beyond planning"
    return None


def forecast_replications(req: RequirementGraph) -> int:
    """Replications for a plan's forecast: FORECAST_REPLICATIONS, fewer for long graphs."""
    per_run = max(1, max_runs(req.root))
    return max(FORECAST_MIN, min(FORECAST_REPLICATIONS, FORECAST_WORK // per_run))


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such a value is stored as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class Systems:
    """Smart service systems of users: construction, plans, runs, reputation; one per platform."""

    def __init__(
        self,
        db: Database,
        offers: Offers,
        orders: Orders,
        bus: EventBus,
        *,
        lam: float = LAMBDA,
        slack: float = 0.5,
        sla_interval_s: float = 30.0,
        time_limit_s: float = 10.0,
    ) -> None:
        self.db = db
        self.offers = offers
        self.orders = orders
        self.time_limit_s = time_limit_s
        self.reputations = Reputations(db, lam)
        self.runs = Runs(db, orders, bus, self.reselect, slack=slack, interval_s=sla_interval_s)
        self.views = RunViews(db)
        self.reports = Reports(db, self.reputations)
        self._pool: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        """Follow running runs and check their SLAs."""
        await self.runs.start()

    async def stop(self) -> None:
        """Stop following runs."""
        await self.runs.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    async def _off_loop(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run solver work on the systems' own threads, off the event loop."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(SOLVER_THREADS, thread_name_prefix="iplus-systems")
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, functools.partial(fn, *args, **kw)
        )

    # candidates ----------------------------------------------------------------------
    def _check_types(self, req: RequirementGraph) -> None:
        paths = task_paths(req.root)
        problems = []
        for task in req.tasks():
            try:
                self.offers.taxonomy.get(task.capability)
            except InvalidInput:
                problems.append(
                    f"{paths[task.id]}/capability: unknown capability type {task.capability!r} "
                    "(see GET /api/v1/taxonomy)"
                )
        if problems:
            raise InvalidInput("the requirement is not valid", errors=problems)

    async def candidates(
        self, caller: Principal, req: RequirementGraph
    ) -> tuple[dict[str, list[Option]], dict[str, list[dict[str, Any]]]]:
        """Per task the published offers that match it (with reputation), and the rejected ones with why."""
        options: dict[str, list[Option]] = {}
        rejected: dict[str, list[dict[str, Any]]] = {}
        found = {}
        for task in req.tasks():
            found[task.id] = await match_offers(self.offers, caller, catalog_requirement(task, req))
        pairs = {(m.candidate.offer_id, m.candidate.org_id) for ms, _ in found.values() for m in ms}
        reputation = await self.reputations.for_options(pairs)
        for task_id, (matches, rejections) in found.items():
            rejected[task_id] = [
                {"offer_id": r.candidate.offer_id, "version": r.candidate.version, "reason": r.reason}
                for r in rejections
            ]
            options[task_id] = []
            for m in matches:
                c = m.candidate
                if why := beyond_planning(c.qos.time_h, c.qos.price):
                    rejected[task_id].append({"offer_id": c.offer_id, "version": c.version, "reason": why})
                    continue
                options[task_id].append(
                    Option(
                        offer_id=c.offer_id,
                        version=c.version,
                        org_id=c.org_id,
                        title=c.title,
                        time_h=c.qos.time_h,
                        cost=c.qos.price,
                        reliability=c.qos.reliability,
                        availability=c.qos.availability,
                        reputation=reputation.get(c.offer_id, 0.5),
                        # more units than executions to schedule are as good as unlimited
                        capacity=max(1, min(MAX_SCHEDULED, int(c.qos.capacity))),
                    )
                )
        return options, rejected

    async def reselect(
        self,
        caller: Principal,
        req: RequirementGraph,
        fixed: Mapping[str, Option],
        excluded: Mapping[str, set[str]],
    ) -> Plan:
        """Select again for a running system: done tasks pinned, failed offers excluded, reputations fresh."""
        # a pinned task keeps its service even if it has left the pools since: selection takes it as given
        options, _ = await self.candidates(caller, req)
        return await self._off_loop(
            select_plan, req, options, fixed=fixed, excluded=excluded, time_limit_s=self.time_limit_s
        )

    # construction --------------------------------------------------------------------
    async def construct(self, caller: Principal, doc: Any) -> dict[str, Any]:
        """Build a system from a requirement: candidates, optimal selection, schedule, forecast; store it."""
        caller.require_scope(Scope.WRITE)
        req = parse_requirement(doc)
        self._check_types(req)
        # everything is computed before anything is stored: a failure leaves no system without a plan
        built = await self._build(caller, req)
        async with self.db.transaction() as s:
            system = ServiceSystem(
                org_id=caller.org_id,
                name=req.name,
                requirement=requirement_json(req),
                plans=0,
                created_by=caller.user_id,
            )
            s.add(system)
            await s.flush()
            return await self._store(s, system, built)

    async def replan(self, caller: Principal, system_id: str) -> dict[str, Any]:
        """A new plan for a stored system, with today's offers and reputations."""
        caller.require_scope(Scope.WRITE)
        async with self.db.transaction() as s:
            system = await s.scalar(
                select(ServiceSystem).where(
                    ServiceSystem.id == system_id, ServiceSystem.org_id == caller.org_id
                )
            )
            if system is None:
                raise NotFound(f"system {system_id} not found")
            doc = system.requirement
        built = await self._build(caller, parse_requirement(doc))
        async with self.db.transaction() as s:
            # write first: SQLite then holds its write lock before reading the count, so two plans made
            # at once are numbered in turn (PostgreSQL locks the row either way)
            await s.execute(
                update(ServiceSystem)
                .where(ServiceSystem.id == system_id)
                .values(plans=ServiceSystem.plans)
                .execution_options(synchronize_session=False)
            )
            system = await s.scalar(
                select(ServiceSystem).where(ServiceSystem.id == system_id).with_for_update()
            )
            if system is None:
                raise NotFound(f"system {system_id} not found")
            return await self._store(s, system, built)

    async def _build(self, caller: Principal, req: RequirementGraph) -> Built:
        """Candidates, selection, and for a plan that can run its schedule and forecast."""
        options, rejected = await self.candidates(caller, req)
        empty = [t for t in req.tasks() if not options[t.id]]
        if empty:
            explanation = []
            for t in empty:
                reasons = "; ".join(f"offer {r['offer_id']}: {r['reason']}" for r in rejected[t.id][:20])
                explanation.append(
                    f"task {t.id}: no published offer of type {t.capability} passes its constraints"
                    + (f" ({reasons})" if reasons else " (no offer of that type is published)")
                )
            plan = infeasible(
                explanation, {t.id: [dict(r, chosen=False) for r in rejected[t.id]] for t in empty}
            )
        else:
            plan = await self._off_loop(select_plan, req, options, time_limit_s=self.time_limit_s)
            # the offers matching turned down belong to "why not" as much as the ones selection left out
            for t in req.tasks():
                plan.ranking.setdefault(t.id, []).extend(
                    dict(r, chosen=False, note=f"turned down by matching: {r['reason']}")
                    for r in rejected[t.id][:MAX_REJECTED_LISTED]
                )
        timetable = outlook = None
        if plan.status in ("optimal", "feasible"):
            start = utcnow().replace(second=0, microsecond=0)
            resources = await self._resources(plan.choice.values(), start)
            timetable = (
                await self._off_loop(
                    schedule, req, plan.choice, resources, start=start, time_limit_s=self.time_limit_s
                )
            ).to_json()
            histories = await self.reputations.histories(o.offer_id for o in plan.choice.values())
            replications = forecast_replications(req)
            outlook = (
                await self._off_loop(forecast, req, plan.choice, histories, replications=replications, seed=0)
            ).to_json()
        return Built(plan, timetable, outlook, await self._currencies(plan.choice.values()))

    @staticmethod
    async def _store(s: AsyncSession, system: ServiceSystem, built: Built) -> dict[str, Any]:
        """The next plan of ``system``."""
        plan, currencies = built.plan, built.currencies
        system.plans += 1
        system.updated_at = utcnow()
        row = ServicePlan(
            org_id=system.org_id,
            system_id=system.id,
            number=system.plans,
            status=plan.status,
            method=plan.method,
            choice={
                t: option_json(o) | {"currency": currencies.get(o.offer_id)} for t, o in plan.choice.items()
            },
            aggregate=_finite(dict(plan.aggregate)),
            utility=plan.utility if math.isfinite(plan.utility) else 0.0,
            bound=plan.bound if plan.bound is None or math.isfinite(plan.bound) else None,
            gap=plan.gap if plan.gap is None or math.isfinite(plan.gap) else None,
            explanation=list(plan.explanation),
            ranking=_finite(plan.ranking),
            schedule=built.schedule,
            forecast=built.forecast,
            solve_ms=plan.solve_ms,
        )
        s.add(row)
        await s.flush()
        return {"system": system_json(system), "plan": plan_json(row)}

    async def _currencies(self, options: Any) -> dict[str, str]:
        wanted = {(o.offer_id, o.version) for o in options}
        if not wanted:
            return {}
        async with self.db.transaction() as s:
            rows = await s.execute(
                select(OfferVersion.offer_id, OfferVersion.version, OfferVersion.currency).where(
                    OfferVersion.offer_id.in_([o for o, _ in wanted])
                )
            )
            return {o: c for o, v, c in rows.all() if (o, v) in wanted}

    async def _resources(self, options: Any, start: datetime) -> dict[str, Resource]:
        """Each chosen offer's capacity, calendar and the orders already booked on it from ``start`` on."""
        chosen = {o.offer_id: o for o in options}
        out: dict[str, Resource] = {}
        async with self.db.transaction() as s:
            for offer_id, option in chosen.items():
                version = await s.scalar(
                    select(OfferVersion).where(
                        OfferVersion.offer_id == offer_id, OfferVersion.version == option.version
                    )
                )
                booked = await s.execute(
                    select(ServiceOrder.window_start, ServiceOrder.window_end).where(
                        ServiceOrder.offer_id == offer_id,
                        ServiceOrder.status.in_(OCCUPYING),
                        ServiceOrder.window_end > start,
                    )
                )
                calendar = calendar_of(version.calendar) if version is not None else ()
                out[offer_id] = Resource(
                    offer_id=offer_id,
                    capacity=max(1, int(option.capacity)),
                    calendar=calendar,
                    busy=tuple((Window(a, b), 1) for a, b in booked.all()),
                )
        return out

    # reads ---------------------------------------------------------------------------
    @staticmethod
    def _visible(caller: Principal) -> ColumnElement[bool]:
        """Users see their own systems, operators every one."""
        return true() if Role.OPERATOR in caller.roles else ServiceSystem.org_id == caller.org_id

    async def list(
        self, caller: Principal, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[dict[str, Any]], int]:
        """Systems the caller sees (its own; operators every one), newest first."""
        caller.require_scope(Scope.READ)
        async with self.db.transaction() as s:
            total = await s.scalar(
                select(func.count()).select_from(ServiceSystem).where(self._visible(caller))
            )
            rows = await s.scalars(
                select(ServiceSystem)
                .where(self._visible(caller))
                .order_by(ServiceSystem.created_at.desc(), ServiceSystem.id.desc())
                .offset(offset)
                .limit(limit)
            )
            return [system_json(r) for r in rows.all()], int(total or 0)

    async def get(self, caller: Principal, system_id: str) -> dict[str, Any]:
        """A system with its requirement and a summary of every plan."""
        caller.require_scope(Scope.READ)
        async with self.db.transaction() as s:
            system = await s.scalar(
                select(ServiceSystem).where(ServiceSystem.id == system_id, self._visible(caller))
            )
            if system is None:
                raise NotFound(f"system {system_id} not found")
            plans = await s.scalars(
                select(ServicePlan).where(ServicePlan.system_id == system.id).order_by(ServicePlan.number)
            )
            return system_json(system) | {
                "requirement": system.requirement,
                "plans": [
                    {
                        "number": p.number,
                        "status": p.status,
                        "utility": p.utility,
                        "created_at": p.created_at.isoformat(),
                    }
                    for p in plans.all()
                ],
            }

    async def plan(self, caller: Principal, system_id: str, number: int) -> dict[str, Any]:
        """One plan of a system, whole."""
        await self.get(caller, system_id)
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_PLAN:
            # past every store's integers too: no plan has such a number
            raise NotFound(f"system {system_id} has no plan {number}")
        async with self.db.transaction() as s:
            row = await s.scalar(
                select(ServicePlan).where(ServicePlan.system_id == system_id, ServicePlan.number == number)
            )
            if row is None:
                raise NotFound(f"system {system_id} has no plan {number}")
            return plan_json(row)

    async def offer_reputation(self, caller: Principal, offer_id: str) -> dict[str, Any]:
        """An offer's reputation and its provider's, with the evidence behind them."""
        view = await self.offers.get(caller, offer_id)
        now = utcnow()
        own = (await self.reputations.offers([offer_id], now))[offer_id]
        org = (await self.reputations.providers([view.offer.org_id], now))[view.offer.org_id]
        return {
            "offer_id": offer_id,
            "provider_org_id": view.offer.org_id,
            "lambda_per_day": self.reputations.lam,
            "at": now.isoformat(),
            "offer": standing_json(own),
            "provider": standing_json(org),
            "used_for_ranking": own.reputation if own.executions + own.ratings else org.reputation,
        }


def standing_json(st: Any) -> dict[str, Any]:
    """A reputation standing as JSON."""
    return {
        "reputation": st.reputation,
        "positive": st.positive,
        "negative": st.negative,
        "executions": st.executions,
        "successes": st.successes,
        "ratings": st.ratings,
    }


def system_json(system: ServiceSystem) -> dict[str, Any]:
    """A system's summary."""
    return {
        "id": system.id,
        "org_id": system.org_id,
        "name": system.name,
        "plans": system.plans,
        "created_by": system.created_by,
        "created_at": system.created_at.isoformat(),
    }


def plan_json(row: ServicePlan) -> dict[str, Any]:
    """A stored plan with why it chose what it chose (ranking) or why it cannot (explanation)."""
    return {
        "number": row.number,
        "status": row.status,
        "method": row.method,
        "choice": row.choice,
        "aggregate": row.aggregate,
        "utility": row.utility,
        "bound": row.bound,
        "gap": row.gap,
        "explanation": row.explanation,
        "ranking": row.ranking,
        "schedule": row.schedule,
        "forecast": row.forecast,
        "solve_ms": row.solve_ms,
        "created_at": row.created_at.isoformat(),
    }
