"""The agriculture domain's registered algorithms: FAO-56 reference ET0 and irrigation scheduling."""

from __future__ import annotations

from typing import Any

from iplus.apps.agriculture import et0, water_balance
from iplus.core.errors import InvalidInput
from iplus.platform.knowledge.algorithms import Algorithm

MODES = ("daily", "monthly", "hourly")
# inputs each mode needs (beyond the site), and inputs only one mode reads
NEEDS = {
    "daily": ("t_max", "t_min"),
    "monthly": ("t_max", "t_min", "t_mean_previous_month"),
    "hourly": ("t_hr", "clock_hour", "longitude_west", "time_zone_longitude_west", "solar_radiation"),
}
ONLY = {
    "t_max": ("daily", "monthly"),
    "t_min": ("daily", "monthly"),
    "rh_max": ("daily", "monthly"),
    "rh_min": ("daily", "monthly"),
    "rh_mean": ("daily", "monthly"),
    "sunshine_hours": ("daily", "monthly"),
    "a_s": ("daily", "monthly"),
    "b_s": ("daily", "monthly"),
    "t_mean_previous_month": ("monthly",),
    "t_mean_next_month": ("monthly",),
    "t_hr": ("hourly",),
    "rh_hr": ("hourly",),
    "clock_hour": ("hourly",),
    "longitude_west": ("hourly",),
    "time_zone_longitude_west": ("hourly",),
    "period_hours": ("hourly",),
    "night_rs_rso": ("hourly",),
}


def _number(unit: str, description: str, **more: Any) -> dict[str, Any]:
    return {"type": "number", "unit": unit, "description": description, **more}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _et0(*, mode: str, **given: Any) -> dict[str, Any]:
    problems = [f"/{k}: required in {mode} mode" for k in NEEDS[mode] if given.get(k) is None]
    problems += [
        f"/{k}: not read in {mode} mode (only {' and '.join(ONLY[k])})"
        for k, v in given.items()
        if v is not None and k in ONLY and mode not in ONLY[k] and k not in ("a_s", "b_s", "period_hours")
    ]
    if problems:
        raise InvalidInput(f"ET0 cannot be computed in {mode} mode", errors=problems)
    reads = {k: v for k, v in given.items() if k not in ONLY or mode in ONLY[k]}
    if mode == "hourly":
        result = et0.hourly(**reads)
        return result | {"mode": mode, "time_step": "h"}
    previous, following = reads.pop("t_mean_previous_month", None), reads.pop("t_mean_next_month", None)
    g = 0.0
    if mode == "monthly":
        assert previous is not None
        g = et0.monthly_soil_heat_flux((reads["t_max"] + reads["t_min"]) / 2, previous, following)
    result = et0.daily(**reads, soil_heat_flux=g)
    return result | {"mode": mode, "time_step": "d"}


ET0_INPUTS = _object(
    {
        "mode": {
            "type": "string",
            "enum": list(MODES),
            "default": "daily",
            "description": "daily (Eq. 6, G = 0), monthly (Eq. 6 with G of Eq. 43/44, ET0 as mm/day) "
            "or hourly (Eq. 53, G = 0.1 Rn by day, 0.5 Rn by night)",
        },
        "latitude": _number("deg", "latitude, north positive", minimum=-90, maximum=90),
        "altitude": _number("m", "elevation above sea level z", minimum=-500, maximum=9000),
        "day_of_year": {"type": "integer", "unit": "1", "minimum": 1, "maximum": 366, "description": "J"},
        "t_max": _number("Cel", "Tmax, daily (or monthly mean daily) maximum air temperature"),
        "t_min": _number("Cel", "Tmin, daily (or monthly mean daily) minimum air temperature"),
        "t_hr": _number("Cel", "Thr, mean hourly air temperature"),
        "rh_max": _number("%", "RHmax, maximum relative humidity", minimum=0, maximum=100),
        "rh_min": _number("%", "RHmin, minimum relative humidity", minimum=0, maximum=100),
        "rh_mean": _number("%", "RHmean, mean relative humidity", minimum=0, maximum=100),
        "rh_hr": _number("%", "RHhr, mean hourly relative humidity", minimum=0, maximum=100),
        "t_dew": _number("Cel", "Tdew, dewpoint temperature"),
        "ea": _number("kPa", "ea, actual vapour pressure (when measured)", minimum=0),
        "wind_speed": _number("m/s", "uz, wind speed at wind_height", minimum=0),
        "wind_height": _number("m", "z, height of the wind measurement", exclusiveMinimum=0.1, default=2.0),
        "solar_radiation": _number(
            "MJ/m2", "Rs, solar radiation per time step (MJ m-2 day-1 or MJ m-2 h-1)", minimum=0
        ),
        "sunshine_hours": _number("h", "n, actual sunshine duration (daily or monthly mode)", minimum=0),
        "a_s": _number("1", "Angstrom a_s", minimum=0, maximum=1, default=0.25),
        "b_s": _number("1", "Angstrom b_s", minimum=0, maximum=1, default=0.50),
        "t_mean_previous_month": _number("Cel", "mean air temperature of the previous month (monthly G)"),
        "t_mean_next_month": _number("Cel", "mean air temperature of the next month (monthly G, Eq. 43)"),
        "clock_hour": _number(
            "h", "t, standard clock time at the midpoint of the period", minimum=0, maximum=24
        ),
        "longitude_west": _number(
            "deg", "Lm, longitude of the site, degrees west of Greenwich", minimum=0, maximum=360
        ),
        "time_zone_longitude_west": _number(
            "deg",
            "Lz, longitude of the local time zone's centre, degrees west of Greenwich",
            minimum=0,
            maximum=360,
        ),
        "period_hours": _number("h", "t1, length of the period", exclusiveMinimum=0, maximum=1, default=1.0),
        "night_rs_rso": _number(
            "1", "Rs/Rso to use at night (the value 2-3 hours before sunset)", minimum=0.25, maximum=1
        ),
    },
    ["latitude", "altitude", "day_of_year", "wind_speed"],
)


