"""The monitoring network's services in the catalog: a day's air quality report and water quality assessment.

Both are computed from the station's stored hourly means the way the hourly assessment does (``indices``
builds the inputs, the registered algorithms compute): the air report's daily AQI, IAQI per pollutant and
primary pollutant come from ``environment.aqi_cn`` (the HJ 633 edition in force on the date) or, for
``standard: us``, from ``environment.aqi_us_epa`` on the day's US metrics (gases converted to ppm/ppb at
25 °C and 1 atm, as the EPA reports them); its hourly series is the real-time AQI of each hour. The water
assessment classes the day's mean of each parameter (and each hour) with ``environment.water_class_gb3838``.
A day is the station's local day (China Standard Time). A day with too little data fails the order.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from statistics import fmean
from typing import Any

from sqlalchemy import select

from iplus.apps.environment import indices
from iplus.apps.environment.assess import AIR_KEYS, AQI_ALGORITHM, WATER_ALGORITHM, hourly_means
from iplus.apps.environment.models import AIR_STATION, WATER_STATION, DeviceKind
from iplus.apps.environment.network import AIR_STATIONS, DAY_S, HOUR_S, WATER_STATIONS, WaterStation
from iplus.apps.environment.water import BY_KEY as WATER_BY_KEY
from iplus.core.clock import utcnow
from iplus.core.errors import InvalidInput
from iplus.infra.db.models import Device, DeviceType
from iplus.infra.db.models_catalog import OfferVersion, ServiceOrder
from iplus.platform.catalog.auto import ServiceFailed
from iplus.platform.context import Context

MARK = "x-iplus-service"  # the offer's outputs schema names the service that fulfils its orders
AIR_SERVICE = "environment.air_quality_report"
WATER_SERVICE = "environment.water_quality_assessment"
AIR_TYPE = "air_monitoring"
WATER_TYPE = "water_monitoring"
US_ALGORITHM = "environment.aqi_us_epa"
NOWCAST_ALGORITHM = "environment.nowcast_epa"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
# molar masses (g/mol) and the molar volume at 25 °C, 1 atm (L/mol): ppb = ug/m3 x 24.45 / M
MOLAR_VOLUME = 24.45
MOLAR_MASS = {"so2": 64.066, "no2": 46.0055, "o3": 47.997, "co": 28.010}
MIN_HOURS_US_24H = 18  # the EPA's 75 % completeness of a 24-hour mean
MIN_HOURS_WATER_DAY = 20
FIRST_DAY = dt.date(1970, 1, 2)  # the first whole day after the epoch the telemetry store counts from
STANDARDS = {"cn": "China HJ 633 (edition in force on the date)", "us": "US EPA AQI (EPA-454/B-24-002)"}


def service_of(version: OfferVersion) -> str | None:
    """The service named by an offer version's outputs schema, if any."""
    mark = (version.outputs or {}).get(MARK)
    return mark if mark in (AIR_SERVICE, WATER_SERVICE) else None


def _station_enum(stations: Sequence[Any]) -> dict[str, Any]:
    return {
        "type": "string",
        "enum": [s.id for s in stations],
        "description": "the station: " + "; ".join(f"{s.id} = {s.name}" for s in stations),
    }


def _coordinate(name: str, low: float, high: float) -> dict[str, Any]:
    return {
        "type": "number",
        "unit": "deg",
        "minimum": low,
        "maximum": high,
        "description": f"{name} (WGS 84): the nearest station is used when no station is given",
    }


