"""SQL shared by the telemetry adapters: the WHERE clause of a selection, aggregate expressions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from iplus.core.errors import InvalidInput
from iplus.infra.telemetry import AGGREGATES, Selection

MAX_ROWS = 1_000_000


def where(
    sel: Selection, param: Callable[[Any], str], ts: Callable[[datetime], Any]
) -> tuple[str, list[Any]]:
    """``WHERE ...`` for a selection; ``param`` renders the next placeholder, ``ts`` converts times."""
    clauses: list[str] = [f"org_id = {param(sel.org_id)}"]
    params: list[Any] = [sel.org_id]
    if sel.device_ids is not None:
        clauses.append(f"device_id = ANY({param(sel.device_ids)})")
        params.append(list(sel.device_ids))
    if sel.keys is not None:
        clauses.append(f"key = ANY({param(sel.keys)})")
        params.append(list(sel.keys))
    if sel.start is not None:
        clauses.append(f"ts >= {param(sel.start)}")
        params.append(ts(sel.start))
    if sel.end is not None:
        clauses.append(f"ts < {param(sel.end)}")
        params.append(ts(sel.end))
    if sel.start is not None and sel.end is not None and sel.end <= sel.start:
        raise InvalidInput("the end of the time range must be after its start")
    return "WHERE " + " AND ".join(clauses), params


def check_aggregates(names: list[str]) -> list[str]:
    """Validate aggregate names, keeping their order."""
    if not names:
        raise InvalidInput(f"choose at least one aggregate of {', '.join(AGGREGATES)}")
    bad = [n for n in names if n not in AGGREGATES]
    if bad:
        raise InvalidInput(f"unknown aggregates {', '.join(bad)}: choose from {', '.join(AGGREGATES)}")
    return list(dict.fromkeys(names))


def check_bucket(seconds: float) -> int:
    """Bucket width in microseconds (at least one second, at most a year)."""
    if not 1 <= seconds <= 366 * 86_400:
        raise InvalidInput("bucket width must be between 1 second and 366 days")
    return int(seconds * 1_000_000)


def check_limit(limit: int) -> int:
    """A row limit within bounds."""
    if not 1 <= limit <= MAX_ROWS:
        raise InvalidInput(f"limit must be between 1 and {MAX_ROWS}")
    return limit
