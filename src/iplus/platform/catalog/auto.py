"""Orders fulfilled by the platform itself: accept, compute, attach the deliverable, complete.

A domain gives an ``AutoFulfilment`` the offers it serves (capability types and a predicate on the offer
version) and an async compute function (order, offer version) -> deliverable. The helper notices new orders
of those offers on the event bus (order events of each organisation that provides one) and in a periodic
sweep of the store (so an order placed while no process ran, or on another process, is served after a
start). Each order is claimed by its status transition: of two processes that try to accept (or start) the
same order, exactly one wins and the other gets 409 and moves on. A compute function that raises
``ServiceFailed`` (or ``InvalidInput``) fails the order with the reason; attaching the deliverable and
completing the order happen in one transaction. An order left in progress by a process that stopped
mid-way is taken over after ``stale_s``. A computation that takes longer than ``timeout_s`` fails the order
(a hung data source must not hold the sweep, nor leave the order in progress). An order still waiting
(``requested``) when its offer has been suspended or retired is rejected with that reason: the offer no
longer takes orders; an order already accepted is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import select, update

from iplus.core.clock import utcnow
from iplus.core.errors import Conflict, InvalidInput, IplusError, NotFound
from iplus.core.roles import Role, Scope
from iplus.infra.bus import Subscription
from iplus.infra.db.models_catalog import Offer, OfferVersion, ServiceOrder
from iplus.platform.catalog.orders import Orders
from iplus.security.principal import Principal

log = logging.getLogger(__name__)
Compute = Callable[[ServiceOrder, OfferVersion], Awaitable[dict[str, Any]]]
OPEN = ("requested", "accepted", "in_progress")


C = TypeVar("C")


class ServiceFailed(IplusError):
    """The service cannot deliver this order (e.g. no data for the day asked); the order fails with it."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one order: ``completed``, ``failed``, ``rejected`` or ``skipped`` (not ours now)."""

    order_id: str
    status: str
    reason: str = ""


def provider_of(org_id: str) -> Principal:
    """The platform acting for the providing organisation (it accepts and completes its orders)."""
    return Principal(
        org_id=org_id, roles=frozenset({Role.PROVIDER}), scopes=frozenset({Scope.READ, Scope.WRITE})
    )


