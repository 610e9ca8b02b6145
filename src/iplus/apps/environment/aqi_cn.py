"""China's Ambient Air Quality Index: HJ 633-2012 and HJ 633-2026, daily and hourly (real-time) reports.

IAQI_P = (IAQI_Hi - IAQI_Lo) / (BP_Hi - BP_Lo) x (C_P - BP_Lo) + IAQI_Lo, rounded UP to an integer
("全部进位取整数") with exact arithmetic; AQI = max IAQI. HJ 633-2026 first rounds each concentration per
GB/T 8170 (µg/m³ to integers, CO to 0.1 mg/m³). Table 1 of each standard (µg/m³; CO mg/m³):

| IAQI | SO2 24h | SO2 1h | NO2 24h | NO2 1h | PM10 (2026) | CO 24h | CO 1h | O3 1h | O3 8h | PM2.5 (2026) |
|---|---|---|---|---|---|---|---|---|---|---|
| 0 | 0 | 0 | 0 | 0 | 0 (0) | 0 | 0 | 0 | 0 | 0 (0) |
| 50 | 50 | 150 | 40 | 100 | 50 (50) | 2 | 5 | 160 | 100 | 35 (35) |
| 100 | 150 | 500 | 80 | 200 | 150 (120) | 4 | 10 | 200 | 160 | 75 (60) |
| 150 | 475 | 650 | 180 | 700 | 250 (250) | 14 | 35 | 300 | 215 | 115 (115) |
| 200 | 800 | 800 | 280 | 1200 | 350 (350) | 24 | 60 | 400 | 265 | 150 (150) |
| 300 | 1600 | - | 565 | 2340 | 420 (420) | 36 | 90 | 800 | 800 | 250 (250) |
| 400 | 2100 | - | 750 | 3090 | 500 (500) | 48 | 120 | 1000 | - | 350 (350) |
| 500 | 2620 | - | 940 | 3840 | 600 (600) | 60 | 150 | 1200 | - | 500 (500) |

Above 800 µg/m³ the 1-hour SO2 and 8-hour O3 columns end: HJ 633-2012 then takes the SO2 index from the
24-hour mean and gives no 8-hour O3 index (the 1-hour O3 index speaks); HJ 633-2026 sets them to 200 and
300. A concentration above a column's 500 breakpoint is off the scale: its IAQI is reported as 500.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from iplus.apps.environment.exact import ceil_int, decimal_of, interpolate, round_gb8170
from iplus.core.errors import InvalidInput

IAQI_LEVELS = (0, 50, 100, 150, 200, 300, 400, 500)
UG = "ug/m3"
MG = "mg/m3"


def _bp(*values: int | None) -> tuple[Decimal | None, ...]:
    return tuple(None if v is None else Decimal(v) for v in values)


@dataclass(frozen=True)
class Column:
    """One concentration column of Table 1: the concentration at each IAQI level (None where blank)."""

    name: str
    pollutant: str
    unit: str
    breakpoints: tuple[Decimal | None, ...]


SO2_24H = Column("so2_24h", "SO2", UG, _bp(0, 50, 150, 475, 800, 1600, 2100, 2620))
SO2_1H = Column("so2_1h", "SO2", UG, _bp(0, 150, 500, 650, 800, None, None, None))
NO2_24H = Column("no2_24h", "NO2", UG, _bp(0, 40, 80, 180, 280, 565, 750, 940))
NO2_1H = Column("no2_1h", "NO2", UG, _bp(0, 100, 200, 700, 1200, 2340, 3090, 3840))
CO_24H = Column("co_24h", "CO", MG, _bp(0, 2, 4, 14, 24, 36, 48, 60))
CO_1H = Column("co_1h", "CO", MG, _bp(0, 5, 10, 35, 60, 90, 120, 150))
O3_1H = Column("o3_1h", "O3", UG, _bp(0, 160, 200, 300, 400, 800, 1000, 1200))
O3_8H = Column("o3_8h", "O3", UG, _bp(0, 100, 160, 215, 265, 800, None, None))
PM10_2012 = Column("pm10_24h", "PM10", UG, _bp(0, 50, 150, 250, 350, 420, 500, 600))
PM25_2012 = Column("pm2_5_24h", "PM2.5", UG, _bp(0, 35, 75, 115, 150, 250, 350, 500))
PM10_2026 = Column("pm10_24h", "PM10", UG, _bp(0, 50, 120, 250, 350, 420, 500, 600))
PM25_2026 = Column("pm2_5_24h", "PM2.5", UG, _bp(0, 35, 60, 115, 150, 250, 350, 500))


@dataclass(frozen=True)
class Item:
    """One indicator of a report: the input that carries it, the column that scores it, and what happens
    above the column's end (``fallback``: the input whose 24-hour column takes over; ``fixed``: an IAQI)."""

    key: str
    column: Column
    description: str
    fallback: str | None = None
    fixed: int | None = None


