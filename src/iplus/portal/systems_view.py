"""What the service-system pages draw: timetable bars, constraint checks and chart geometry (no decisions)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from iplus.platform.systems.requirement import ATTRIBUTES, Choice, Loop, Node, Parallel, Task
from iplus.platform.systems.requirement import Sequence as Steps

# attribute -> (global constraint, "max" or "min"); reputation has no global bound
BOUNDS: dict[str, tuple[str, str]] = {
    "time": ("deadline_h", "max"),
    "cost": ("budget", "max"),
    "reliability": ("min_reliability", "min"),
    "availability": ("min_availability", "min"),
}
NONE = "\u2013"  # an en dash: no value
GANTT_WIDTH = 760
GANTT_LABEL = 170
GANTT_ROW = 24
TOLERANCE = 1e-9


def number(value: Any, digits: int = 4) -> str:
    """A number for people: ``digits`` significant digits, a dash for none."""
    if value is None:
        return NONE
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if not math.isfinite(value):
        return NONE
    return f"{value:.{digits}g}"


def constraint_rows(aggregate: Mapping[str, Any], constraints: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each QoS attribute of the whole plan beside its global bound and whether the plan keeps it."""
    rows = []
    currency = constraints.get("currency") or ""
    for attribute in ATTRIBUTES:
        value = aggregate.get(attribute)
        key, kind = BOUNDS.get(attribute, ("", ""))
        bound = constraints.get(key) if key else None
        kept: bool | None = None
        if isinstance(value, int | float) and isinstance(bound, int | float):
            kept = value <= bound + TOLERANCE if kind == "max" else value >= bound - TOLERANCE
        unit = {"time": "h", "cost": currency}.get(attribute, "")
        rows.append(
            {
                "attribute": attribute,
                "value": value,
                "bound": bound,
                "kind": kind,
                "unit": unit,
                "kept": kept,
            }
        )
    return rows


def _when(raw: str) -> datetime:
    return datetime.fromisoformat(raw)


def gantt(schedule: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Bars of the timetable in SVG coordinates: one row per task execution, hour ticks below."""
    items: Sequence[Mapping[str, Any]] = (schedule or {}).get("items") or []
    if not items:
        return None
    starts = [_when(i["start"]) for i in items]
    ends = [_when(i["end"]) for i in items]
    t0, t1 = min(starts), max(ends)
    span_s = max((t1 - t0).total_seconds(), 60.0)
    plot = GANTT_WIDTH - GANTT_LABEL - 10
    repeated = {i["task"] for i in items if i.get("iteration")}
    rows = []
    for n, (item, a, b) in enumerate(zip(items, starts, ends, strict=True)):
        x = GANTT_LABEL + (a - t0).total_seconds() / span_s * plot
        width = max(2.0, (b - a).total_seconds() / span_s * plot)
        label = item["task"] + (f" #{item['iteration'] + 1}" if item["task"] in repeated else "")
        rows.append(
            {
                "label": label,
                "offer_id": item["offer_id"],
                "start": item["start"],
                "end": item["end"],
                "x": round(x, 1),
                "y": 20 + n * GANTT_ROW,
                "width": round(width, 1),
                "from_h": (a - t0).total_seconds() / 3600,
                "to_h": (b - t0).total_seconds() / 3600,
            }
        )
    span_h = span_s / 3600
    ticks = [
        {
            "x": round(GANTT_LABEL + k / 4 * plot, 1),
            "label": f"{span_h * k / 4:.3g} h",
            "anchor": "end" if k == 4 else "middle",  # the last label would run off the right edge
        }
        for k in range(5)
    ]
    return {
        "rows": rows,
        "ticks": ticks,
        "width": GANTT_WIDTH,
        "height": 20 + len(rows) * GANTT_ROW + 24,
        "axis_y": 20 + len(rows) * GANTT_ROW + 4,
        "start": t0.isoformat(),
        "span_h": span_h,
    }


def task_titles(root: Node) -> dict[str, str]:
    """Each task id's place in the graph, said plainly (for example 'in a loop of 3')."""
    out: dict[str, str] = {}

    def walk(node: Node, where: str) -> None:
        if isinstance(node, Task):
            out[node.id] = where
        elif isinstance(node, Steps):
            for step in node.steps:
                walk(step, where)
        elif isinstance(node, Parallel):
            for branch in node.branches:
                walk(branch, (where + ", " if where else "") + "in parallel")
        elif isinstance(node, Choice):
            for p, branch in node.branches:
                walk(branch, (where + ", " if where else "") + f"chosen with p={p:g}")
        elif isinstance(node, Loop):
            walk(node.body, (where + ", " if where else "") + f"in a loop of {node.count}")

    walk(root, "")
    return out


def bars(values: Sequence[float | None], width: float = 260.0) -> list[float]:
    """Bar lengths in pixels for values on one scale (the largest fills ``width``)."""
    finite = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    top = max(finite, default=0.0)
    return [
        round(v / top * width, 1) if top and v is not None and math.isfinite(v) and v > 0 else 0.0
        for v in values
    ]
