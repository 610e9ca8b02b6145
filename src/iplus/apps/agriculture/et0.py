"""FAO-56 Penman-Monteith reference evapotranspiration ET0, daily (or monthly mean) and hourly.

Allen, Pereira, Raes, Smith (1998), FAO Irrigation and Drainage Paper 56, chapter 3 (equation numbers below).
Daily (Eq. 6):  ET0 = [0.408 Δ (Rn - G) + gamma 900/(T + 273) u2 (es - ea)] / [Δ + gamma (1 + 0.34 u2)]
Hourly (Eq. 53): ET0 = [0.408 Δ (Rn - G) + gamma 37/(Thr + 273) u2 (e°(Thr) - ea)] / [Δ + gamma (1 + 0.34 u2)]
The paper prescribes no rounding: every quantity is carried in full precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from iplus.core.errors import InvalidInput

SOLAR_CONSTANT = 0.0820  # Gsc, MJ m-2 min-1
SIGMA_DAY = 4.903e-9  # Stefan-Boltzmann, MJ K-4 m-2 day-1
SIGMA_HOUR = 2.043e-10  # Stefan-Boltzmann, MJ K-4 m-2 h-1
ALBEDO = 0.23  # the hypothetical grass reference crop
KELVIN = 273.16  # the paper's own conversion in Eq. 39


def pressure(z: float) -> float:
    """Eq. 7: atmospheric pressure (kPa) at elevation z (m)."""
    return 101.3 * float(((293 - 0.0065 * z) / 293) ** 5.26)


def psychrometric_constant(p: float) -> float:
    """Eq. 8: gamma = 0.665e-3 P (kPa °C-1)."""
    return 0.665e-3 * p


def saturation_vapour_pressure(t: float) -> float:
    """Eq. 11: e°(T) = 0.6108 exp(17.27 T / (T + 237.3)) (kPa)."""
    return 0.6108 * math.exp(17.27 * t / (t + 237.3))


def slope(t: float) -> float:
    """Eq. 13: Δ, slope of the saturation vapour pressure curve at T (kPa °C-1)."""
    return 4098 * saturation_vapour_pressure(t) / (t + 237.3) ** 2


def wind_at_2m(uz: float, z: float) -> float:
    """Eq. 47: wind speed at 2 m from a measurement at z m (a 2 m measurement is taken as it is)."""
    if z == 2:
        return uz  # Eq. 47 at z = 2 gives 1.0002 uz: the paper uses 2 m data unconverted
    return uz * 4.87 / math.log(67.8 * z - 5.42)


def monthly_soil_heat_flux(t_month: float, t_previous: float, t_next: float | None = None) -> float:
    """Eqs. 43-44: G of a month (MJ m-2 day-1) from the mean air temperatures of the adjacent months."""
    if t_next is not None:
        return 0.07 * (t_next - t_previous)
    return 0.14 * (t_month - t_previous)


def inverse_distance(j: int) -> float:
    """Eq. 23: dr, inverse relative Earth-Sun distance."""
    return 1 + 0.033 * math.cos(2 * math.pi * j / 365)


def declination(j: int) -> float:
    """Eq. 24: δ, solar declination (rad)."""
    return 0.409 * math.sin(2 * math.pi * j / 365 - 1.39)


def sunset_hour_angle(phi: float, delta: float) -> float:
    """Eq. 25: ωs (rad); polar day and night are clamped to π and 0."""
    return math.acos(max(-1.0, min(1.0, -math.tan(phi) * math.tan(delta))))


def ra_daily(phi: float, j: int) -> float:
    """Eq. 21: extraterrestrial radiation for a day (MJ m-2 day-1)."""
    dr, delta = inverse_distance(j), declination(j)
    ws = sunset_hour_angle(phi, delta)
    return (
        24
        * 60
        / math.pi
        * SOLAR_CONSTANT
        * dr
        * (ws * math.sin(phi) * math.sin(delta) + math.cos(phi) * math.cos(delta) * math.sin(ws))
    )


def seasonal_correction(j: int) -> float:
    """Eqs. 32-33: Sc, seasonal correction for solar time (hour)."""
    b = 2 * math.pi * (j - 81) / 364
    return 0.1645 * math.sin(2 * b) - 0.1255 * math.cos(b) - 0.025 * math.sin(b)


def solar_time_angle(t: float, lz: float, lm: float, j: int) -> float:
    """Eq. 31: ω at the period's midpoint t (standard clock hour); Lz, Lm in degrees west of Greenwich."""
    return math.pi / 12 * ((t + 0.06667 * (lz - lm) + seasonal_correction(j)) - 12)


