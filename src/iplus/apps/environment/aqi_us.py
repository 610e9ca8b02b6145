"""US EPA Air Quality Index (Technical Assistance Document EPA-454/B-24-002, May 2024) and the PM NowCast.

Steps: truncate the concentration (O3 ppm to 0.001, PM2.5 µg/m³ to 0.1, PM10 µg/m³ to 1, CO ppm to 0.1,
SO2 and NO2 ppb to 1), find the breakpoints that contain it, I = (I_hi - I_lo)/(C_hi - C_lo)(C - C_lo) + I_lo,
round to the nearest integer. Table 6 (2024):

| AQI | O3 8h ppm | O3 1h ppm | PM2.5 24h | PM10 24h | CO 8h ppm | SO2 1h ppb | NO2 1h ppb |
|---|---|---|---|---|---|---|---|
| 0-50 | 0.000-0.054 | - | 0.0-9.0 | 0-54 | 0.0-4.4 | 0-35 | 0-53 |
| 51-100 | 0.055-0.070 | - | 9.1-35.4 | 55-154 | 4.5-9.4 | 36-75 | 54-100 |
| 101-150 | 0.071-0.085 | 0.125-0.164 | 35.5-55.4 | 155-254 | 9.5-12.4 | 76-185 | 101-360 |
| 151-200 | 0.086-0.105 | 0.165-0.204 | 55.5-125.4 | 255-354 | 12.5-15.4 | 186-304 | 361-649 |
| 201-300 | 0.106-0.200 | 0.205-0.404 | 125.5-225.4 | 355-424 | 15.5-30.4 | 305-604 (24h) | 650-1249 |
| 301-500 | (1h) | 0.405-0.604 | 225.5-325.4 | 425-604 | 30.5-50.4 | 605-1004 (24h) | 1250-2049 |
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from iplus.apps.environment.exact import decimal_of, interpolate, round_half_up, truncate
from iplus.core.errors import InvalidInput

Segment = tuple[int, int, Decimal, Decimal]


def _rows(*rows: tuple[int, int, str, str]) -> tuple[Segment, ...]:
    return tuple((i_lo, i_hi, Decimal(c_lo), Decimal(c_hi)) for i_lo, i_hi, c_lo, c_hi in rows)


@dataclass(frozen=True)
class Pollutant:
    """One column of Table 6: its input, truncation step, unit and breakpoint segments."""

    key: str
    name: str
    unit: str
    step: Decimal
    segments: tuple[Segment, ...]
    description: str


O3_8H = Pollutant(
    "o3_8h",
    "O3",
    "[ppm]",
    Decimal("0.001"),
    _rows(
        (0, 50, "0.000", "0.054"),
        (51, 100, "0.055", "0.070"),
        (101, 150, "0.071", "0.085"),
        (151, 200, "0.086", "0.105"),
        (201, 300, "0.106", "0.200"),
    ),
    "O3 8-hour mean",
)
O3_1H = Pollutant(
    "o3_1h",
    "O3",
    "[ppm]",
    Decimal("0.001"),
    _rows(
        (101, 150, "0.125", "0.164"),
        (151, 200, "0.165", "0.204"),
        (201, 300, "0.205", "0.404"),
        (301, 500, "0.405", "0.604"),
    ),
    "O3 1-hour mean",
)
PM25 = Pollutant(
    "pm2_5_24h",
    "PM2.5",
    "ug/m3",
    Decimal("0.1"),
    _rows(
        (0, 50, "0.0", "9.0"),
        (51, 100, "9.1", "35.4"),
        (101, 150, "35.5", "55.4"),
        (151, 200, "55.5", "125.4"),
        (201, 300, "125.5", "225.4"),
        (301, 500, "225.5", "325.4"),
    ),
    "PM2.5 24-hour mean (or NowCast)",
)
PM10 = Pollutant(
    "pm10_24h",
    "PM10",
    "ug/m3",
    Decimal(1),
    _rows(
        (0, 50, "0", "54"),
        (51, 100, "55", "154"),
        (101, 150, "155", "254"),
        (151, 200, "255", "354"),
        (201, 300, "355", "424"),
        (301, 500, "425", "604"),
    ),
    "PM10 24-hour mean (or NowCast)",
)
CO_8H = Pollutant(
    "co_8h",
    "CO",
    "[ppm]",
    Decimal("0.1"),
    _rows(
        (0, 50, "0.0", "4.4"),
        (51, 100, "4.5", "9.4"),
        (101, 150, "9.5", "12.4"),
        (151, 200, "12.5", "15.4"),
        (201, 300, "15.5", "30.4"),
        (301, 500, "30.5", "50.4"),
    ),
    "CO 8-hour mean",
)
SO2_1H = Pollutant(
    "so2_1h",
    "SO2",
    "[ppb]",
    Decimal(1),
    _rows(
        (0, 50, "0", "35"),
        (51, 100, "36", "75"),
        (101, 150, "76", "185"),
        (151, 200, "186", "304"),
    ),
    "SO2 daily maximum 1-hour mean",
)
SO2_24H = Pollutant(
    "so2_24h",
    "SO2",
    "[ppb]",
    Decimal(1),
    _rows(
        (201, 300, "305", "604"),
        (301, 500, "605", "1004"),
    ),
    "SO2 24-hour mean, used when the 1-hour value is 305 ppb or more",
)
NO2_1H = Pollutant(
    "no2_1h",
    "NO2",
    "[ppb]",
    Decimal(1),
    _rows(
        (0, 50, "0", "53"),
        (51, 100, "54", "100"),
        (101, 150, "101", "360"),
        (151, 200, "361", "649"),
        (201, 300, "650", "1249"),
        (301, 500, "1250", "2049"),
    ),
    "NO2 1-hour mean",
)

POLLUTANTS = (O3_8H, O3_1H, PM25, PM10, CO_8H, SO2_1H, SO2_24H, NO2_1H)
BY_KEY = {p.key: p for p in POLLUTANTS}
SO2_SWITCH = Decimal(305)

# (upper AQI, name, colour), TAD Table 1
CATEGORIES = (
    (50, "Good", "green"),
    (100, "Moderate", "yellow"),
    (150, "Unhealthy for Sensitive Groups", "orange"),
    (200, "Unhealthy", "red"),
    (300, "Very Unhealthy", "purple"),
    (None, "Hazardous", "maroon"),
)


def category(aqi: int) -> dict[str, str]:
    """The AQI category and its colour."""
    for upper, name, colour in CATEGORIES:
        if upper is None or aqi <= upper:
            return {"category": name, "colour": colour}
    raise AssertionError("unreachable: the last category has no upper bound")


def sub_index(pollutant: Pollutant, raw: float) -> dict[str, Any]:
    """Truncate, find the segment (the top one extended above its end), interpolate and round half up."""
    c = truncate(decimal_of(raw), pollutant.step)
    segment = next((s for s in pollutant.segments if s[2] <= c <= s[3]), None)
    rule = None
    if segment is None and c > pollutant.segments[-1][3]:
        segment = pollutant.segments[-1]
        rule = f"above {segment[3]} {pollutant.unit}: the top segment is extended (beyond the AQI)"
    if segment is None:
        rule = f"below {pollutant.segments[0][2]} {pollutant.unit}: the table gives no index"
        return _entry(pollutant, raw, c, None, None, rule)
    i_lo, i_hi, c_lo, c_hi = segment
    exact = interpolate(Fraction(c), Fraction(c_lo), Fraction(c_hi), i_lo, i_hi)
    return _entry(pollutant, raw, c, segment, exact, rule)


def _entry(
    pollutant: Pollutant,
    raw: float,
    c: Decimal,
    segment: Segment | None,
    exact: Fraction | None,
    rule: str | None,
) -> dict[str, Any]:
    return {
        "pollutant": pollutant.name,
        "concentration": float(raw),
        "truncated": float(c),
        "unit": pollutant.unit,
        "c_lo": None if segment is None else float(segment[2]),
        "c_hi": None if segment is None else float(segment[3]),
        "i_lo": None if segment is None else segment[0],
        "i_hi": None if segment is None else segment[1],
        "index_exact": None if exact is None else float(exact),
        "index": None if exact is None else round_half_up(exact),
        "rule": rule,
    }


def _so2(values: dict[str, float], problems: list[str]) -> dict[str, Any] | None:
    """TAD: a 1-hour maximum below 305 ppb uses the 1-hour table; at 305 or more the 24-hour mean decides,
    and a 24-hour mean below 305 ppb then means AQI 200."""
    one, day = values.get("so2_1h"), values.get("so2_24h")
    if one is None and day is None:
        return None
    if one is not None and truncate(decimal_of(one), SO2_1H.step) < SO2_SWITCH:
        return sub_index(SO2_1H, one)
    if day is None:
        problems.append(
            "/so2_24h: required when the 1-hour SO2 is 305 ppb or more (the 24-hour mean decides)"
        )
        return None
    c = truncate(decimal_of(day), SO2_24H.step)
    if c < SO2_SWITCH and one is None:
        problems.append(
            "/so2_1h: a 24-hour SO2 below 305 ppb gives no index; send the daily maximum 1-hour value"
        )
        return None
    if c < SO2_SWITCH:
        entry = _entry(
            SO2_24H, day, c, None, Fraction(200), "1-hour SO2 >= 305 ppb, 24-hour mean < 305 ppb: 200"
        )
        return entry
    return sub_index(SO2_24H, day)


def compute(values: dict[str, Any]) -> dict[str, Any]:
    """Each sub-index with its truncation and breakpoints; the AQI is the largest and who gave it."""
    values = {k: v for k, v in values.items() if v is not None}
    problems = [f"/{k}: unknown pollutant; use one of {sorted(BY_KEY)}" for k in values if k not in BY_KEY]
    problems += [f"/{k}: a concentration cannot be negative" for k, v in values.items() if v < 0]
    if not values:
        problems.append("/: give at least one concentration")
    if problems:
        raise InvalidInput("the EPA AQI cannot be computed", errors=problems)
    items: dict[str, Any] = {}
    for pollutant in (O3_8H, O3_1H, PM25, PM10, CO_8H, NO2_1H):
        if pollutant.key in values:
            items[pollutant.key] = sub_index(pollutant, values[pollutant.key])
    o3_8h = items.get("o3_8h")
    if o3_8h is not None and Decimal(str(o3_8h["truncated"])) > O3_8H.segments[-1][3]:
        # 8-hour O3 defines no AQI above 300: the 1-hour value must speak
        if "o3_1h" not in values:
            problems.append(
                "/o3_1h: required when the 8-hour O3 is above 0.200 ppm (8-hour O3 ends at AQI 300)"
            )
        rule = "above 0.200 ppm: the 8-hour table ends at 300; the 1-hour O3 index is used"
        o3_8h.update(index=None, index_exact=None, c_lo=None, c_hi=None, i_lo=None, i_hi=None, rule=rule)
    so2 = _so2(values, problems)
    if problems:
        raise InvalidInput("the EPA AQI cannot be computed", errors=problems)
    if so2 is not None:
        items["so2"] = so2
    scores = {k: v["index"] for k, v in items.items() if v["index"] is not None}
    if not scores:
        raise InvalidInput("the EPA AQI cannot be computed", errors=["/: no concentration defines an index"])
    aqi = max(scores.values())
    return {
        "standard": "EPA-454/B-24-002",
        "aqi": aqi,
        **category(aqi),
        "main_pollutants": sorted(k for k, v in scores.items() if v == aqi),
        "items": items,
    }


NOWCAST_HOURS = 12


def nowcast(hourly: list[float | None], pollutant: str) -> dict[str, Any]:
    """EPA PM NowCast over the last 12 hours, newest first (index 0 = the current hour, None = missing).

    w* = 1 - (max - min)/max over the valid hours, at least 0.5; NowCast = sum(w^i c_i) / sum(w^i) over the
    valid hours i (hours ago); two of the three most recent hours must be valid.
    """
    problems = []
    if pollutant not in ("pm2_5", "pm10"):
        problems.append("/pollutant: use pm2_5 or pm10")
    if not 1 <= len(hourly) <= NOWCAST_HOURS:
        problems.append(f"/hourly: give 1 to {NOWCAST_HOURS} hourly values, newest first")
    problems += [
        f"/hourly/{i}: a concentration cannot be negative" for i, c in enumerate(hourly) if c and c < 0
    ]
    if sum(c is not None for c in hourly[:3]) < 2:
        problems.append("/hourly: at least 2 of the 3 most recent hours are needed")
    if problems:
        raise InvalidInput("the NowCast cannot be computed", errors=problems)
    valid = [(i, Fraction(decimal_of(c))) for i, c in enumerate(hourly) if c is not None]
    c_max, c_min = max(c for _, c in valid), min(c for _, c in valid)
    # all-zero hours have no rate of change: the weight is 1 (a plain average)
    scaled = (c_max - c_min) / c_max if c_max > 0 else Fraction(0)
    weight = max(Fraction(1, 2), 1 - scaled)
    value = sum(weight**i * c for i, c in valid) / sum(weight**i for i, _ in valid)
    index = sub_index(PM25 if pollutant == "pm2_5" else PM10, float(value))
    return {
        "pollutant": pollutant,
        "nowcast": float(value),
        "scaled_rate_of_change": float(scaled),
        "weight_factor": float(weight),
        "hours_used": len(valid),
        "truncated": index["truncated"],
        "aqi": index["index"],
        **category(index["index"]),
    }
