"""A started platform (embedded broker on a free port) with a provider organisation, and farm builders."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from iplus.access.codec import decode_values
from iplus.access.registry import DeviceSpec
from iplus.api.routes import domain_agriculture as api_routes
from iplus.app import build_asgi, build_context
from iplus.apps.agriculture.fields import FieldParams
from iplus.apps.agriculture.models import IRRIGATION_VALVE, SOIL_PROBE, THING_MODELS, TRACTOR, WEATHER_STATION
from iplus.apps.agriculture.service import Agriculture, agriculture
from iplus.apps.agriculture.valve_device import serve_valve
from iplus.config import Settings
from iplus.core.roles import Role, Scope
from iplus.infra.db.migrate import upgrade
from iplus.infra.telemetry import Message, to_us
from iplus.platform.context import Context
from iplus.security.principal import Principal

LOCAL = timezone(timedelta(hours=1))
# FAO-56 Example 18 (Brussels, 6 July): the weather of the day as a station's 24 hours would give it
EXAMPLE_18 = {
    "t_max": 21.5,
    "t_min": 12.3,
    "rh_max": 84.0,
    "rh_min": 63.0,
    "wind_10m": 10 / 3.6,
    "rs": 22.07,
}  # wind 10 km/h at 10 m
BRUSSELS = (50.8, 4.35, 100.0)  # 50°48'N, altitude 100 m


@dataclass
class Farmland:
    """A started platform, the provider acting, and the devices' tokens."""

    ctx: Context
    p: Principal
    agri: Agriculture
    tokens: dict[str, str] = field(default_factory=dict)

    async def write(self, device_id: str, values: dict[str, Any], ts: datetime) -> None:
        identity = await self.ctx.registry.owned(self.p.org_id, device_id)
        decoded = decode_values(values, identity.properties, None, None, to_us(ts))
        assert not decoded.reasons, decoded.reasons
        await self.ctx.ingestor.write(
            [Message(self.p.org_id, identity.type_id, device_id, None, decoded.readings)]
        )


async def started(tmp_path: Path) -> Context:
    ctx = build_context(Settings(var_dir=tmp_path / "var", broker_url="embedded://127.0.0.1:0"))
    await upgrade(ctx.db)
    await ctx.start()
    return ctx


@pytest.fixture
async def land(tmp_path: Path) -> AsyncIterator[Farmland]:
    ctx = await started(tmp_path)
    org = await ctx.accounts.create_organisation("Farm Co", ["provider"])
    p = Principal(
        org_id=org.id, roles=frozenset({Role.PROVIDER}), scopes=frozenset({Scope.READ, Scope.WRITE})
    )
    try:
        yield Farmland(ctx, p, agriculture(ctx))
    finally:
        await ctx.stop()


def api_client(ctx: Context) -> httpx.AsyncClient:
    """An in-process client of the whole app, with the agriculture API included if the app lacks it."""
    app = build_asgi(ctx)
    if not any(getattr(r, "path", "") == "/api/v1/agriculture/fields" for r in app.routes):
        app.include_router(api_routes.router, prefix="/api/v1")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def device_types(land: Farmland) -> None:
    for name, model in THING_MODELS.items():
        await land.ctx.registry.create_type(land.p, name, model)


async def make_farm(
    land: Farmland,
    params: FieldParams,
    *,
    site: tuple[float, float, float] = BRUSSELS,
    probe: bool = True,
    valve: bool = True,
    station: bool = True,
) -> tuple[str, str]:
    """Device types, devices, a farm and one field on them; returns (farm id, field id)."""
    await device_types(land)
    specs = [DeviceSpec(TRACTOR, "Tractor", "tractor-1")]
    if station:
        specs.append(DeviceSpec(WEATHER_STATION, "Station", "station-1"))
    if probe:
        specs.append(DeviceSpec(SOIL_PROBE, "Probe", "probe-1"))
    if valve:
        specs.append(DeviceSpec(IRRIGATION_VALVE, "Valve", "valve-1"))
    for device, token in await land.ctx.registry.create_devices(land.p, specs):
        land.tokens[device.id] = token
    farm = await land.agri.create_farm(
        land.p,
        title="Test farm",
        latitude=site[0],
        longitude=site[1],
        altitude=site[2],
        station_id="station-1" if station else None,
        machinery=("tractor-1",),
    )
    thing = await land.agri.create_field(
        land.p,
        title="Plot A",
        farm_id=farm.id,
        parameters=params.attributes(),
        probe_id="probe-1" if probe else None,
        valve_id="valve-1" if valve else None,
        area_ha=2.0,
    )
    return farm.id, thing.id


def example_18_hours() -> list[dict[str, float]]:
    """24 hours whose daily aggregates are those of FAO-56 Example 18 (Rs given as 22.07 MJ m-2 day-1)."""
    e = EXAMPLE_18
    ghi = e["rs"] / 0.0864  # a mean irradiance of this many W m-2 over the day
    hours = []
    for h in range(24):
        warm = h in (13, 14, 15)
        cold = h in (4, 5)
        hours.append(
            {
                "t_air": e["t_max"] if warm else e["t_min"] if cold else 16.0,
                "rh": e["rh_min"] if warm else e["rh_max"] if cold else 75.0,
                "wind_speed": e["wind_10m"],
                "solar_radiation": ghi,
                "rain": 0.0,
            }
        )
    return hours


async def station_day(
    land: Farmland,
    day: date,
    hours: list[dict[str, float]],
    first_ts: datetime,
    station: str = "station-1",
) -> list[datetime]:
    """Store a day of hourly observations, arriving one minute apart from ``first_ts``; returns their times."""
    stamps = []
    for h, values in enumerate(hours):
        observed = datetime(day.year, day.month, day.day, h, tzinfo=LOCAL)
        ts = first_ts + timedelta(minutes=h)
        await land.write(station, {**values, "observed": observed.isoformat()}, ts)
        stamps.append(ts)
    return stamps


@contextlib.asynccontextmanager
async def valve_on_the_wire(
    land: Farmland, handle: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]], device: str = "valve-1"
) -> AsyncIterator[None]:
    """The valve's controller connected to the platform's broker, answering with ``handle``."""
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve_valve(lambda: land.ctx.broker.address, device, land.tokens[device], handle, stop, ready)
    )
    await asyncio.wait_for(ready.wait(), 10)
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Wait until ``check`` holds."""
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not so after {seconds} s")


T0 = datetime(2026, 7, 6, 6, tzinfo=UTC)
DAY_0 = date(2026, 7, 6)  # J = 187, the day of Example 18
