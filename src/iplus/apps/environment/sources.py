"""Pollution sources and stations on the platform: device types, devices, permits as shared attributes, rules.

A stack's permit limits are the desired half of its CEMS's twin (like ThingsBoard's shared attributes): the
platform holds them, the device can read them, and one threshold rule per limited pollutant, generated from
them, raises the exceedance alarm. Changing a permit rewrites those rules at once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iplus.access.registry import DeviceSpec
from iplus.apps.environment.models import EMISSION_MONITOR, KINDS, LIMITED, DeviceKind
from iplus.apps.environment.network import Permit
from iplus.apps.environment.rules import permit_rules
from iplus.core.errors import Conflict, InvalidInput
from iplus.core.roles import Scope
from iplus.infra.db.models import Device, DeviceType
from iplus.platform.context import Context
from iplus.security.principal import Principal

MAX_LIMIT = 10_000.0  # mg/m³: the thing model's range of a stack concentration
MAX_HOLD_S = 86_400.0


def acting_for(org_id: str) -> Principal:
    """The domain acting inside one organisation (the demo seed and feed), with read and write scopes."""
    return Principal(org_id=org_id, roles=frozenset(), scopes=frozenset({Scope.READ, Scope.WRITE}))


async def ensure_types(
    ctx: Context, caller: Principal, kinds: tuple[DeviceKind, ...] = KINDS
) -> dict[str, DeviceType]:
    """The organisation's device types of the domain by name, registering the missing ones."""
    have = {t.name: t for t in await ctx.registry.list_types(caller)}
    for kind in kinds:
        if kind.name not in have:
            try:
                have[kind.name] = await ctx.registry.create_type(caller, kind.name, kind.thing_model())
            except Conflict:  # registered meanwhile (two starts at once): use that one
                have = {t.name: t for t in await ctx.registry.list_types(caller)}
    return have


def check_permit(values: Mapping[str, Any]) -> Permit:
    """A permit from ``{so2_limit, nox_limit, dust_limit, limit_hold_s}``; every problem with its path."""
    problems: list[str] = []
    found: dict[str, float] = {}
    for key in [limit for _, limit in LIMITED] + ["limit_hold_s"]:
        raw = values.get(key)
        top = MAX_HOLD_S if key == "limit_hold_s" else MAX_LIMIT
        if isinstance(raw, str):
            try:
                raw = float(raw) if raw.strip() else None
            except ValueError:
                problems.append(f"/{key}: {raw!r} is not a number")
                continue
        if raw is None and key == "limit_hold_s":
            found[key] = 60.0
        elif isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            problems.append(f"/{key}: a number is required")
        elif key != "limit_hold_s" and not 0 < raw <= top:
            problems.append(f"/{key}: a limit is above 0 and at most {top:g} mg/m3")
        elif key == "limit_hold_s" and not 0 <= raw <= top:
            problems.append(f"/{key}: the hold time is 0 to {top:g} s")
        else:
            found[key] = float(raw)
    if problems:
        raise InvalidInput("the permit is not valid", errors=problems)
    return Permit(found["so2_limit"], found["nox_limit"], found["dust_limit"], found["limit_hold_s"])


async def set_permit(ctx: Context, caller: Principal, device: Device, permit: Permit) -> list[dict[str, Any]]:
    """Store a stack's permit as its shared attributes and (re)write its exceedance rules."""
    kind = await ctx.registry.get_type(caller, device.type_id)
    if kind.name != EMISSION_MONITOR.name:
        raise InvalidInput(f"{device.id} is not an emission monitor (its type is {kind.name})")
    attributes = permit.as_attributes()
    await ctx.twins.set_desired(caller, device.id, dict(attributes))
    document = {"rules": permit_rules(device.id, device.name, attributes)}
    return await ctx.rules.apply(caller, json.dumps(document), "application/json")


async def permit_of(ctx: Context, caller: Principal, device_id: str) -> dict[str, float]:
    """A stack's permit attributes as stored (empty when none is set)."""
    desired = (await ctx.twins.state(caller, device_id))["desired"]
    keys = {limit for _, limit in LIMITED} | {"limit_hold_s"}
    return {k: float(v) for k, v in desired.items() if k in keys and isinstance(v, int | float)}


@dataclass(frozen=True)
class NewSource:
    """A pollution source to register: its stack's CEMS as a device, with place and permit."""

    name: str
    latitude: float
    longitude: float
    permit: Permit
    id: str | None = None
    tags: tuple[str, ...] = ("environment", "emission")


async def add_source(
    ctx: Context, caller: Principal, source: NewSource
) -> tuple[Device, str, list[dict[str, Any]]]:
    """Register a stack's CEMS with its permit: the device, its token (shown once) and its rules."""
    caller.require_scope(Scope.WRITE)
    if not source.name.strip():
        raise InvalidInput("a pollution source needs a name", errors=["/name: required"])
    types = await ensure_types(ctx, caller, (EMISSION_MONITOR,))
    spec = DeviceSpec(
        type_ref=types[EMISSION_MONITOR.name].id,
        name=source.name.strip(),
        id=source.id or None,
        tags=source.tags,
        latitude=source.latitude,
        longitude=source.longitude,
    )
    [(device, token)] = await ctx.registry.create_devices(caller, [spec])
    rules = await set_permit(ctx, caller, device, source.permit)
    return device, token, rules
