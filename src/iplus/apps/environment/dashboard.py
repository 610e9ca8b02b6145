"""What the monitoring-network dashboard shows, read from the platform: devices, readings, twins, alarms.

Everything here is the organisation's own state: the devices of the domain's three types with their places,
the newest reading of each property (with the indices the platform computed), each stack's permit from its
twin, and the alarms on those devices. The portal renders it; the API returns it as JSON.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iplus.apps.environment.aqi_cn import CATEGORIES
from iplus.apps.environment.models import AIR_STATION, EMISSION_MONITOR, LIMITED, WATER_STATION
from iplus.apps.environment.network import DAY_S, HOUR_S
from iplus.apps.environment.rules import PERMIT_PREFIX
from iplus.apps.environment.water import CLASSES
from iplus.core.clock import utcnow
from iplus.core.errors import NotFound
from iplus.engines.stream.alarms import AlarmFilter
from iplus.infra.db.models import Device
from iplus.infra.telemetry import Reading, Selection
from iplus.platform.context import Context
from iplus.security.principal import Principal

ONLINE_WITHIN = dt.timedelta(minutes=5)
MAX_DEVICES = 1000
RECENT_ALARMS = 10
SERIES_DAYS = 7
LEVELS: dict[int, dict[str, str | None]] = {
    level: {"category": zh, "category_en": en, "colour": colour} for _, level, zh, en, colour in CATEGORIES
}


@dataclass(frozen=True)
class Latest:
    """A device's newest value per key, and when it was last heard."""

    values: dict[str, Any]
    at: dict[str, str]
    seen: dt.datetime | None


def _latest(readings: list[Reading]) -> dict[str, Latest]:
    values: dict[str, dict[str, Any]] = defaultdict(dict)
    at: dict[str, dict[str, str]] = defaultdict(dict)
    seen: dict[str, dt.datetime] = {}
    for r in readings:
        values[r.device_id][r.key] = r.value
        at[r.device_id][r.key] = r.ts.isoformat()
        if r.device_id not in seen or r.ts > seen[r.device_id]:
            seen[r.device_id] = r.ts
    return {d: Latest(values[d], at[d], seen.get(d)) for d in values}


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _place(device: Device, bounds: tuple[float, float, float, float] | None) -> dict[str, Any]:
    """Where the device sits on the network's map grid, in percent of the grid (None without a place)."""
    if device.latitude is None or device.longitude is None or bounds is None:
        return {"x": None, "y": None}
    lat_lo, lat_hi, lon_lo, lon_hi = bounds
    pad = 0.08  # keep the markers off the grid's edges
    x = pad + (1 - 2 * pad) * ((device.longitude - lon_lo) / (lon_hi - lon_lo) if lon_hi > lon_lo else 0.5)
    y = pad + (1 - 2 * pad) * ((lat_hi - device.latitude) / (lat_hi - lat_lo) if lat_hi > lat_lo else 0.5)
    return {"x": round(100 * x, 2), "y": round(100 * y, 2)}


def _bounds(devices: list[Device]) -> tuple[float, float, float, float] | None:
    placed = [d for d in devices if d.latitude is not None and d.longitude is not None]
    if not placed:
        return None
    lats = [float(d.latitude) for d in placed if d.latitude is not None]
    lons = [float(d.longitude) for d in placed if d.longitude is not None]
    return min(lats), max(lats), min(lons), max(lons)


def _base(
    device: Device, latest: Latest | None, now: dt.datetime, bounds: Any, alarms: list[Any]
) -> dict[str, Any]:
    seen = latest.seen if latest else None
    return {
        "id": device.id,
        "name": device.name,
        "latitude": device.latitude,
        "longitude": device.longitude,
        **_place(device, bounds),
        "seen": seen.isoformat() if seen else None,
        "online": seen is not None and now - seen <= ONLINE_WITHIN,
        "alarms": len(alarms),
        "worst": alarms[0]["severity"] if alarms else None,
    }


def _air(device: Device, latest: Latest | None, base: dict[str, Any]) -> dict[str, Any]:
    values = latest.values if latest else {}
    at = latest.at if latest else {}
    level = _int(values.get("aqi_level"))
    daily_level = _int(values.get("aqi_daily_level"))
    return base | {
        "kind": "air",
        "aqi": _int(values.get("aqi")),
        "aqi_at": at.get("aqi"),
        "level": level,
        **(LEVELS.get(level or 0) or {"category": None, "category_en": None, "colour": None}),
        "primary": values.get("aqi_primary") or "",
        "aqi_daily": _int(values.get("aqi_daily")),
        "aqi_daily_at": at.get("aqi_daily"),
        "daily_colour": (LEVELS.get(daily_level or 0) or {}).get("colour"),
        "daily_primary": values.get("aqi_daily_primary") or "",
        "readings": {k: values.get(k) for k in ("pm2_5", "pm10", "so2", "no2", "co", "o3")},
    }


def _water(device: Device, latest: Latest | None, base: dict[str, Any]) -> dict[str, Any]:
    values = latest.values if latest else {}
    at = latest.at if latest else {}
    keys = ("water_temperature", "ph", "dissolved_oxygen", "permanganate_index", "ammonia_nitrogen")
    return base | {
        "kind": "water",
        "class": values.get("water_class"),
        "class_number": _int(values.get("water_class_number")),
        "class_at": at.get("water_class"),
        "readings": {k: values.get(k) for k in (*keys, "total_phosphorus", "total_nitrogen")},
    }