@dataclass(frozen=True)
class Standard:
    """One edition of HJ 633: its reports and rules."""

    code: str
    reports: dict[str, tuple[Item, ...]]
    auxiliary: dict[str, tuple[Item, ...]]
    rounds_concentrations: bool
    exceedance: bool


_SO2_24H_AUX = Item("so2_24h", SO2_24H, "SO2 24-hour mean, scores SO2 when the 1-hour value is above 800")

HJ633_2012 = Standard(
    code="HJ 633-2012",
    reports={
        "daily": (
            Item("so2_24h", SO2_24H, "SO2 24-hour mean"),
            Item("no2_24h", NO2_24H, "NO2 24-hour mean"),
            Item("pm10_24h", PM10_2012, "PM10 24-hour mean"),
            Item("co_24h", CO_24H, "CO 24-hour mean"),
            Item("o3_1h_max", O3_1H, "O3 daily maximum 1-hour mean"),
            Item("o3_8h_max", O3_8H, "O3 daily maximum 8-hour moving mean"),
            Item("pm2_5_24h", PM25_2012, "PM2.5 24-hour mean"),
        ),
        "hourly": (
            Item("so2_1h", SO2_1H, "SO2 1-hour mean", fallback="so2_24h"),
            Item("no2_1h", NO2_1H, "NO2 1-hour mean"),
            Item("co_1h", CO_1H, "CO 1-hour mean"),
            Item("o3_1h", O3_1H, "O3 1-hour mean"),
            Item("o3_8h", O3_8H, "O3 8-hour moving mean"),
            Item("pm10_24h", PM10_2012, "PM10 24-hour moving mean"),
            Item("pm2_5_24h", PM25_2012, "PM2.5 24-hour moving mean"),
        ),
    },
    auxiliary={"daily": (), "hourly": (_SO2_24H_AUX,)},
    rounds_concentrations=False,
    exceedance=True,
)

HJ633_2026 = Standard(
    code="HJ 633-2026",
    reports={
        "daily": (
            Item("so2_24h", SO2_24H, "SO2 24-hour mean"),
            Item("no2_24h", NO2_24H, "NO2 24-hour mean"),
            Item("co_24h", CO_24H, "CO 24-hour mean"),
            Item("pm10_24h", PM10_2026, "PM10 24-hour mean"),
            Item("pm2_5_24h", PM25_2026, "PM2.5 24-hour mean"),
            Item("o3_8h_max", O3_8H, "O3 daily maximum 8-hour moving mean", fixed=300),
        ),
        "hourly": (
            Item("so2_1h", SO2_1H, "SO2 1-hour mean", fixed=200),
            Item("no2_1h", NO2_1H, "NO2 1-hour mean"),
            Item("co_1h", CO_1H, "CO 1-hour mean"),
            Item("o3_1h", O3_1H, "O3 1-hour mean"),
            Item("pm10_1h", PM10_2026, "PM10 1-hour mean, scored on the 24-hour breakpoints"),
            Item("pm2_5_1h", PM25_2026, "PM2.5 1-hour mean, scored on the 24-hour breakpoints"),
        ),
    },
    auxiliary={"daily": (), "hourly": ()},
    rounds_concentrations=True,
    exceedance=False,
)

# (upper AQI, level, Chinese name, English name, colour), HJ 633 Table 2 and Appendix A
CATEGORIES = (
    (50, 1, "优", "excellent", "green"),
    (100, 2, "良", "good", "yellow"),
    (150, 3, "轻度污染", "lightly polluted", "orange"),
    (200, 4, "中度污染", "moderately polluted", "red"),
    (300, 5, "重度污染", "heavily polluted", "purple"),
    (None, 6, "严重污染", "severely polluted", "maroon"),
)


def category(aqi: int) -> dict[str, Any]:
    """The AQI level, its category names and colour."""
    for upper, level, zh, en, colour in CATEGORIES:
        if upper is None or aqi <= upper:
            return {"level": level, "category": zh, "category_en": en, "colour": colour}
    raise AssertionError("unreachable: the last category has no upper bound")


def all_keys(standard: Standard) -> dict[str, Item]:
    """Every input any report of ``standard`` reads, by name."""
    found: dict[str, Item] = {}
    for report, items in standard.reports.items():
        for item in items + standard.auxiliary[report]:
            found.setdefault(item.key, item)
    return found


