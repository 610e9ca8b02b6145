"""Domain services that live as long as the platform: each domain's ``service`` module may start and stop.

A domain whose application must follow the platform while it runs (an ingest listener scoring readings,
a periodic decision) gives its ``iplus.apps.<domain>.service`` module ``async def start(ctx)`` and
``async def stop(ctx)``; ``iplus up`` starts them after the platform and stops them before it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from iplus.apps.registry import domain_manifests
from iplus.platform.context import Context


def domain_services() -> list[ModuleType]:
    """Every domain's ``service`` module that has both ``start`` and ``stop``, in domain order."""
    found = []
    for manifest in domain_manifests():
        try:
            module = importlib.import_module(f"{manifest.package}.service")
        except ModuleNotFoundError as exc:
            if exc.name != f"{manifest.package}.service":
                raise
            continue
        if hasattr(module, "start") and hasattr(module, "stop"):
            found.append(module)
    return found


async def start_domains(ctx: Context) -> None:
    """Start every domain service (each start must be idempotent)."""
    for module in domain_services():
        await module.start(ctx)


async def stop_domains(ctx: Context) -> None:
    """Stop every domain service, the last started first."""
    for module in reversed(domain_services()):
        await module.stop(ctx)
