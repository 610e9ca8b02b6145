"""Continuous glucose monitoring metrics by the international consensus, per day and week, with a trend.

Definitions (Battelino T. et al., "Clinical Targets for Continuous Glucose Monitoring Data
Interpretation: Recommendations From the International Consensus on Time in Range", Diabetes Care
2019;42(8):1593-1603):

| metric | range (mg/dL) | target, type 1/2 diabetes | target, older / high-risk |
|---|---|---|---|
| time below range, level 2 (TBR2) | < 54 | < 1 % | (within TBR < 1 %) |
| time below range, level 1 (TBR1) | 54-69 | TBR1 + TBR2 < 4 % | TBR1 + TBR2 < 1 % |
| time in range (TIR) | 70-180 | > 70 % | > 50 % |
| time above range, level 1 (TAR1) | 181-250 | TAR1 + TAR2 < 25 % | |
| time above range, level 2 (TAR2) | > 250 | < 5 % | < 10 % |
| coefficient of variation (CV) | SD / mean x 100 | <= 36 % | <= 36 % |

Read on the value as given: TIR is 70 <= g <= 180, TBR1 54 <= g < 70, TAR1 180 < g <= 250 (the
consensus states integer mg/dL ranges, which sensors report). Percentages are of the readings, which is
the percentage of time for a sensor sampling at a fixed interval. The consensus asks for at least 70 %
of the possible readings over 14 days; ``coverage`` is the share of the period's 5-minute slots that
hold at least one reading (two overlapping sensors do not count twice).

Glucose management indicator (Bergenstal R.M. et al., "Glucose Management Indicator (GMI): A New Term
for Estimating A1C From Continuous Glucose Monitoring", Diabetes Care 2018;41(11):2275-2280):
GMI (%) = 3.31 + 0.02392 x mean glucose (mg/dL).

SD is the sample standard deviation (n - 1), as CGM software and the R package iglu report it. The trend
is the least-squares slope of the daily means over the days that meet the coverage threshold.
"""

from __future__ import annotations

import csv
import gzip
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

RANGES = (
    ("below_54", "< 54 mg/dL"),
    ("from_54_to_69", "54-69 mg/dL"),
    ("in_range", "70-180 mg/dL"),
    ("from_181_to_250", "181-250 mg/dL"),
    ("above_250", "> 250 mg/dL"),
)
SLOT_MINUTES = 5
SUFFICIENT_COVERAGE = 0.7
TARGETS = ("standard", "older_high_risk")


def band(glucose: float) -> str:
    """The consensus range a reading falls in."""
    if glucose < 54:
        return "below_54"
    if glucose < 70:
        return "from_54_to_69"
    if glucose <= 180:
        return "in_range"
    if glucose <= 250:
        return "from_181_to_250"
    return "above_250"


def gmi(mean_glucose: float) -> float:
    """Glucose management indicator in % (Bergenstal 2018) from the mean glucose in mg/dL."""
    return 3.31 + 0.02392 * mean_glucose


def meets_targets(m: dict[str, Any], targets: str = "standard") -> dict[str, bool]:
    """Which consensus targets the metrics meet (standard, or older / high-risk adults)."""
    tbr = m["time_below_70"]
    if targets == "older_high_risk":
        return {
            "time_in_range": m["time_in_range"] > 50,
            "time_below_70": tbr < 1,
            "time_above_250": m["time_above_250"] < 10,
            "cv": m["cv"] <= 36,
        }
    return {
        "time_in_range": m["time_in_range"] > 70,
        "time_below_70": tbr < 4,
        "time_below_54": m["time_below_54"] < 1,
        "time_above_180": m["time_above_180"] < 25,
        "time_above_250": m["time_above_250"] < 5,
        "cv": m["cv"] <= 36,
    }