DATE = {"type": "string", "pattern": DATE_PATTERN, "description": "the day (YYYY-MM-DD, China Standard Time)"}
AIR_INPUTS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "station": _station_enum(AIR_STATIONS),
        "latitude": _coordinate("latitude", -90, 90),
        "longitude": _coordinate("longitude", -180, 180),
        "date": DATE,
        "standard": {"type": "string", "enum": list(STANDARDS), "description": "cn (HJ 633) or us (EPA)"},
    },
    "required": ["date"],
    "anyOf": [{"required": ["station"]}, {"required": ["latitude", "longitude"]}],
    "additionalProperties": False,
}
AIR_OUTPUTS: dict[str, Any] = {
    "type": "object",
    MARK: AIR_SERVICE,
    "properties": {
        "aqi": {"type": "integer", "unit": "1", "description": "the day's AQI"},
        "category": {"type": "string"},
        "primary_pollutants": {"type": "string"},
        "iaqi": {"type": "object", "description": "the index of each pollutant"},
        "hourly": {"type": "array", "description": "the hourly AQI of the day"},
    },
}
WATER_INPUTS: dict[str, Any] = {
    "type": "object",
    "properties": {"station": _station_enum(WATER_STATIONS), "date": DATE},
    "required": ["station", "date"],
    "additionalProperties": False,
}
WATER_OUTPUTS: dict[str, Any] = {
    "type": "object",
    MARK: WATER_SERVICE,
    "properties": {
        "class": {"type": "string", "description": "GB 3838-2002 class of the day"},
        "parameters": {"type": "object", "description": "each parameter's daily mean and class"},
    },
}


# inputs --------------------------------------------------------------------------------------------
def parse_day(raw: Any, now: dt.datetime | None = None) -> dt.date:
    """The report's day: a valid date that has ended (China Standard Time)."""
    try:
        day = dt.date.fromisoformat(str(raw))
    except ValueError:
        raise ServiceFailed(f"date: {raw!r} is not a YYYY-MM-DD date") from None
    if day < FIRST_DAY:  # the report reads the day before too: the store counts from the epoch
        raise ServiceFailed(
            f"date: {day.isoformat()} is before {FIRST_DAY.isoformat()}: no station has data then"
        )
    moment = now or utcnow()
    # a day after today (UTC) has not ended in China either; testing that first keeps 9999-12-31 in range
    if day > moment.date() or indices.cst_midnight(day + dt.timedelta(days=1)) > moment.timestamp():
        raise ServiceFailed(f"the day {day.isoformat()} has not ended yet (China Standard Time)")
    return day


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius 6371.0088 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


async def stations_of(ctx: Context, org_id: str, kind: DeviceKind) -> list[Device]:
    """The organisation's stations of a kind."""
    async with ctx.db.transaction() as s:
        rows = await s.scalars(
            select(Device)
            .join(DeviceType, DeviceType.id == Device.type_id)
            .where(Device.org_id == org_id, DeviceType.name == kind.name)
            .order_by(Device.id)
        )
        return list(rows.all())


async def pick_station(ctx: Context, org_id: str, kind: DeviceKind, parameters: Mapping[str, Any]) -> Device:
    """The station asked for by id, or the one nearest to the given latitude and longitude."""
    stations = await stations_of(ctx, org_id, kind)
    wanted = parameters.get("station")
    if wanted is not None:
        for station in stations:
            if station.id == wanted:
                return station
        raise ServiceFailed(f"station {wanted} is not one of the provider's {kind.title.lower()}s")
    lat, lon = parameters.get("latitude"), parameters.get("longitude")
    placed = [s for s in stations if s.latitude is not None and s.longitude is not None]
    if not isinstance(lat, int | float) or not isinstance(lon, int | float) or not placed:
        raise ServiceFailed("give a station, or a latitude and longitude near one")
    return min(
        placed,
        key=lambda s: (
            _distance_km(float(lat), float(lon), float(s.latitude or 0), float(s.longitude or 0)),
            s.id,
        ),
    )


def _station_json(station: Device, parameters: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": station.id,
        "name": station.name,
        "latitude": station.latitude,
        "longitude": station.longitude,
    }
    lat, lon = parameters.get("latitude"), parameters.get("longitude")
    if parameters.get("station") is None and isinstance(lat, int | float) and isinstance(lon, int | float):
        where = (float(station.latitude or 0), float(station.longitude or 0))
        out["distance_km"] = round(_distance_km(float(lat), float(lon), *where), 2)
    return out