def _emitter(
    device: Device, latest: Latest | None, desired: Mapping[str, Any], base: dict[str, Any]
) -> dict[str, Any]:
    values = latest.values if latest else {}
    pollutants = []
    for key, limit_key in LIMITED:
        value, limit = values.get(key), desired.get(limit_key)
        ok = isinstance(value, float) and isinstance(limit, int | float) and limit > 0
        pollutants.append(
            {
                "key": key,
                "value": value,
                "limit": limit,
                "percent": round(100 * float(value) / float(limit)) if ok else None,  # type: ignore[arg-type]
                "exceeding": bool(ok and float(value) > float(limit)),  # type: ignore[arg-type]
            }
        )
    return base | {
        "kind": "emitter",
        "pollutants": pollutants,
        "hold_s": desired.get("limit_hold_s"),
        "flow": values.get("flow"),
        "o2": values.get("o2"),
    }


async def network_view(ctx: Context, caller: Principal) -> dict[str, Any]:
    """The organisation's monitoring network now: stations, stacks, alarms and the map grid."""
    types = {t.name: t for t in await ctx.registry.list_types(caller)}
    devices: dict[str, list[Device]] = {}
    for kind in (AIR_STATION, WATER_STATION, EMISSION_MONITOR):
        found = types.get(kind.name)
        devices[kind.name] = (
            await ctx.registry.list_devices(caller, type_id=found.id, limit=MAX_DEVICES) if found else []
        )
    everyone = [d for group in devices.values() for d in group]
    ids = {d.id for d in everyone}
    names = {d.id: d.name for d in everyone}
    latest = _latest(await ctx.telemetry.latest(Selection(caller.org_id, sorted(ids)))) if ids else {}
    active, _ = await ctx.rules.alarms(caller, AlarmFilter(status="active"), limit=500)
    active = [a | {"name": names[a["subject"]]} for a in active if a["subject"] in ids]
    recent, _ = await ctx.rules.alarms(caller, AlarmFilter(), limit=200)
    recent = [a | {"name": names[a["subject"]]} for a in recent if a["subject"] in ids][:RECENT_ALARMS]
    by_device: dict[str, list[Any]] = defaultdict(list)
    order = {"critical": 0, "major": 1, "minor": 2, "warning": 3, "indeterminate": 4}
    for a in sorted(active, key=lambda a: order.get(a["severity"], 5)):
        by_device[a["subject"]].append(a)
    now, bounds = utcnow(), _bounds(everyone)

    def base(d: Device) -> dict[str, Any]:
        return _base(d, latest.get(d.id), now, bounds, by_device.get(d.id, []))

    emitters = []
    for d in devices[EMISSION_MONITOR.name]:
        desired = (await ctx.twins.state(caller, d.id))["desired"]
        emitters.append(_emitter(d, latest.get(d.id), desired, base(d)))
    return {
        "generated_at": now.isoformat(),
        "air": [_air(d, latest.get(d.id), base(d)) for d in devices[AIR_STATION.name]],
        "water": [_water(d, latest.get(d.id), base(d)) for d in devices[WATER_STATION.name]],
        "emitters": emitters,
        "alarms": active,
        "permit_alarms": sum(1 for a in active if a["rule"].startswith(PERMIT_PREFIX)),
        "recent_alarms": recent,
        "water_classes": list(CLASSES),
    }


async def station_series(
    ctx: Context, caller: Principal, device_id: str, days: int = SERIES_DAYS
) -> dict[str, Any]:
    """Hourly PM2.5 means and hourly AQI of an air station over the last ``days``, both at the hour's end."""
    device = await ctx.registry.get_device(caller, device_id)
    kind = await ctx.registry.get_type(caller, device.type_id)
    if kind.name != AIR_STATION.name:
        raise NotFound(f"{device_id} is not an air quality station")
    now = int(utcnow().timestamp())
    end = now - now % HOUR_S + HOUR_S
    start = end - days * DAY_S
    rows = await ctx.telemetry.aggregate(
        Selection(
            caller.org_id,
            [device.id],
            ["pm2_5", "aqi"],
            dt.datetime.fromtimestamp(start, dt.UTC),
            dt.datetime.fromtimestamp(end, dt.UTC),
        ),
        bucket_seconds=HOUR_S,
        aggregates=["avg"],
    )
    pm: dict[int, float] = {}
    aqi: dict[int, float] = {}
    for row in rows:
        value = row.values.get("avg")
        if not isinstance(value, int | float):
            continue
        t = int(row.bucket.timestamp())
        if row.key == "pm2_5":
            pm[t + HOUR_S] = round(float(value), 1)  # the hour's mean, shown at the hour's end like its AQI
        else:
            aqi[t] = float(value)  # the AQI is stamped at the end of the hour it covers
    times = sorted(set(pm) | set(aqi))
    return {
        "device_id": device.id,
        "name": device.name,
        "t": times,
        "pm2_5": [pm.get(t) for t in times],
        "aqi": [aqi.get(t) for t in times],
    }