def metrics(glucose: Sequence[float], targets: str = "standard") -> dict[str, Any]:
    """Mean, SD, CV, GMI and the time in each consensus range (in %) of a set of readings (mg/dL)."""
    problems = []
    if len(glucose) < 2:
        problems.append("/glucose: at least 2 readings (the SD needs two)")
    if targets not in TARGETS:
        problems.append(f"/targets: one of {', '.join(TARGETS)}")
    if any(not math.isfinite(g) or g <= 0 for g in glucose):
        problems.append("/glucose: every reading is a positive number of mg/dL")
    if problems:
        raise ValueError("; ".join(problems))
    n = len(glucose)
    mean = math.fsum(glucose) / n
    sd = math.sqrt(math.fsum((g - mean) ** 2 for g in glucose) / (n - 1))
    counts = dict.fromkeys((k for k, _ in RANGES), 0)
    for g in glucose:
        counts[band(g)] += 1
    pct = {k: 100 * v / n for k, v in counts.items()}
    out: dict[str, Any] = {
        "readings": n,
        "mean_glucose": mean,
        "sd": sd,
        "cv": 100 * sd / mean,
        "gmi": gmi(mean),
        "time_below_54": pct["below_54"],
        "time_54_69": pct["from_54_to_69"],
        "time_in_range": pct["in_range"],
        "time_181_250": pct["from_181_to_250"],
        "time_above_250": pct["above_250"],
        "time_below_70": 100 * (counts["below_54"] + counts["from_54_to_69"]) / n,
        "time_above_180": 100 * (counts["from_181_to_250"] + counts["above_250"]) / n,
        "targets": targets,
    }
    out["meets"] = meets_targets(out, targets)
    return out


def _slots(times: Iterable[datetime]) -> int:
    return len({(t.date(), (t.hour * 60 + t.minute) // SLOT_MINUTES) for t in times})


def period_start(day: date, by: str) -> date:
    """The first day of the day or ISO week (Monday) that ``day`` lies in."""
    return day if by == "day" else day - timedelta(days=day.weekday())


def periods(
    readings: Sequence[tuple[datetime, float]], by: str = "day", targets: str = "standard"
) -> list[dict[str, Any]]:
    """Metrics of each day or ISO week (UTC) holding at least two readings, oldest first."""
    if by not in ("day", "week"):
        raise ValueError("by: day or week")
    groups: dict[date, list[tuple[datetime, float]]] = {}
    for ts, g in readings:
        groups.setdefault(period_start(ts.astimezone(UTC).date(), by), []).append((ts.astimezone(UTC), g))
    days = 1 if by == "day" else 7
    out = []
    for start in sorted(groups):
        rows = groups[start]
        if len(rows) < 2:
            continue
        m = metrics([g for _, g in rows], targets)
        coverage = _slots(t for t, _ in rows) / (days * 24 * 60 // SLOT_MINUTES)
        out.append(
            {"start": start.isoformat(), "days": days, "coverage": coverage}
            | m
            | {"sufficient": coverage >= SUFFICIENT_COVERAGE}
        )
    return out


def slope(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of y on x, or None with fewer than two distinct x."""
    if len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mx = math.fsum(x for x, _ in points) / n
    my = math.fsum(y for _, y in points) / n
    sxx = math.fsum((x - mx) ** 2 for x, _ in points)
    sxy = math.fsum((x - mx) * (y - my) for x, y in points)
    return sxy / sxx


def trend(daily: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Slopes over the sufficient days: mean glucose (mg/dL per day) and time in range (%-points per week)."""
    days = [d for d in daily if d["sufficient"]]
    if not days:
        return {
            "days": 0,
            "mean_glucose_per_day": None,
            "time_in_range_per_week": None,
            "direction": "unknown",
        }
    origin = date.fromisoformat(days[0]["start"])
    xs = [(date.fromisoformat(d["start"]) - origin).days for d in days]
    mean_slope = slope([(x, d["mean_glucose"]) for x, d in zip(xs, days, strict=True)])
    tir_slope = slope([(x, d["time_in_range"]) for x, d in zip(xs, days, strict=True)])
    tir_week = None if tir_slope is None else 7 * tir_slope
    # a change of at least 1 %-point of time in range per week is called a trend; less is stable
    if tir_week is None:
        direction = "unknown"
    elif tir_week >= 1:
        direction = "improving"
    elif tir_week <= -1:
        direction = "worsening"
    else:
        direction = "stable"
    return {
        "days": len(days),
        "mean_glucose_per_day": mean_slope,
        "time_in_range_per_week": tir_week,
        "direction": direction,
    }


def dataset_path() -> Path:
    """bokeh-sampledata's real CGM series (public domain): 52,281 readings, March-October 2010."""
    import bokeh_sampledata

    return Path(bokeh_sampledata.__file__).parent / "_data" / "CGM.csv.gz"


@cache
def sample_series() -> tuple[tuple[datetime, float], ...]:
    """The real CGM series as (time, glucose mg/dL), times as given (local, read as UTC), in order."""
    with gzip.open(dataset_path(), "rt", encoding="utf-8") as f:
        rows = [
            (datetime.fromisoformat(r["datetime"]).replace(tzinfo=UTC), float(r["glucose"]))
            for r in csv.DictReader(f)
            if r.get("glucose")
        ]
    rows.sort(key=lambda r: r[0])
    return tuple(rows)