def _out(unit: str, description: str) -> dict[str, Any]:
    return _number(unit, description)


ET0_OUTPUTS = _object(
    {
        "mode": {"type": "string", "description": "daily, monthly or hourly"},
        "time_step": {
            "type": "string",
            "enum": ["d", "h"],
            "description": "time step of every rate: day or hour",
        },
        "t_mean": _out("Cel", "T, mean air temperature used"),
        "pressure": _out("kPa", "P, atmospheric pressure (Eq. 7)"),
        "gamma": _out("kPa/Cel", "psychrometric constant (Eq. 8)"),
        "delta": _out("kPa/Cel", "slope of the saturation vapour pressure curve (Eq. 13)"),
        "es": _out("kPa", "es, saturation vapour pressure (Eq. 12; hourly e°(Thr))"),
        "ea": _out("kPa", "ea, actual vapour pressure"),
        "ea_method": {"type": "string", "description": "equation that gave ea"},
        "vapour_pressure_deficit": _out("kPa", "es - ea"),
        "u2": _out("m/s", "u2, wind speed at 2 m (Eq. 47)"),
        "dr": _out("1", "dr, inverse relative Earth-Sun distance (Eq. 23)"),
        "solar_declination": _out("rad", "solar declination (Eq. 24)"),
        "sunset_hour_angle": _out("rad", "ωs, sunset hour angle (Eq. 25)"),
        "daylight_hours": _out("h", "N, maximum sunshine duration (Eq. 34; daily and monthly)"),
        "seasonal_correction": _out("h", "Sc, seasonal correction for solar time (Eq. 32; hourly)"),
        "solar_time_angle": _out("rad", "ω at the period's midpoint (Eq. 31; hourly)"),
        "ra": _out("MJ/m2", "Ra, extraterrestrial radiation per time step (Eq. 21 or 28)"),
        "rs": _out("MJ/m2", "Rs, solar radiation per time step (given or Eq. 35)"),
        "rso": _out("MJ/m2", "Rso, clear-sky solar radiation per time step (Eq. 37)"),
        "rs_rso": _out("1", "Rs/Rso, relative shortwave radiation (at most 1.0)"),
        "rns": _out("MJ/m2", "Rns, net shortwave radiation per time step (Eq. 38, albedo 0.23)"),
        "rnl": _out("MJ/m2", "Rnl, net longwave radiation per time step (Eq. 39)"),
        "rn": _out("MJ/m2", "Rn, net radiation per time step (Eq. 40)"),
        "g": _out("MJ/m2", "G, soil heat flux per time step"),
        "radiation_term": _out("mm", "radiation term of ET0 per time step"),
        "aerodynamic_term": _out("mm", "aerodynamic term of ET0 per time step"),
        "et0": _out("mm", "ET0, reference evapotranspiration per time step (mm/day or mm/hour)"),
    },
    [
        "mode",
        "time_step",
        "delta",
        "gamma",
        "es",
        "ea",
        "ra",
        "rs",
        "rso",
        "rns",
        "rnl",
        "rn",
        "g",
        "u2",
        "et0",
    ],
)