def ra_period(phi: float, j: int, omega: float, t1: float) -> float:
    """Eq. 28: extraterrestrial radiation of a period of t1 hours around ω (MJ m-2 per period); 0 at night."""
    dr, delta = inverse_distance(j), declination(j)
    ws = sunset_hour_angle(phi, delta)
    if omega < -ws or omega > ws:
        return 0.0  # the sun is below the horizon (the paper's rule for ω outside ±ωs)
    w1, w2 = omega - math.pi * t1 / 24, omega + math.pi * t1 / 24
    return (
        12
        * 60
        / math.pi
        * SOLAR_CONSTANT
        * dr
        * (
            (w2 - w1) * math.sin(phi) * math.sin(delta)
            + math.cos(phi) * math.cos(delta) * (math.sin(w2) - math.sin(w1))
        )
    )


@dataclass(frozen=True)
class Site:
    """Where: latitude (degrees, north positive) and elevation above sea level (m)."""

    latitude: float
    altitude: float


def _fail(problems: list[str]) -> None:
    if problems:
        raise InvalidInput("ET0 cannot be computed", errors=problems)


def actual_vapour_pressure(
    *,
    t_max: float | None,
    t_min: float | None,
    t_hr: float | None,
    rh_max: float | None,
    rh_min: float | None,
    rh_mean: float | None,
    rh_hr: float | None,
    t_dew: float | None,
    ea: float | None,
    problems: list[str],
) -> tuple[float, str]:
    """ea (kPa) from the best humidity data given, in the paper's order of preference, and which equation."""
    if ea is not None:
        return ea, "given"
    if t_dew is not None:
        return saturation_vapour_pressure(t_dew), "Eq. 14 (dewpoint)"
    if t_hr is not None:
        if rh_hr is not None:
            return saturation_vapour_pressure(t_hr) * rh_hr / 100, "Eq. 54 (hourly relative humidity)"
        problems.append("/rh_hr: give the hourly relative humidity (or t_dew, or ea)")
        return 0.0, ""
    assert t_max is not None and t_min is not None
    if rh_max is not None and rh_min is not None:
        value = (
            saturation_vapour_pressure(t_min) * rh_max / 100
            + saturation_vapour_pressure(t_max) * rh_min / 100
        ) / 2
        return value, "Eq. 17 (RHmax and RHmin)"
    if rh_max is not None:
        return saturation_vapour_pressure(t_min) * rh_max / 100, "Eq. 18 (RHmax)"
    if rh_mean is not None:
        es = (saturation_vapour_pressure(t_max) + saturation_vapour_pressure(t_min)) / 2
        return rh_mean / 100 * es, "Eq. 19 (RHmean)"
    problems.append("/rh_max: give humidity: rh_max and rh_min, rh_max, rh_mean, t_dew or ea")
    return 0.0, ""


def _check_common(inputs: dict[str, Any], problems: list[str]) -> None:
    latitude = inputs["latitude"]
    if not -90 < latitude < 90:
        problems.append("/latitude: must lie strictly between -90 and 90 degrees")
    if inputs.get("wind_height", 2.0) * 67.8 - 5.42 <= 1:
        problems.append("/wind_height: too low for the logarithmic profile (Eq. 47)")
    for key in ("rh_max", "rh_min", "rh_mean", "rh_hr"):
        value = inputs.get(key)
        if value is not None and not 0 <= value <= 100:
            problems.append(f"/{key}: a relative humidity lies between 0 and 100 %")


