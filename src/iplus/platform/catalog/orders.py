"""Orders of one service: placed by a user, accepted by the provider, advanced by the grounding twins."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import jsonschema
from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from iplus.core.clock import as_utc, utcnow
from iplus.core.errors import Conflict, InvalidInput, NotFound
from iplus.core.jsondoc import json_problems
from iplus.core.roles import Scope
from iplus.infra.bus import EventBus
from iplus.infra.db.engine import Database
from iplus.infra.db.models_catalog import Offer, OfferVersion, ServiceOrder
from iplus.infra.ports import TelemetryStore
from iplus.infra.telemetry import Message, Selection
from iplus.platform.catalog.spec import Window, calendar_of, open_for
from iplus.platform.knowledge.algorithms import instance_problems
from iplus.security.principal import Principal

if TYPE_CHECKING:
    from iplus.platform.catalog.deliverables import Deliverables

log = logging.getLogger(__name__)
STATUSES = ("requested", "accepted", "rejected", "in_progress", "completed", "cancelled", "failed")
TRANSITIONS: dict[str, frozenset[str]] = {
    "requested": frozenset({"accepted", "rejected", "cancelled"}),
    "accepted": frozenset({"in_progress", "cancelled", "failed"}),
    "in_progress": frozenset({"completed", "failed", "cancelled"}),
    "rejected": frozenset(),
    "completed": frozenset(),
    "cancelled": frozenset(),
    "failed": frozenset(),
}
# what each party may do; the grounding twin moves an order on by itself ("twin")
PROVIDER_MOVES = frozenset({"accepted", "rejected", "in_progress", "completed", "failed"})
USER_MOVES = frozenset({"cancelled"})
OCCUPYING = ("accepted", "in_progress")
DONE_STATES = frozenset({"done", "completed", "finished", "complete"})
FAILED_STATES = frozenset({"failed", "error", "fault", "aborted"})
WORKING_STATES = frozenset({"working", "running", "busy", "in_progress", "started"})
MAX_PARAMETERS_BYTES = 100_000


@dataclass(frozen=True)
class TwinReport:
    """What a grounding device said that may move an order: its progress (%) and its state."""

    device_id: str
    progress: float | None
    state: str | None
    # the reporting device's organisation: a device id freed by one organisation may be taken by
    # another, whose reports must not move the first one's orders (None: a trusted internal caller)
    org_id: str | None = None


def twin_target(status: str, report: TwinReport) -> str | None:
    """The status a twin report moves an order in ``status`` to, or None."""
    state = (report.state or "").strip().lower()
    if status not in OCCUPYING:
        return None
    if state in FAILED_STATES:
        return "failed"
    if state in DONE_STATES or (report.progress is not None and report.progress >= 100):
        return "completed"
    if status == "accepted" and (
        state in WORKING_STATES or (report.progress is not None and report.progress > 0)
    ):
        return "in_progress"
    return None


def _stamp(order: ServiceOrder, status: str, by: str, reason: str = "") -> None:
    order.history = [
        *order.history,
        {"status": status, "at": utcnow().isoformat(), "by": by, "reason": reason},
    ]
    order.status = status
    order.updated_at = utcnow()


def settle(order: ServiceOrder, status: str, by: str, reason: str = "") -> None:
    """Move an order to ``status`` in its history; a reason given replaces the order's reason."""
    _stamp(order, status, by, reason.strip())
    order.reason = reason.strip() or order.reason


async def _lock(s: AsyncSession, which: ColumnElement[bool]) -> None:
    """Write-lock the orders before reading them, so two concurrent moves cannot both win.

    SELECT ... FOR UPDATE locks rows on PostgreSQL only; SQLite begins its write transaction at the
    first write, so without this no-op update both movers read the old status and the last one wins.
    """
    await s.execute(
        update(ServiceOrder)
        .where(which)
        .values(updated_at=ServiceOrder.updated_at)
        .execution_options(synchronize_session=False)
    )


