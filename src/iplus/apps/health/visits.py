"""Elderly-care visits as services in the pools, ordered by families and carried out by run management.

A care provider publishes visit offers (capability ``elderly_care``, and ``nursing`` for a nursing
check) in the catalog. A family (a user organisation) orders a visit: the platform builds a smart
service system from a requirement of one task (the visit) or two in sequence (the visit, then a
nursing check), selects the best offers under the family's deadline and budget, and starts a run; the
run dispatches an order to the chosen provider, who accepts, starts and completes it in its portal,
and the run (and the family's page) follows the order to the end.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from iplus.core.errors import Conflict, InvalidInput, NotFound
from iplus.core.roles import Role, Scope
from iplus.infra.db.engine import Database
from iplus.infra.db.models_catalog import OfferVersion, ServiceOrder
from iplus.infra.db.models_health import HealthVisit
from iplus.platform.catalog.orders import Orders
from iplus.platform.systems.service import Systems
from iplus.security.principal import Principal

VISIT = "elderly_care"
NURSING = "nursing"
CARE_TYPES = (VISIT, NURSING, "home_care", "rehabilitation")
FOCUS = ("companionship", "daily_living", "medication", "mobility", "hygiene")
# the offers' input: what the visit is mainly for; deliberately nothing that names a person
VISIT_INPUTS: dict[str, Any] = {
    "type": "object",
    "properties": {"focus": {"type": "string", "enum": list(FOCUS), "description": "what the visit is for"}},
    "additionalProperties": False,
}
PROVIDER_MOVES = ("accepted", "rejected", "in_progress", "completed", "failed")


def visit_requirement(doc: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The requirement document of a family's visit order, the run's order inputs, and its title."""
    if not isinstance(doc, dict):
        raise InvalidInput("a visit: an object with focus, nursing, deadline_h, budget, currency")
    known = {"title", "focus", "nursing", "deadline_h", "budget", "currency", "max_price"}
    problems = [f"/{k}: unknown field" for k in doc if k not in known]
    title = doc.get("title", "Care visit")
    if not isinstance(title, str) or not 1 <= len(title.strip()) <= 150:
        problems.append("/title: 1 to 150 characters")
    focus = doc.get("focus", "companionship")
    if focus not in FOCUS:
        problems.append(f"/focus: one of {', '.join(FOCUS)}")
    nursing = doc.get("nursing", False)
    if not isinstance(nursing, bool):
        problems.append("/nursing: true to add a nursing check after the visit")
    if problems:
        raise InvalidInput("the visit cannot be ordered", errors=problems)
    constraints: dict[str, Any] = {}
    for key in ("deadline_h", "budget"):
        if doc.get(key) is not None:
            constraints[key] = doc[key]
    if "budget" in constraints:
        constraints["currency"] = doc.get("currency") or "EUR"
    visit: dict[str, Any] = {"id": "visit", "capability": VISIT}
    if doc.get("max_price") is not None:
        visit["constraints"] = {"max_price": doc["max_price"]}
    steps: list[dict[str, Any]] = [{"task": visit}]
    if nursing:
        steps.append({"task": {"id": "nursing", "capability": NURSING}})
    name = f"Care visit: {title.strip()}"
    requirement = {
        "name": name[:200],
        "graph": {"sequence": steps},
        "constraints": constraints,
        # families care first about reliable carers, then about cost and speed
        "weights": {"reliability": 0.35, "reputation": 0.25, "cost": 0.2, "time": 0.1, "availability": 0.1},
    }
    inputs = {"visit": {"focus": focus}} | ({"nursing": {"focus": "medication"}} if nursing else {})
    return requirement, inputs, title.strip()