def daily(
    *,
    latitude: float,
    altitude: float,
    day_of_year: int,
    t_max: float,
    t_min: float,
    wind_speed: float,
    wind_height: float = 2.0,
    rh_max: float | None = None,
    rh_min: float | None = None,
    rh_mean: float | None = None,
    t_dew: float | None = None,
    ea: float | None = None,
    solar_radiation: float | None = None,
    sunshine_hours: float | None = None,
    a_s: float = 0.25,
    b_s: float = 0.50,
    soil_heat_flux: float = 0.0,
) -> dict[str, Any]:
    """Daily ET0 (mm/day) with every intermediate of the paper's daily calculation sheet."""
    problems: list[str] = []
    _check_common(locals(), problems)
    if t_min > t_max:
        problems.append("/t_min: above t_max")
    if solar_radiation is None and sunshine_hours is None:
        problems.append("/solar_radiation: give Rs or the sunshine duration sunshine_hours")
    e_a, ea_source = actual_vapour_pressure(
        t_max=t_max,
        t_min=t_min,
        t_hr=None,
        rh_max=rh_max,
        rh_min=rh_min,
        rh_mean=rh_mean,
        rh_hr=None,
        t_dew=t_dew,
        ea=ea,
        problems=problems,
    )
    phi = math.radians(latitude)
    ws = sunset_hour_angle(phi, declination(day_of_year))
    daylight = 24 / math.pi * ws  # Eq. 34
    if sunshine_hours is not None and solar_radiation is None and sunshine_hours > daylight:
        problems.append(f"/sunshine_hours: above the day length N = {daylight:.2f} h")
    _fail(problems)
    t_mean = (t_max + t_min) / 2  # Eq. 9
    p = pressure(altitude)
    gamma = psychrometric_constant(p)
    delta = slope(t_mean)
    es = (saturation_vapour_pressure(t_max) + saturation_vapour_pressure(t_min)) / 2  # Eq. 12
    u2 = wind_at_2m(wind_speed, wind_height)
    ra = ra_daily(phi, day_of_year)
    rs = (
        solar_radiation
        if solar_radiation is not None
        else (a_s + b_s * (sunshine_hours or 0.0) / daylight) * ra
    )
    rso = (0.75 + 2e-5 * altitude) * ra  # Eq. 37
    ratio = min(rs / rso, 1.0) if rso > 0 else 0.0  # Eq. 39 limits Rs/Rso to 1.0
    rns = (1 - ALBEDO) * rs  # Eq. 38
    t4 = (SIGMA_DAY * (t_max + KELVIN) ** 4 + SIGMA_DAY * (t_min + KELVIN) ** 4) / 2
    rnl = t4 * (0.34 - 0.14 * math.sqrt(e_a)) * (1.35 * ratio - 0.35)  # Eq. 39
    rn = rns - rnl  # Eq. 40
    radiation_term = 0.408 * delta * (rn - soil_heat_flux)
    aerodynamic_term = gamma * 900 / (t_mean + 273) * u2 * (es - e_a)
    et0 = (radiation_term + aerodynamic_term) / (delta + gamma * (1 + 0.34 * u2))
    return {
        "t_mean": t_mean,
        "pressure": p,
        "gamma": gamma,
        "delta": delta,
        "es": es,
        "ea": e_a,
        "ea_method": ea_source,
        "vapour_pressure_deficit": es - e_a,
        "u2": u2,
        "dr": inverse_distance(day_of_year),
        "solar_declination": declination(day_of_year),
        "sunset_hour_angle": ws,
        "daylight_hours": daylight,
        "ra": ra,
        "rs": rs,
        "rso": rso,
        "rs_rso": ratio,
        "rns": rns,
        "rnl": rnl,
        "rn": rn,
        "g": soil_heat_flux,
        "radiation_term": radiation_term / (delta + gamma * (1 + 0.34 * u2)),
        "aerodynamic_term": aerodynamic_term / (delta + gamma * (1 + 0.34 * u2)),
        "et0": et0,
    }


