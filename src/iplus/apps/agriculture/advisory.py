"""The irrigation advisory service: should a field be irrigated today, how much, and what the next week holds.

An order names the crop, soil, rooting depth, area, irrigation method and the day of the season, and the
field's state now: a soil moisture θ (m3/m3) or a root-zone depletion Dr (mm), exactly one. The provider's
farm (named in the offer's outputs schema) supplies the weather: the order's day is the last day its
weather station has completed by the time the order was placed (or the ``date`` asked for); the station's
stored hours give that day's aggregates, and ET0 comes from the registered ``agriculture.et0_fao56``.

Today: one step of the registered ``agriculture.irrigation_fao56`` from the given depletion with the day's
ET0 and no rain (what today brings is not known yet): TAW, p adjusted for ETc, RAW, Ks at the given
depletion, and the depletion expected by the evening. Irrigate today when that reaches RAW: the net depth
refills the root zone to field capacity, the gross depth divides it by the application efficiency, and the
volume is the gross depth over the area (1 mm on 1 ha = 10 m3).

The next seven days (fewer when the season ends sooner): the same daily balance under the typical year's
weather (the TMY3 the demo farm replays: ET0 per day by the daily Penman-Monteith, rain summed from the
hours), Kc following the season, from the evening's depletion - once as it is (advice not followed: no
irrigation), once with today's irrigation applied and the same rule on each following day (refill when Dr
reaches RAW).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from iplus.apps.agriculture.advisory_inputs import (
    FARM_MARK,
    SERVICE,
    Request,
    parse_request,
)
from iplus.apps.agriculture.crops import kc_of
from iplus.apps.agriculture.fields import FARM_TYPE, linked_devices
from iplus.apps.agriculture.models import STATION_PROPERTY
from iplus.apps.agriculture.station import STATION_KEYS, group_days, pick_day
from iplus.apps.agriculture.water_balance import step
from iplus.apps.agriculture.weather import MIN_HOURS, TMY3_WIND_HEIGHT, DayWeather, daily, et0_inputs
from iplus.core.clock import as_utc
from iplus.core.errors import InvalidInput, NotFound
from iplus.infra.db.models_catalog import OfferVersion, ServiceOrder
from iplus.infra.telemetry import Selection
from iplus.platform.catalog.auto import ServiceFailed, provider_of
from iplus.platform.context import Context
from iplus.security.principal import Principal

ET0 = "agriculture.et0_fao56"
BALANCE = "agriculture.irrigation_fao56"
HORIZON_DAYS = 7
M3_PER_MM_HA = 10.0  # 1 mm of water over 1 ha
LOOKBACK_DAYS = 35  # how far back the station's hours are read


# the farm and its weather ------------------------------------------------------------
@dataclass(frozen=True)
class Farm:
    """The provider's farm: where it is and its weather station."""

    id: str
    title: str
    latitude: float
    altitude: float
    station_id: str


async def farm_of(ctx: Context, provider: Principal, farm_id: str) -> Farm:
    """The farm named by the offer, with its site and weather station."""
    try:
        thing = await ctx.virtual.get_own(provider, farm_id)
    except NotFound:
        raise ServiceFailed(f"the provider's farm {farm_id} no longer exists") from None
    altitude = thing.attributes.get("altitude")
    if thing.type != FARM_TYPE or thing.latitude is None or not isinstance(altitude, int | float):
        raise ServiceFailed(f"{thing.title} is not a farm with a latitude and an altitude")
    for device_id, model in await linked_devices(ctx, provider, thing.id):
        if STATION_PROPERTY in model.properties:
            return Farm(thing.id, thing.title, float(thing.latitude), float(altitude), device_id)
    raise ServiceFailed(f"{thing.title} has no weather station")


def last_complete_day(days: Mapping[dt.date, Sequence[Any]]) -> dt.date:
    """The station's last day that has ended: the newest day when it has all 24 hours, else the one before."""
    if not days:
        raise ServiceFailed("the farm's weather station has no hourly observations")
    newest = max(days)
    return newest if len(days[newest]) >= 24 else newest - dt.timedelta(days=1)


async def station_weather(
    ctx: Context, farm: Farm, provider: Principal, order: ServiceOrder, wanted: dt.date | None
) -> DayWeather:
    """The day's aggregates of the farm's station (the hours stored before the order was placed)."""
    rows = await ctx.telemetry.readings(
        Selection(provider.org_id, [farm.station_id], list(STATION_KEYS), end=as_utc(order.created_at)),
        limit=len(STATION_KEYS) * 24 * LOOKBACK_DAYS,
        newest_first=True,
    )
    days = group_days(rows)
    day = wanted or last_complete_day(days)
    try:
        pick_day(days, day)
    except InvalidInput as exc:
        raise ServiceFailed(
            f"no weather for {day.isoformat()}: the farm's station stored {len(days.get(day, []))} of its "
            f"hours, at least {MIN_HOURS} are needed"
        ) from exc
    return daily(days[day])