class Orders:
    """Place, decide, follow and list orders; listens to ingest to follow the grounding twins."""

    def __init__(self, db: Database, store: TelemetryStore, bus: EventBus) -> None:
        self.db = db
        self.store = store
        self.bus = bus
        # device id -> ids of the open orders it grounds (accepted or in progress)
        self._watch: dict[str, set[str]] = {}
        self._queue: asyncio.Queue[list[TwinReport]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None

    @cached_property
    def deliverables(self) -> Deliverables:
        """The orders' deliverables (what providers attach when they complete an order)."""
        # imported here: the deliverables module builds on this one's locking and history stamps
        from iplus.platform.catalog.deliverables import Deliverables

        return Deliverables(self)

    # life cycle ----------------------------------------------------------------------
    async def start(self, listeners: list[Any]) -> None:
        """Watch the devices of every open order, then listen to ingest."""
        await self.refresh()
        if self.on_messages not in listeners:
            listeners.append(self.on_messages)
        self._worker = asyncio.create_task(self._work(), name="iplus-order-twins")
        self._refresher = asyncio.create_task(self._refresh_every(5.0), name="iplus-order-watch")

    async def refresh(self) -> None:
        """Read which devices ground open orders (orders accepted by another process count too)."""
        async with self.db.transaction() as s:
            rows = await s.execute(
                select(ServiceOrder.id, ServiceOrder.devices).where(ServiceOrder.status.in_(OCCUPYING))
            )
            watch: dict[str, set[str]] = {}
            for order_id, devices in rows.all():
                for device in devices:
                    watch.setdefault(device, set()).add(order_id)
        self._watch = watch

    async def _refresh_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await self.refresh()
            except Exception:  # the store may be restarting: keep the old map until the next round
                log.exception("could not read the open orders")

    async def stop(self) -> None:
        """Stop following twins."""
        for task in (self._worker, self._refresher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._worker = self._refresher = None

    async def drain(self) -> None:
        """Wait until every twin report so far has been applied (tests, shutdown)."""
        await self._queue.join()

    def _follow(self, order: ServiceOrder) -> None:
        for device in order.devices:
            ids = self._watch.setdefault(device, set())
            if order.status in OCCUPYING:
                ids.add(order.id)
            else:
                ids.discard(order.id)
                if not ids:
                    del self._watch[device]

    # data path -----------------------------------------------------------------------
    def on_messages(self, messages: list[Message]) -> None:
        """Ingest listener: hand progress and state of watched devices to the worker."""
        reports = []
        for m in messages:
            if m.device_id not in self._watch:
                continue
            values = {k: v for k, _, v in sorted(m.readings, key=lambda r: r[1])}
            progress, state = values.get("progress"), values.get("state")
            number = (
                float(progress)
                if isinstance(progress, int | float) and not isinstance(progress, bool)
                else None
            )
            text = state if isinstance(state, str) else None
            if number is not None or text is not None:
                reports.append(TwinReport(m.device_id, number, text, m.org_id))
        if reports:
            self._queue.put_nowait(reports)

    async def _work(self) -> None:
        while True:
            reports = await self._queue.get()
            try:
                for report in reports:
                    await self.apply(report)
            except Exception:  # one bad round must not stop following the twins
                log.exception("could not apply twin reports to orders")
            finally:
                self._queue.task_done()

    async def apply(self, report: TwinReport) -> list[ServiceOrder]:
        """Move the open orders a device grounds according to what it reported."""
        changed = []
        async with self.db.transaction() as s:
            ids = sorted(self._watch.get(report.device_id, ()))
            if not ids:
                return []
            await _lock(s, ServiceOrder.id.in_(ids))
            stmt = select(ServiceOrder).where(ServiceOrder.id.in_(ids))
            if report.org_id is not None:
                stmt = stmt.where(ServiceOrder.provider_org_id == report.org_id)
            rows = (await s.scalars(stmt.with_for_update())).all()
            for order in rows:
                if order.status not in OCCUPYING:
                    continue
                if report.progress is not None:
                    order.progress = max(0.0, min(100.0, report.progress))
                if report.state is not None:
                    order.twin_state = report.state[:200]
                order.updated_at = utcnow()
                target = twin_target(order.status, report)
                if target == "completed" and order.status == "accepted":
                    _stamp(order, "in_progress", "twin", f"device {report.device_id}")
                if target is not None:
                    _stamp(order, target, "twin", f"device {report.device_id}")
                changed.append(order)
        for order in changed:
            self._follow(order)
            self._announce(order)
        return changed

    def _announce(self, order: ServiceOrder) -> None:
        event = {"type": "order", "order_id": order.id, "status": order.status, "progress": order.progress}
        for org in {order.org_id, order.provider_org_id}:
            if self.bus.listening(org):
                self.bus.publish(org, event)

    # writes --------------------------------------------------------------------------
    async def place(self, caller: Principal, offer_id: str, parameters: Any, window: Window) -> ServiceOrder:
        """Order the published version of an offer for a window; parameters must fit its input schema."""
        caller.require_scope(Scope.WRITE)
        if not isinstance(parameters, dict):
            raise InvalidInput("parameters: an object")
        if len(str(parameters)) > MAX_PARAMETERS_BYTES:
            raise InvalidInput("parameters: too large")
        if bad := json_problems(parameters, "parameters"):
            raise InvalidInput("the parameters are not valid", errors=bad)
        start, end = as_utc(window.start), as_utc(window.end)
        if start >= end:
            raise InvalidInput("window: start must come before end")
        async with self.db.transaction() as s:
            offer = await s.scalar(select(Offer).where(Offer.id == offer_id, Offer.stage == "published"))
            if offer is None or offer.published_version is None:
                raise NotFound(f"offer {offer_id} not found among the published offers")
            version = await s.scalar(
                select(OfferVersion).where(
                    OfferVersion.offer_id == offer.id, OfferVersion.version == offer.published_version
                )
            )
            assert version is not None
            problems = instance_problems(jsonschema.Draft202012Validator(version.inputs), parameters)
            if problems:
                raise InvalidInput("the parameters do not fit the offer's inputs", errors=problems)
            if not open_for(calendar_of(version.calendar), Window(start, end)):
                raise InvalidInput("window: the offer's calendar is closed for part of it")
            busy = await s.scalar(
                select(func.count())
                .select_from(ServiceOrder)
                .where(
                    ServiceOrder.offer_id == offer.id,
                    ServiceOrder.status.in_(OCCUPYING),
                    ServiceOrder.window_start < end,
                    ServiceOrder.window_end > start,
                )
            )
            if (busy or 0) >= version.capacity:
                raise Conflict(
                    f"offer {offer_id} is fully booked in that window (capacity {version.capacity:g})"
                )
            order = ServiceOrder(
                org_id=caller.org_id,
                provider_org_id=offer.org_id,
                offer_id=offer.id,
                offer_version=version.version,
                status="requested",
                parameters=parameters,
                window_start=start,
                window_end=end,
                devices=list(version.devices),
                reason="",
                history=[],
                created_by=caller.user_id,
            )
            _stamp(order, "requested", "user")
            s.add(order)
            await s.flush()
        self._announce(order)
        return order

    async def move(self, caller: Principal, order_id: str, to: str, reason: str = "") -> ServiceOrder:
        """Provider: accept, reject, start, complete or fail an order; user: cancel it."""
        caller.require_scope(Scope.WRITE)
        if to not in STATUSES:
            raise InvalidInput(f"status: {to!r} is not one of {', '.join(STATUSES)}")
        if len(reason) > 2000:
            raise InvalidInput("reason: at most 2000 characters")
        async with self.db.transaction() as s:
            order = await self.locked(s, caller, order_id)
            if to not in TRANSITIONS[order.status]:
                raise Conflict(f"order {order_id} is {order.status}: it cannot become {to}")
            is_provider = order.provider_org_id == caller.org_id
            is_user = order.org_id == caller.org_id
            allowed = (PROVIDER_MOVES if is_provider else frozenset()) | (
                USER_MOVES if is_user else frozenset()
            )
            if to not in allowed:
                raise Conflict(f"the {'provider' if is_provider else 'user'} cannot make an order {to}")
            if to == "accepted":
                # capacity is checked again: other orders may have been accepted meanwhile; the offer's
                # row lock keeps two accepts of different orders from both counting the same free slot
                await s.scalar(select(Offer.id).where(Offer.id == order.offer_id).with_for_update())
                capacity = await s.scalar(
                    select(OfferVersion.capacity).where(
                        OfferVersion.offer_id == order.offer_id, OfferVersion.version == order.offer_version
                    )
                )
                busy = await s.scalar(
                    select(func.count())
                    .select_from(ServiceOrder)
                    .where(
                        ServiceOrder.offer_id == order.offer_id,
                        ServiceOrder.status.in_(OCCUPYING),
                        ServiceOrder.window_start < order.window_end,
                        ServiceOrder.window_end > order.window_start,
                    )
                )
                if capacity is not None and (busy or 0) >= capacity:
                    raise Conflict("the offer is fully booked in the order's window")
            settle(order, to, "provider" if to in PROVIDER_MOVES else "user", reason)
            await s.flush()
        self.changed(order)
        return order

    async def locked(self, s: AsyncSession, caller: Principal, order_id: str) -> ServiceOrder:
        """The order ``caller`` is a party to, row-locked in the transaction ``s``; 404 when none."""
        await _lock(s, ServiceOrder.id == order_id)
        order = await s.scalar(
            select(ServiceOrder).where(ServiceOrder.id == order_id, self.visible(caller)).with_for_update()
        )
        if order is None:
            raise NotFound(f"order {order_id} not found")
        return order

    def changed(self, order: ServiceOrder) -> None:
        """After an order's transaction: follow (or stop following) its twins and tell both parties."""
        self._follow(order)
        self._announce(order)

    # reads ---------------------------------------------------------------------------
    @staticmethod
    def visible(caller: Principal) -> ColumnElement[bool]:
        """Orders the caller is a party to: as the ordering or as the providing organisation."""
        return or_(ServiceOrder.org_id == caller.org_id, ServiceOrder.provider_org_id == caller.org_id)

    async def get(self, caller: Principal, order_id: str) -> ServiceOrder:
        """An order the caller is a party to."""
        async with self.db.transaction() as s:
            order = await s.scalar(
                select(ServiceOrder).where(ServiceOrder.id == order_id, self.visible(caller))
            )
        if order is None:
            raise NotFound(f"order {order_id} not found")
        return order

    async def list(
        self,
        caller: Principal,
        *,
        role: str | None = None,
        status: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[ServiceOrder], int]:
        """Orders the caller placed (``role="user"``), received (``"provider"``) or both, newest first."""
        if role == "user":
            where: ColumnElement[bool] = ServiceOrder.org_id == caller.org_id
        elif role == "provider":
            where = ServiceOrder.provider_org_id == caller.org_id
        elif role is None:
            where = self.visible(caller)
        else:
            raise InvalidInput("role: user or provider")
        conds = [where]
        if status is not None:
            if status not in STATUSES:
                raise InvalidInput(f"status: {status!r} is not one of {', '.join(STATUSES)}")
            conds.append(ServiceOrder.status == status)
        async with self.db.transaction() as s:
            total = await s.scalar(select(func.count()).select_from(ServiceOrder).where(*conds))
            rows = await s.scalars(
                select(ServiceOrder)
                .where(*conds)
                .order_by(ServiceOrder.created_at.desc(), ServiceOrder.id.desc())
                .offset(offset)
                .limit(limit)
            )
            return list(rows.all()), int(total or 0)

    async def live(self, caller: Principal, order_id: str) -> dict[str, Any]:
        """The order with its grounding devices' newest reported values (the order page's live part)."""
        order = await self.get(caller, order_id)
        latest = (
            await self.store.latest(Selection(order.provider_org_id, list(order.devices)))
            if order.devices
            else []
        )
        devices: dict[str, dict[str, Any]] = {d: {} for d in order.devices}
        for r in latest:
            devices.setdefault(r.device_id, {})[r.key] = {"value": r.value, "ts": r.ts.isoformat()}
        return {"order": order, "devices": devices}

    async def statistics(self) -> dict[str, int]:
        """Orders by status, platform-wide (the operator's view)."""
        async with self.db.transaction() as s:
            rows = (
                await s.execute(select(ServiceOrder.status, func.count()).group_by(ServiceOrder.status))
            ).all()
        return {k: int(v) for k, v in rows}


def window_of(start: datetime, end: datetime) -> Window:
    """A requested window from two aware times."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("window: times need a UTC offset")
    try:
        return Window(as_utc(start), as_utc(end))
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 lies past the last UTC date
        raise InvalidInput("window: a time is out of range in UTC") from None