def hourly(
    *,
    latitude: float,
    altitude: float,
    day_of_year: int,
    clock_hour: float,
    longitude_west: float,
    time_zone_longitude_west: float,
    t_hr: float,
    wind_speed: float,
    solar_radiation: float,
    wind_height: float = 2.0,
    period_hours: float = 1.0,
    rh_hr: float | None = None,
    t_dew: float | None = None,
    ea: float | None = None,
    night_rs_rso: float | None = None,
) -> dict[str, Any]:
    """Hourly (or shorter) ET0 (mm per period) by Eq. 53, with the intermediates of the paper's Example 19."""
    problems: list[str] = []
    _check_common(locals(), problems)
    e_a, ea_source = actual_vapour_pressure(
        t_max=None,
        t_min=None,
        t_hr=t_hr,
        rh_max=None,
        rh_min=None,
        rh_mean=None,
        rh_hr=rh_hr,
        t_dew=t_dew,
        ea=ea,
        problems=problems,
    )
    phi = math.radians(latitude)
    omega = solar_time_angle(clock_hour, time_zone_longitude_west, longitude_west, day_of_year)
    ra = ra_period(phi, day_of_year, omega, period_hours)
    night = ra <= 0
    if night and night_rs_rso is None:
        # FAO-56: at night take Rs/Rso of a period 2-3 hours before sunset; the caller knows it, we do not
        problems.append("/night_rs_rso: the sun is below the horizon; give Rs/Rso of 2-3 hours before sunset")
    _fail(problems)
    p = pressure(altitude)
    gamma = psychrometric_constant(p)
    delta = slope(t_hr)
    e0 = saturation_vapour_pressure(t_hr)
    u2 = wind_at_2m(wind_speed, wind_height)
    rso = (0.75 + 2e-5 * altitude) * ra
    ratio = night_rs_rso if night else min(solar_radiation / rso, 1.0)
    assert ratio is not None
    rns = (1 - ALBEDO) * solar_radiation
    rnl = (
        SIGMA_HOUR
        * period_hours
        * (t_hr + KELVIN) ** 4
        * (0.34 - 0.14 * math.sqrt(e_a))
        * (1.35 * ratio - 0.35)
    )
    rn = rns - rnl
    g = (0.5 if night else 0.1) * rn  # Eqs. 45-46
    denominator = delta + gamma * (1 + 0.34 * u2)
    radiation_term = 0.408 * delta * (rn - g) / denominator
    aerodynamic_term = gamma * 37 / (t_hr + 273) * u2 * (e0 - e_a) / denominator
    return {
        "t_mean": t_hr,
        "pressure": p,
        "gamma": gamma,
        "delta": delta,
        "es": e0,
        "ea": e_a,
        "ea_method": ea_source,
        "vapour_pressure_deficit": e0 - e_a,
        "u2": u2,
        "dr": inverse_distance(day_of_year),
        "solar_declination": declination(day_of_year),
        "sunset_hour_angle": sunset_hour_angle(phi, declination(day_of_year)),
        "seasonal_correction": seasonal_correction(day_of_year),
        "solar_time_angle": omega,
        "ra": ra,
        "rs": solar_radiation,
        "rso": rso,
        "rs_rso": ratio,
        "rns": rns,
        "rnl": rnl,
        "rn": rn,
        "g": g,
        "radiation_term": radiation_term,
        "aerodynamic_term": aerodynamic_term,
        "et0": radiation_term + aerodynamic_term,
    }