# the typical year --------------------------------------------------------------------
@lru_cache(maxsize=1)
def typical_days() -> tuple[tuple[tuple[int, int], float, float], ...]:
    """((month, day), ET0 mm/day at least 0, rain mm) of each day of the TMY3 typical year."""
    from iplus.apps.agriculture.farm_sim import daily_et0
    from iplus.apps.agriculture.weather import typical_year

    year = typical_year()
    et0s = daily_et0(year)
    out = []
    for i, et0 in enumerate(et0s):
        rows = year.rows[24 * i : 24 * i + 24]
        out.append(((rows[0].month, rows[0].day), et0, sum(r.rain for r in rows)))
    return tuple(out)


def typical_weather(day: dt.date) -> tuple[float, float]:
    """(ET0, rain) of the typical year on the same month and day (29 February as 28 February)."""
    wanted = (day.month, min(day.day, 28) if day.month == 2 else day.day)
    for when, et0, rain in typical_days():
        if when == wanted:
            return et0, rain
    raise ServiceFailed(f"the typical year has no {day.isoformat()[5:]}")


# the advice ------------------------------------------------------------------------
def project(
    req: Request, evening: float, net_today: float, day: dt.date, horizon: int = HORIZON_DAYS
) -> list[dict[str, Any]]:
    """The next days' balance under the typical year: without irrigation, and following the advice."""
    without, follow = evening, evening - net_today
    out = []
    for k in range(1, horizon + 1):
        season_day = req.season_day + k
        if season_day > req.crop.length:
            break
        when = day + dt.timedelta(days=k)
        stage, kc = kc_of(req.crop, season_day)
        et0, rain = typical_weather(when)
        soil = {
            "theta_fc": req.soil.theta_fc,
            "theta_wp": req.soil.theta_wp,
            "root_depth": req.root_depth,
            "p_table": req.crop.p,
            "et0": et0,
            "kc": kc,
            "precipitation": rain,
        }
        a = step(**soil, depletion_previous=without)
        b = step(**soil, depletion_previous=follow)
        irrigation = b["depletion"] if b["irrigate"] else 0.0
        without, follow = a["depletion"], b["depletion"] - irrigation
        out.append(
            {
                "day": k,
                "date": when.isoformat(),
                "season_day": season_day,
                "stage": stage,
                "kc": kc,
                "et0": et0,
                "rain": rain,
                "raw": a["raw"],
                "depletion_without": without,
                "depletion_following": follow,
                "irrigation_following": irrigation,
                "ks_without": a["ks"],
            }
        )
    return out


def _r(x: float, digits: int = 2) -> float:
    return round(x, digits)