def _irrigation(**given: Any) -> dict[str, Any]:
    return water_balance.step(**given)


MM = "mm"
IRRIGATION_INPUTS = _object(
    {
        "theta_fc": _number(
            "m3/m3", "θFC, soil water content at field capacity", exclusiveMinimum=0, maximum=1
        ),
        "theta_wp": _number(
            "m3/m3", "θWP, soil water content at wilting point", minimum=0, exclusiveMaximum=1
        ),
        "root_depth": _number("m", "Zr, rooting depth", exclusiveMinimum=0, maximum=10),
        "p_table": _number("1", "p of FAO-56 Table 22 for the crop (at ETc 5 mm/day)", minimum=0, maximum=1),
        "et0": _number("mm/d", "ET0 of the day", minimum=0),
        "kc": _number("1", "Kc, crop coefficient of the day", minimum=0, maximum=2),
        "depletion_previous": _number(
            MM, "Dr,i-1, root-zone depletion at the end of the previous day", minimum=0
        ),
        "precipitation": _number(MM, "P, precipitation of the day", minimum=0, default=0.0),
        "runoff": _number(MM, "RO, runoff from the soil surface", minimum=0, default=0.0),
        "irrigation": _number(MM, "I, net irrigation depth infiltrating the soil", minimum=0, default=0.0),
        "capillary_rise": _number(
            MM, "CR, capillary rise from the groundwater table", minimum=0, default=0.0
        ),
    },
    ["theta_fc", "theta_wp", "root_depth", "p_table", "et0", "kc", "depletion_previous"],
)
IRRIGATION_OUTPUTS = _object(
    {
        "taw": _number(MM, "TAW, total available soil water of the root zone (Eq. 82)"),
        "p": _number("1", "p, depletion fraction adjusted for ETc (Table 22)"),
        "raw": _number(MM, "RAW, readily available soil water (Eq. 83)"),
        "etc": _number("mm/d", "ETc = Kc ET0, crop evapotranspiration without stress"),
        "ks": _number("1", "Ks, water stress coefficient (Eq. 84)"),
        "etc_adj": _number("mm/d", "ETc adj = Ks Kc ET0, actual crop evapotranspiration"),
        "effective_precipitation": _number(MM, "P - RO"),
        "deep_percolation": _number(MM, "DP, water lost below the root zone (Eq. 88)"),
        "depletion": _number(MM, "Dr,i, root-zone depletion at the end of the day (Eq. 85)"),
        "water_stress": {"type": "boolean", "description": "the crop was stressed (Ks < 1)"},
        "irrigate": {"type": "boolean", "description": "Dr,i >= RAW: irrigate now"},
        "net_irrigation": _number(
            MM, "net depth that refills the root zone to field capacity (0 if not due)"
        ),
    },
    [
        "taw",
        "p",
        "raw",
        "etc",
        "ks",
        "etc_adj",
        "effective_precipitation",
        "deep_percolation",
        "depletion",
        "water_stress",
        "irrigate",
        "net_irrigation",
    ],
)

ALGORITHMS = (
    Algorithm(
        id="agriculture.et0_fao56",
        version="1.0.0",
        title="Reference evapotranspiration ET0, FAO-56 Penman-Monteith",
        description="Daily, monthly (mean daily, with monthly soil heat flux) or hourly ET0 of the grass "
        "reference surface per FAO Irrigation and Drainage Paper 56, with every intermediate "
        "of the paper's calculation sheets (delta, gamma, es, ea, Ra, Rs, Rso, Rns, Rnl, Rn, G, u2).",
        inputs=ET0_INPUTS,
        outputs=ET0_OUTPUTS,
        fn=_et0,
        tags=("agriculture", "irrigation", "standard"),
        references=("Allen, Pereira, Raes, Smith (1998) FAO Irrigation and Drainage Paper 56, chapters 3-4",),
    ),
    Algorithm(
        id="agriculture.irrigation_fao56",
        version="1.0.0",
        title="Irrigation scheduling, FAO-56 root-zone water balance",
        description="One daily step of the FAO-56 root-zone soil water balance: TAW, RAW, Ks, ETc adj, "
        "deep percolation, the new depletion Dr, and whether and how much to irrigate (refill"
        " to field capacity when Dr >= RAW).",
        inputs=IRRIGATION_INPUTS,
        outputs=IRRIGATION_OUTPUTS,
        fn=_irrigation,
        tags=("agriculture", "irrigation", "standard"),
        references=("FAO Irrigation and Drainage Paper 56, chapter 8, Eqs. 80-88 and Table 22",),
    ),
)
