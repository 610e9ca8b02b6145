"""The demo region: each domain package that has a ``demo`` module seeds its part and feeds it live.

A domain's ``iplus.apps.<domain>.demo`` module provides

- ``async def seed(ctx: Context, tenants: DemoTenants) -> None``: create what the domain shows in the
  demo region (device types, devices, rules, offers, ...); it must be idempotent, because ``iplus up
  --demo`` calls it on every start;
- ``async def feed(ctx: Context, tenants: DemoTenants, stop: asyncio.Event) -> None``: keep the domain
  live (simulated devices sending readings, decisions acting on twins) until ``stop`` is set.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType

from iplus.apps.registry import domain_manifests
from iplus.platform.context import Context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoTenants:
    """The organisations of the demo region: the platform operator's, a provider's and a user's."""

    operator_org_id: str
    provider_org_id: str
    user_org_id: str


def demo_modules() -> list[ModuleType]:
    """Every domain's ``demo`` module, in domain order (domains without one are skipped)."""
    found = []
    for manifest in domain_manifests():
        try:
            found.append(importlib.import_module(f"{manifest.package}.demo"))
        except ModuleNotFoundError as exc:
            if exc.name != f"{manifest.package}.demo":
                raise  # the demo module exists but imports something missing: a real error
    return found


async def seed_demo(ctx: Context, tenants: DemoTenants) -> None:
    """Seed every domain's part of the demo region."""
    for module in demo_modules():
        seed: Callable[[Context, DemoTenants], Awaitable[None]] = module.seed
        await seed(ctx, tenants)


def start_demo(ctx: Context, tenants: DemoTenants, stop: asyncio.Event) -> list[asyncio.Task[None]]:
    """Start every domain's live feed; each runs until ``stop`` is set, a failing one is logged."""

    async def guarded(name: str, feed: Callable[..., Awaitable[None]]) -> None:
        try:
            await feed(ctx, tenants, stop)
        except asyncio.CancelledError:
            raise
        except Exception:  # one domain's feed failing must not stop the platform or the others
            log.exception("the demo feed of %s stopped", name)

    return [
        asyncio.create_task(guarded(m.__name__, m.feed), name=f"demo-{m.__name__}")
        for m in demo_modules()
        if hasattr(m, "feed")
    ]