def _score(column: Column, c: Decimal) -> dict[str, Any] | None:
    """The IAQI of ``c`` on ``column`` with its breakpoints, or None beyond the column's last breakpoint."""
    points = [
        (level, bp) for level, bp in zip(IAQI_LEVELS, column.breakpoints, strict=True) if bp is not None
    ]
    for (i_lo, bp_lo), (i_hi, bp_hi) in itertools.pairwise(points):
        if bp_lo <= c <= bp_hi:
            exact = interpolate(Fraction(c), Fraction(bp_lo), Fraction(bp_hi), i_lo, i_hi)
            return {
                "bp_lo": float(bp_lo),
                "bp_hi": float(bp_hi),
                "iaqi_lo": i_lo,
                "iaqi_hi": i_hi,
                "iaqi_exact": float(exact),
                "iaqi": ceil_int(exact),
                "rule": None,
            }
    top_level, top_bp = points[-1]
    if top_level == IAQI_LEVELS[-1]:
        return _fixed(
            500, f"above the {column.name} column's top breakpoint {top_bp} {column.unit}: IAQI 500"
        )
    return None


def _fixed(iaqi: int | None, rule: str) -> dict[str, Any]:
    """A rule, not the table, decides the IAQI (None: this indicator gives none)."""
    return {
        "bp_lo": None,
        "bp_hi": None,
        "iaqi_lo": None,
        "iaqi_hi": None,
        "iaqi_exact": None if iaqi is None else float(iaqi),
        "iaqi": iaqi,
        "rule": rule,
    }


def _concentration(standard: Standard, item: Item, raw: float) -> Decimal:
    value = decimal_of(raw)
    if standard.rounds_concentrations:
        return round_gb8170(value, Decimal("0.1") if item.column.unit == MG else Decimal(1))
    return value


def check_inputs(standard: Standard, report: str, values: dict[str, Any]) -> None:
    """Refuse an unknown report, missing or foreign indicators and negative concentrations, all at once."""
    if report not in standard.reports:
        problem = f"/report: use one of {sorted(standard.reports)}"
        raise InvalidInput(f"{standard.code} has no {report!r} report", errors=[problem])
    items = standard.reports[report]
    allowed = {i.key for i in items + standard.auxiliary[report]}
    problems = [
        f"/{i.key}: required for the {report} report of {standard.code} ({i.description})"
        for i in items
        if values.get(i.key) is None
    ]
    problems += [
        f"/{k}: not an indicator of the {report} report of {standard.code}"
        for k in values
        if k not in allowed
    ]
    problems += [
        f"/{k}: a concentration cannot be negative" for k, v in values.items() if v is not None and v < 0
    ]
    if problems:
        raise InvalidInput(
            f"the {report} report of {standard.code} cannot be computed", errors=sorted(problems)
        )


def compute(standard: Standard, report: str, values: dict[str, Any]) -> dict[str, Any]:
    """AQI, each indicator's IAQI with its breakpoints, primary (2012: exceedance) pollutants, category."""
    values = {k: v for k, v in values.items() if v is not None}
    check_inputs(standard, report, values)
    items: dict[str, Any] = {}
    for item in standard.reports[report]:
        c = _concentration(standard, item, values[item.key])
        scored = _score(item.column, c)
        top = [bp for bp in item.column.breakpoints if bp is not None][-1]
        if scored is None and item.fixed is not None:
            scored = _fixed(item.fixed, f"above {top} {item.column.unit}: IAQI {item.fixed}")
        elif scored is None and item.fallback is not None:
            scored = _fallback(standard, item, values)
        elif scored is None:
            scored = _fixed(
                None,
                f"above {top} {item.column.unit}: no IAQI from this indicator (the 1-hour O3 scores O3)",
            )
        items[item.key] = {
            "pollutant": item.column.pollutant,
            "concentration": float(values[item.key]),
            "concentration_used": float(c),
            "unit": item.column.unit,
            "breakpoints": item.column.name,
            **scored,
        }
    scores = {k: v["iaqi"] for k, v in items.items() if v["iaqi"] is not None}
    aqi = max(scores.values())
    result: dict[str, Any] = {
        "standard": standard.code,
        "report": report,
        "aqi": aqi,
        **category(aqi),
        # 首要污染物: only when the AQI is above 50, every indicator that ties for the maximum
        "primary_pollutants": sorted(k for k, v in scores.items() if v == aqi) if aqi > 50 else [],
        "items": items,
    }
    if standard.exceedance:
        result["exceedance_pollutants"] = sorted(k for k, v in scores.items() if v > 100)
    return result


def _fallback(standard: Standard, item: Item, values: dict[str, Any]) -> dict[str, Any]:
    """HJ 633-2012: a 1-hour SO2 above 800 µg/m³ is not scored; the 24-hour mean's IAQI stands for SO2."""
    assert item.fallback is not None
    raw = values.get(item.fallback)
    if raw is None:
        raise InvalidInput(
            f"{standard.code}: the 1-hour SO2 is above 800 ug/m3",
            errors=[
                f"/{item.fallback}: required when {item.key} > 800 ug/m3 (its 24-hour mean then scores SO2)"
            ],
        )
    scored = _score(SO2_24H, decimal_of(raw))
    assert scored is not None  # the 24-hour column ends at IAQI 500, so every value scores
    scored["rule"] = f"1-hour SO2 above 800 ug/m3: IAQI of the 24-hour mean {raw} ug/m3"
    return scored