def _invoke(ctx: Context, algorithm: str, inputs: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return ctx.algorithms.invoke(algorithm, inputs).outputs
    except InvalidInput:
        return None  # that hour lacks an indicator: no index, as a network publishes it


# air ------------------------------------------------------------------------------------------------
def _mean(means: Mapping[int, Mapping[str, float]], key: str, hours: range, need: int) -> float | None:
    found = [means[h][key] for h in hours if key in means.get(h, {})]
    return fmean(found) if len(found) >= need else None


def _ppb(key: str, ug_m3: float) -> float:
    return ug_m3 * MOLAR_VOLUME / MOLAR_MASS[key]


def us_daily_inputs(means: Mapping[int, Mapping[str, float]], day: dt.date) -> dict[str, Any]:
    """The EPA's daily metrics of a day: 24-hour PM means, daily maximum 8-hour O3 and CO, 1-hour NO2/SO2."""
    start = indices.cst_midnight(day)
    hours = range(start, start + DAY_S, HOUR_S)
    out: dict[str, Any] = {}
    for key, name in (("pm2_5", "pm2_5_24h"), ("pm10", "pm10_24h")):
        value = _mean(means, key, hours, MIN_HOURS_US_24H)
        if value is not None:
            out[name] = value
    for key, name in (("o3", "o3_8h"), ("co", "co_8h")):
        windows = [_mean(means, key, range(h - 7 * HOUR_S, h + 1, HOUR_S), 6) for h in hours]
        valid = [w for w in windows if w is not None]
        if valid:
            # O3 ug/m3 -> ppm; CO mg/m3 -> ppm (the same factor, a thousand times larger)
            out[name] = _ppb(key, max(valid)) / 1000 if key == "o3" else _ppb(key, max(valid))
    for key in ("no2", "so2"):
        hourly = [means[h][key] for h in hours if key in means.get(h, {})]
        if hourly:
            out[f"{key}_1h"] = _ppb(key, max(hourly))
    so2 = _mean(means, "so2", hours, MIN_HOURS_US_24H)
    if so2 is not None:
        out["so2_24h"] = _ppb("so2", so2)
    return out


def us_hourly_inputs(ctx: Context, means: Mapping[int, Mapping[str, float]], hour: int) -> dict[str, Any]:
    """AirNow-style hourly metrics: PM NowCasts, the 8-hour O3 and CO moving means, the hour's NO2."""
    out: dict[str, Any] = {}
    for key, name in (("pm2_5", "pm2_5_24h"), ("pm10", "pm10_24h")):
        last12 = [means.get(hour - i * HOUR_S, {}).get(key) for i in range(12)]
        cast = _invoke(ctx, NOWCAST_ALGORITHM, {"pollutant": key, "hourly": last12})
        if cast is not None:
            out[name] = cast["nowcast"]
    for key, name in (("o3", "o3_8h"), ("co", "co_8h")):
        value = _mean(means, key, range(hour - 7 * HOUR_S, hour + 1, HOUR_S), 6)
        if value is not None:
            out[name] = _ppb(key, value) / 1000 if key == "o3" else _ppb(key, value)
    no2 = means.get(hour, {}).get("no2")
    if no2 is not None:
        out["no2_1h"] = _ppb("no2", no2)
    return out


def _iaqi_rows(result: Mapping[str, Any], us: bool) -> dict[str, Any]:
    items = result.get("items", {})
    index_key = "index" if us else "iaqi"
    return {
        key: {
            "pollutant": item["pollutant"],
            "concentration": round(float(item["concentration"]), 4),
            "unit": item["unit"],
            "iaqi": item.get(index_key),
        }
        for key, item in items.items()
    }


async def air_report(ctx: Context, order: ServiceOrder) -> dict[str, Any]:
    """The air quality report of a station and a day (the deliverable of an air quality report order)."""
    p = order.parameters
    standard = p.get("standard") or "cn"
    station = await pick_station(ctx, order.provider_org_id, AIR_STATION, p)
    day = parse_day(p.get("date"))
    start = indices.cst_midnight(day)
    end = start + DAY_S
    # the day before too: the real-time report reads 24-hour moving means
    means = await hourly_means(ctx, order.provider_org_id, station.id, AIR_KEYS, start - DAY_S, end)
    if not any(start <= h < end for h in means):
        raise ServiceFailed(f"no data at {station.name} on {day.isoformat()}")
    us = standard == "us"
    if us:
        daily = _invoke(ctx, US_ALGORITHM, us_daily_inputs(means, day))
    else:
        daily = _invoke(ctx, AQI_ALGORITHM, indices.daily_inputs(means, day))
    if daily is None:
        raise ServiceFailed(
            f"too little data at {station.name} on {day.isoformat()} for the daily AQI "
            f"({STANDARDS[standard]})"
        )
    hourly: list[dict[str, Any]] = []
    for hour in range(start, end, HOUR_S):
        if hour in means:
            inputs = us_hourly_inputs(ctx, means, hour) if us else indices.hourly_inputs(means, hour)
            result = _invoke(ctx, US_ALGORITHM if us else AQI_ALGORITHM, inputs) if inputs else None
        else:
            result = None
        ended = dt.datetime.fromtimestamp(hour + HOUR_S, dt.UTC)
        hourly.append(
            {"t": hour + HOUR_S, "end": ended.isoformat(), "aqi": result["aqi"] if result else None}
        )
    iaqi = _iaqi_rows(daily, us)
    primary = (
        ", ".join(dict.fromkeys(iaqi[k]["pollutant"] for k in daily["main_pollutants"])) if us else ""
    ) or indices.primary_names(daily)
    category = daily["category"] if us else daily["category_en"]
    code = daily["standard"]
    figures = [
        {"key": "aqi", "label": "AQI of the day", "value": daily["aqi"], "unit": "1"},
        {"key": "category", "label": "category", "value": category},
        {"key": "primary", "label": "primary pollutant", "value": primary or "none (AQI 50 or less)"},
        {"key": "standard", "label": "standard", "value": code},
        {
            "key": "hours",
            "label": "hours with data",
            "value": sum(1 for h in range(start, end, HOUR_S) if h in means),
        },
    ]
    valid = [h["aqi"] for h in hourly if h["aqi"] is not None]
    if valid:
        figures.append(
            {"key": "aqi_hourly_max", "label": "highest hourly AQI", "value": max(valid), "unit": "1"}
        )
    return {
        "title": f"Air quality report: {station.name}, {day.isoformat()}",
        "service": AIR_SERVICE,
        "summary": f"{station.name} on {day.isoformat()} (China Standard Time): "
        f"AQI {daily['aqi']}, {category}"
        + (f", primary pollutant {primary}" if primary else "")
        + f" ({code}).",
        "station": _station_json(station, p),
        "date": day.isoformat(),
        "standard": standard,
        "standard_code": code,
        "aqi": daily["aqi"],
        "level": daily.get("level"),
        "category": category,
        "colour": daily.get("colour"),
        "primary_pollutants": primary,
        "iaqi": iaqi,
        "hourly": hourly,
        "figures": figures,
        "tables": [
            {
                "title": "Index per pollutant (daily)",
                "columns": ["indicator", "pollutant", "concentration", "unit", "IAQI"],
                "rows": [
                    [k, v["pollutant"], v["concentration"], v["unit"], v["iaqi"]] for k, v in iaqi.items()
                ],
            }
        ],
        "series": [
            {
                "title": "Hourly AQI",
                "time": True,
                "x_label": "hour's end",
                "x": [h["t"] for h in hourly],
                "lines": [{"label": "AQI", "unit": "1", "values": [h["aqi"] for h in hourly]}],
            }
        ],
    }


# water ----------------------------------------------------------------------------------------------
def _water_site(device_id: str) -> WaterStation | None:
    return next((w for w in WATER_STATIONS if w.id == device_id), None)


async def water_assessment(ctx: Context, order: ServiceOrder) -> dict[str, Any]:
    """The GB 3838-2002 class of a water station's day: the daily means classed, each parameter's class."""
    p = order.parameters
    station = await pick_station(ctx, order.provider_org_id, WATER_STATION, p)
    day = parse_day(p.get("date"))
    site = _water_site(station.id)
    body, target = (site.water_body, site.target_class) if site else ("river", "III")
    start = indices.cst_midnight(day)
    hours = range(start, start + DAY_S, HOUR_S)
    means = await hourly_means(
        ctx, order.provider_org_id, station.id, indices.WATER_PARAMETERS, start, start + DAY_S
    )
    counted = sum(1 for h in hours if h in means)
    if counted < MIN_HOURS_WATER_DAY:
        raise ServiceFailed(
            f"too little data at {station.name} on {day.isoformat()}: {counted} of 24 hours, "
            f"at least {MIN_HOURS_WATER_DAY} needed"
        )
    daily_means = {
        key: value
        for key in indices.WATER_PARAMETERS
        if (value := _mean(means, key, hours, MIN_HOURS_WATER_DAY)) is not None
    }
    result = _invoke(ctx, WATER_ALGORITHM, indices.water_inputs(daily_means, body, target))
    if result is None or not result["deciding_parameters"]:
        raise ServiceFailed(f"the parameters measured at {station.name} on {day.isoformat()} decide no class")
    hourly = []
    for hour in hours:
        found = (
            _invoke(ctx, WATER_ALGORITHM, indices.water_inputs(means[hour], body, target))
            if hour in means
            else None
        )
        hourly.append({"t": hour + HOUR_S, "class_number": found["class_number"] if found else None})
    parameters = {
        key: {
            "name": entry["name"],
            "mean": round(entry["value"], 4),
            "unit": entry["unit"],
            "class": entry["class"],
            "class_number": entry["class_number"],
            "limit": entry["limit"],
            "assessed": entry["assessed"],
        }
        for key, entry in result["parameters"].items()
    }
    meets = result["class_number"] <= ("I", "II", "III", "IV", "V").index(target) + 1
    return {
        "title": f"Water quality assessment: {station.name}, {day.isoformat()}",
        "service": WATER_SERVICE,
        "summary": f"{station.name} on {day.isoformat()}: class {result['class']} (GB 3838-2002, "
        f"{body.replace('_', ' and ')}), target class {target} {'met' if meets else 'not met'}.",
        "station": _station_json(station, p),
        "date": day.isoformat(),
        "standard_code": result["standard"],
        "water_body": body,
        "target_class": target,
        "class": result["class"],
        "class_number": result["class_number"],
        "deciding_parameters": result["deciding_parameters"],
        "exceeding_parameters": result["exceeding_parameters"],
        "parameters": parameters,
        "figures": [
            {"key": "class", "label": "class of the day", "value": result["class"]},
            {"key": "target", "label": "target class", "value": target},
            {"key": "meets", "label": "target met", "value": "yes" if meets else "no"},
            {
                "key": "deciding",
                "label": "deciding parameters",
                "value": ", ".join(
                    WATER_BY_KEY[k].name if k in WATER_BY_KEY else k for k in result["deciding_parameters"]
                ),
            },
            {"key": "hours", "label": "hours with data", "value": counted},
        ],
        "tables": [
            {
                "title": "Class per parameter (daily means)",
                "columns": ["parameter", "mean", "unit", "class", "class limit", "decides"],
                "rows": [
                    [
                        v["name"],
                        v["mean"],
                        v["unit"],
                        v["class"],
                        v["limit"],
                        "yes" if v["assessed"] else "no",
                    ]
                    for v in parameters.values()
                ],
            }
        ],
        "series": [
            {
                "title": "Hourly class (1 = I ... 6 = worse than V)",
                "time": True,
                "x_label": "hour's end",
                "x": [h["t"] for h in hourly],
                "lines": [{"label": "class", "unit": "1", "values": [h["class_number"] for h in hourly]}],
            }
        ],
    }


async def compute(ctx: Context, order: ServiceOrder, version: OfferVersion) -> dict[str, Any]:
    """The deliverable of an order of one of the network's offers."""
    service = service_of(version)
    if service == AIR_SERVICE:
        return await air_report(ctx, order)
    if service == WATER_SERVICE:
        return await water_assessment(ctx, order)
    raise ServiceFailed(f"offer {version.offer_id} is not a service of the monitoring network")