async def advise(ctx: Context, order: ServiceOrder, version: OfferVersion) -> dict[str, Any]:
    """The deliverable of an irrigation advisory order."""
    req = parse_request(order.parameters)
    farm_id = (version.outputs or {}).get(FARM_MARK)
    if not isinstance(farm_id, str):
        raise ServiceFailed("the offer names no farm whose weather to read")
    provider = provider_of(order.provider_org_id)
    farm = await farm_of(ctx, provider, farm_id)
    weather = await station_weather(ctx, farm, provider, order, req.date)
    et0_in = et0_inputs(weather, latitude=farm.latitude, altitude=farm.altitude, wind_height=TMY3_WIND_HEIGHT)
    et0_run = ctx.algorithms.invoke(ET0, et0_in)
    et0 = float(et0_run.outputs["et0"])
    stage, kc = kc_of(req.crop, req.season_day)
    start = req.start_depletion()
    balance_run = ctx.algorithms.invoke(
        BALANCE,
        {
            "theta_fc": req.soil.theta_fc,
            "theta_wp": req.soil.theta_wp,
            "root_depth": req.root_depth,
            "p_table": req.crop.p,
            # a negative daily ET0 (dew on a cold, cloudy day) takes no water from the root zone
            "et0": max(0.0, et0),
            "kc": kc,
            "depletion_previous": start,
        },
    )
    b = balance_run.outputs
    evening = float(b["depletion"])
    irrigate = bool(b["irrigate"]) and evening > 0
    net = evening if irrigate else 0.0
    gross = net / req.efficiency
    volume = gross * req.area_ha * M3_PER_MM_HA
    days = await asyncio.to_thread(project, req, evening, net, weather.day)
    date = weather.day.isoformat()
    verdict = (
        f"irrigate today: {net:.1f} mm net, {gross:.1f} mm gross ({volume:,.0f} m3 on {req.area_ha:g} ha)"
        if irrigate
        else f"no irrigation today: the root zone holds {b['raw'] - evening:.1f} mm before stress begins"
    )
    stressed = [d["date"] for d in days if d["ks_without"] < 1]
    figures = [
        {"key": "irrigate", "label": "irrigate today", "value": "yes" if irrigate else "no"},
        {"key": "net", "label": "net depth", "value": _r(net, 1), "unit": "mm"},
        {"key": "gross", "label": "gross depth", "value": _r(gross, 1), "unit": "mm"},
        {"key": "volume", "label": "volume", "value": _r(volume, 1), "unit": "m3"},
        {"key": "et0", "label": f"ET0 of {date}", "value": _r(et0), "unit": "mm/d"},
        {"key": "kc", "label": f"Kc ({stage.replace('_', ' ')}, day {req.season_day})", "value": _r(kc, 3)},
        {"key": "taw", "label": "TAW", "value": _r(b["taw"], 1), "unit": "mm"},
        {"key": "p", "label": "p adjusted for ETc", "value": _r(b["p"], 3)},
        {"key": "raw", "label": "RAW", "value": _r(b["raw"], 1), "unit": "mm"},
        {"key": "ks", "label": "Ks now", "value": _r(b["ks"], 3)},
        {"key": "depletion_now", "label": "depletion now", "value": _r(start, 1), "unit": "mm"},
        {
            "key": "depletion_evening",
            "label": "depletion this evening",
            "value": _r(evening, 1),
            "unit": "mm",
        },
    ]
    return {
        "title": f"Irrigation advisory: {req.crop.title.lower()} on {req.soil.title.lower()}, {date}",
        "service": SERVICE,
        "summary": f"{req.crop.title} on {req.soil.title.lower()} ({req.method}, {req.area_ha:g} ha), "
        f"{date}: {verdict}."
        + (f" Without irrigation the crop is stressed from {stressed[0]}." if stressed else ""),
        "date": date,
        "farm": {"id": farm.id, "title": farm.title, "station_id": farm.station_id},
        "crop": req.crop_key,
        "soil": req.soil_key,
        "method": req.method,
        "efficiency": req.efficiency,
        "area_ha": req.area_ha,
        "root_depth": req.root_depth,
        "season_day": req.season_day,
        "stage": stage,
        "kc": kc,
        "theta_fc": req.soil.theta_fc,
        "theta_wp": req.soil.theta_wp,
        "p_table": req.crop.p,
        "state": {"soil_moisture": req.soil_moisture, "depletion": start},
        "weather": weather.as_dict(),
        "et0": et0,
        "et0_details": {**et0_in, **et0_run.outputs},
        "taw": b["taw"],
        "p": b["p"],
        "raw": b["raw"],
        "ks": b["ks"],
        "etc": b["etc"],
        "etc_adj": b["etc_adj"],
        "depletion_evening": evening,
        "irrigate": irrigate,
        "net_mm": net,
        "gross_mm": gross,
        "volume_m3": volume,
        "algorithms": {ET0: et0_run.version, BALANCE: balance_run.version},
        "projection": days,
        "figures": figures,
        "tables": [
            {
                "title": "The next days under the typical year's weather",
                "columns": [
                    "date",
                    "stage",
                    "Kc",
                    "ET0 (mm)",
                    "rain (mm)",
                    "RAW (mm)",
                    "Dr without (mm)",
                    "Dr following (mm)",
                    "irrigation (mm)",
                ],
                "rows": [
                    [
                        d["date"],
                        d["stage"].replace("_", " "),
                        _r(d["kc"], 3),
                        _r(d["et0"]),
                        _r(d["rain"], 1),
                        _r(d["raw"], 1),
                        _r(d["depletion_without"], 1),
                        _r(d["depletion_following"], 1),
                        _r(d["irrigation_following"], 1),
                    ]
                    for d in days
                ],
            }
        ],
        "series": [
            {
                "title": "Root-zone depletion, the next days",
                "time": False,
                "x_label": "days from today",
                "x": [0, *(d["day"] for d in days)],
                "lines": [
                    {
                        "label": "advice not followed",
                        "unit": "mm",
                        "values": [_r(evening), *(_r(d["depletion_without"]) for d in days)],
                    },
                    {
                        "label": "advice followed",
                        "unit": "mm",
                        "values": [_r(evening - net), *(_r(d["depletion_following"]) for d in days)],
                    },
                    {"label": "RAW", "unit": "mm", "values": [_r(b["raw"]), *(_r(d["raw"]) for d in days)]},
                    {"label": "TAW", "unit": "mm", "values": [_r(b["taw"])] * (len(days) + 1)},
                ],
            }
        ],
    }