class Visits:
    """Families order visits; providers see and move the visit orders they received."""

    def __init__(self, db: Database, systems: Systems, orders: Orders) -> None:
        self.db = db
        self.systems = systems
        self.orders = orders

    async def order(self, caller: Principal, doc: Any) -> dict[str, Any]:
        """Build the visit's service system, select the providers and start the run that orders it."""
        caller.require_scope(Scope.WRITE)
        caller.require_role(Role.USER)
        requirement, inputs, title = visit_requirement(doc)
        built = await self.systems.construct(caller, requirement)
        system_id = built["system"]["id"]
        plan = built["plan"]
        run_id = None
        if plan["status"] in ("optimal", "feasible"):
            run_id = await self.systems.runs.start_run(caller, system_id, inputs=inputs)
        async with self.db.transaction() as s:
            visit = HealthVisit(
                org_id=caller.org_id,
                system_id=system_id,
                run_id=run_id,
                title=title,
                created_by=caller.user_id,
            )
            s.add(visit)
            await s.flush()
            visit_id = visit.id
        if run_id is None:
            raise Conflict(
                "no provider can take this visit: " + "; ".join(plan["explanation"]),
                visit_id=visit_id,
                system_id=system_id,
            )
        return {"id": visit_id, "system_id": system_id, "run_id": run_id, "title": title, "plan": plan}

    async def of_family(self, caller: Principal, limit: int = 50) -> list[dict[str, Any]]:
        """The family's visits, newest first, each with its run (status, tasks, history)."""
        caller.require_scope(Scope.READ)
        async with self.db.transaction() as s:
            rows = (
                await s.scalars(
                    select(HealthVisit)
                    .where(HealthVisit.org_id == caller.org_id)
                    .order_by(HealthVisit.created_at.desc(), HealthVisit.id.desc())
                    .limit(limit)
                )
            ).all()
        out = []
        for v in rows:
            run = await self.systems.views.get(caller, v.run_id) if v.run_id else None
            out.append(
                {
                    "id": v.id,
                    "title": v.title,
                    "system_id": v.system_id,
                    "run_id": v.run_id,
                    "created_at": v.created_at.isoformat(),
                    "status": run["status"] if run else "not started",
                    "run": run,
                }
            )
        return out

    async def received(self, caller: Principal, limit: int = 100) -> list[dict[str, Any]]:
        """Care orders the provider received, newest first, with the offer's title and type."""
        caller.require_scope(Scope.READ)
        async with self.db.transaction() as s:
            rows = await s.execute(
                select(ServiceOrder, OfferVersion.title, OfferVersion.capability_type)
                .join(
                    OfferVersion,
                    (OfferVersion.offer_id == ServiceOrder.offer_id)
                    & (OfferVersion.version == ServiceOrder.offer_version),
                )
                .where(
                    ServiceOrder.provider_org_id == caller.org_id,
                    OfferVersion.capability_type.in_(CARE_TYPES),
                )
                .order_by(ServiceOrder.created_at.desc(), ServiceOrder.id.desc())
                .limit(limit)
            )
            return [
                {
                    "id": o.id,
                    "offer_id": o.offer_id,
                    "title": title,
                    "capability": kind,
                    "status": o.status,
                    "parameters": o.parameters,
                    "window_start": o.window_start.isoformat(),
                    "window_end": o.window_end.isoformat(),
                    "created_at": o.created_at.isoformat(),
                }
                for o, title, kind in rows.all()
            ]

    async def move(self, caller: Principal, order_id: str, to: str, reason: str = "") -> dict[str, Any]:
        """The provider accepts, rejects, starts, completes or fails a care order it received."""
        if to not in PROVIDER_MOVES:
            raise InvalidInput(f"status: one of {', '.join(PROVIDER_MOVES)}")
        async with self.db.transaction() as s:
            found = await s.scalar(
                select(ServiceOrder.id)
                .join(
                    OfferVersion,
                    (OfferVersion.offer_id == ServiceOrder.offer_id)
                    & (OfferVersion.version == ServiceOrder.offer_version),
                )
                .where(
                    ServiceOrder.id == order_id,
                    ServiceOrder.provider_org_id == caller.org_id,
                    OfferVersion.capability_type.in_(CARE_TYPES),
                )
            )
        if found is None:
            raise NotFound(f"care order {order_id} not found")
        order = await self.orders.move(caller, order_id, to, reason)
        return {"id": order.id, "status": order.status}