class AutoFulfilment:
    """Serve every order of some offers automatically, on events and on a periodic sweep."""

    def __init__(
        self,
        orders: Orders,
        name: str,
        types: Iterable[str],
        matches: Callable[[OfferVersion], bool],
        compute: Compute,
        *,
        sweep_s: float = 30.0,
        stale_s: float = 600.0,
        timeout_s: float = 120.0,
    ) -> None:
        self.orders = orders
        self.name = name
        self.types = tuple(types)
        self.matches = matches
        self.compute = compute
        self.sweep_s = sweep_s
        self.stale_s = stale_s
        # shorter than stale_s, so no other process takes an order over while it is still computed here
        self.timeout_s = min(timeout_s, stale_s / 2)
        self._wake = asyncio.Event()
        self._subs: dict[str, Subscription] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.Task[None] | None = None
        self._running = False
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        """Whether the service runs (follows the providers and sweeps)."""
        return self._running

    async def start(self) -> None:
        """Serve what is waiting, then follow order events and sweep every ``sweep_s`` (idempotent)."""
        if self._running:
            return
        self._running = True
        # follow the providers first, then sweep: an order placed before the subscription is found by the
        # first sweep, one placed after it wakes the loop; the other way round, one placed between the
        # sweep's query and the subscription would wait a whole period
        try:
            await self._listen_to_providers()
        except Exception:  # the store may be starting: the sweeps still find every order
            log.exception("auto-fulfilment %s: cannot follow the providers yet", self.name)
        self._loop = asyncio.create_task(self._run(), name=f"iplus-auto-{self.name}")

    async def stop(self) -> None:
        """Stop following orders (an order being computed is finished by the next start)."""
        tasks = [t for t in (self._loop, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sub in self._subs.values():
            self.orders.bus.unsubscribe(sub)
        self._subs.clear()
        self._tasks.clear()
        self._loop = None
        self._running = False

    def wake(self) -> None:
        """Sweep now instead of at the next period."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.sweep()
            except Exception:  # the store may be restarting: try again at the next round
                log.exception("auto-fulfilment %s: sweep failed", self.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.sweep_s)

    def _listen(self, org_id: str) -> None:
        """Follow the order events of a providing organisation."""
        if org_id in self._subs or not self._running:
            return
        sub = self._subs[org_id] = self.orders.bus.subscribe(org_id)

        async def follow() -> None:
            async for event in sub.events():
                if event.get("type") == "order" and event.get("status") == "requested":
                    self._wake.set()

        self._tasks.append(asyncio.create_task(follow(), name=f"iplus-auto-{self.name}-{org_id}"))

    def _serves(self, version: OfferVersion) -> bool:
        try:
            return bool(self.matches(version))
        except Exception:  # one odd offer version must not stop the service of every other order
            log.exception(
                "auto-fulfilment %s: cannot tell whether it serves offer %s", self.name, version.offer_id
            )
            return False

    async def pending(self) -> list[tuple[ServiceOrder, OfferVersion]]:
        """Open orders of the served offers that need this service: new, accepted, or stale in progress."""
        return [(order, version) for order, version, _ in await self._pending()]

    async def _pending(self) -> list[tuple[ServiceOrder, OfferVersion, str]]:
        stale = utcnow() - timedelta(seconds=self.stale_s)
        async with self.orders.db.transaction() as s:
            rows = await s.execute(
                select(ServiceOrder, OfferVersion, Offer.stage)
                .join(
                    OfferVersion,
                    (OfferVersion.offer_id == ServiceOrder.offer_id)
                    & (OfferVersion.version == ServiceOrder.offer_version),
                )
                .join(Offer, Offer.id == ServiceOrder.offer_id)
                .where(ServiceOrder.status.in_(OPEN), OfferVersion.capability_type.in_(self.types))
                .order_by(ServiceOrder.created_at, ServiceOrder.id)
            )
            found = []
            for order, version, stage in rows.all():
                if not self._serves(version):
                    continue
                if order.status == "in_progress" and order.updated_at > stale:
                    continue  # someone is computing it now
                found.append((order, version, stage))
        return found

    async def sweep(self) -> list[Outcome]:
        """Serve every pending order once; returns what happened to each."""
        async with self._lock:  # one sweep at a time in this process
            outcomes = []
            for order, version, stage in await self._pending():
                self._listen(order.provider_org_id)
                if order.status == "requested" and stage != "published":
                    outcomes.append(await self._reject(order, stage))
                else:
                    outcomes.append(await self.fulfil(order, version))
            if not outcomes:
                await self._listen_to_providers()
            return outcomes

    async def _listen_to_providers(self) -> None:
        """Follow the organisations that publish a served offer, so their next order wakes us."""
        if not self._running:
            return
        async with self.orders.db.transaction() as s:
            rows = await s.execute(
                select(OfferVersion).where(
                    OfferVersion.listed.is_(True), OfferVersion.capability_type.in_(self.types)
                )
            )
            orgs = {v.org_id for (v,) in rows.all() if self.matches(v)}
        for org_id in orgs:
            self._listen(org_id)

    async def _claim(self, order: ServiceOrder) -> bool:
        """Take the order by its transition; False when another process took it first."""
        provider = provider_of(order.provider_org_id)
        try:
            if order.status == "requested":
                await self.orders.move(provider, order.id, "accepted", f"accepted by {self.name}")
                await self.orders.move(provider, order.id, "in_progress", f"{self.name} is computing")
            elif order.status == "accepted":
                await self.orders.move(provider, order.id, "in_progress", f"{self.name} is computing")
            else:
                return await self._take_over(order)
        except (Conflict, NotFound):
            return False
        return True

    async def _take_over(self, order: ServiceOrder) -> bool:
        """Claim a stale order in progress: only the process whose update still sees the old stamp wins."""
        async with self.orders.db.transaction() as s:
            result = await s.execute(
                update(ServiceOrder)
                .where(
                    ServiceOrder.id == order.id,
                    ServiceOrder.status == "in_progress",
                    ServiceOrder.updated_at == order.updated_at,
                )
                .values(updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        return bool(getattr(result, "rowcount", 0))

    async def _reject(self, order: ServiceOrder, stage: str) -> Outcome:
        """Turn down a waiting order of an offer that no longer takes orders."""
        reason = f"the offer is {stage}: it takes no orders"
        try:
            await self.orders.move(provider_of(order.provider_org_id), order.id, "rejected", reason)
        except (Conflict, NotFound):
            return Outcome(order.id, "skipped")  # cancelled, or decided by another process
        return Outcome(order.id, "rejected", reason)

    async def fulfil(self, order: ServiceOrder, version: OfferVersion) -> Outcome:
        """Claim, compute and deliver one order (or fail it with the reason)."""
        if not await self._claim(order):
            return Outcome(order.id, "skipped")
        provider = provider_of(order.provider_org_id)
        try:
            doc = await asyncio.wait_for(self.compute(order, version), timeout=self.timeout_s)
        except TimeoutError:
            log.warning("auto-fulfilment %s: order %s took over %g s", self.name, order.id, self.timeout_s)
            reason = f"the service took longer than {self.timeout_s:g} s to compute the deliverable"
            return await self._fail(provider, order.id, reason, None)
        except (ServiceFailed, InvalidInput) as exc:
            return await self._fail(provider, order.id, exc.detail, exc.extra.get("errors"))
        except Exception:
            log.exception("auto-fulfilment %s: order %s failed", self.name, order.id)
            return await self._fail(provider, order.id, "the service could not compute the deliverable", None)
        try:
            await self.orders.deliverables.attach(
                provider, order.id, doc, complete=True, reason=f"delivered by {self.name}"
            )
        except InvalidInput as exc:  # the computed document itself cannot be stored
            return await self._fail(provider, order.id, exc.detail, exc.extra.get("errors"))
        except (Conflict, NotFound):
            return Outcome(order.id, "skipped")  # cancelled by the user meanwhile
        return Outcome(order.id, "completed")

    async def _fail(self, provider: Principal, order_id: str, detail: str, errors: Any) -> Outcome:
        reason = detail + (": " + "; ".join(str(e) for e in errors) if errors else "")
        try:
            await self.orders.move(provider, order_id, "failed", reason[:2000])
        except (Conflict, NotFound):
            return Outcome(order_id, "skipped")
        return Outcome(order_id, "failed", reason[:2000])


class PerPlatform(Generic[C]):
    """One auto-fulfilment per running platform (its context), made on first use and forgotten on stop.

    A domain's service module keeps one of these: the platform may run more than once in a process (tests,
    a restart), and each run gets a fulfilment bound to its own context.
    """

    def __init__(self, make: Callable[[C], AutoFulfilment]) -> None:
        self._make = make
        # keyed by id(), with the object kept to tell a new context from a dead one's recycled id
        self._made: dict[int, tuple[C, AutoFulfilment]] = {}

    def of(self, ctx: C) -> AutoFulfilment:
        """The fulfilment of ``ctx``, made now if it has none."""
        found = self._made.get(id(ctx))
        if found is None or found[0] is not ctx:
            found = self._made[id(ctx)] = (ctx, self._make(ctx))
        return found[1]

    async def stop(self, ctx: C) -> None:
        """Stop the fulfilment of ``ctx``, if it has one, and forget it."""
        found = self._made.pop(id(ctx), None)
        if found is not None and found[0] is ctx:
            await found[1].stop()
