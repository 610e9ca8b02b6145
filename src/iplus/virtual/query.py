"""Pool queries from URL parameters (``q``, ``type``, ``attr.x``, ``near``...) for the API and portal."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

from iplus.core.errors import InvalidInput
from iplus.virtual.pools import AttrFilter, PoolQuery

ATTR_PREFIX = "attr."


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise InvalidInput(f"{where}: {text!r} is not a number") from exc
    if not math.isfinite(value):
        raise InvalidInput(f"{where}: numbers must be finite")
    return value


def attr_filter(key: str, raw: str) -> AttrFilter:
    """``attr.k=v`` is equality (true/false, a number or text); ``lo..hi``, ``lo..``, ``..hi`` a range."""
    where = f"{ATTR_PREFIX}{key}"
    text = raw.strip()
    if ".." in text:
        low, _, high = text.partition("..")
        return AttrFilter(
            key,
            minimum=_number(low, where) if low.strip() else None,
            maximum=_number(high, where) if high.strip() else None,
        )
    if text.lower() in ("true", "false"):
        return AttrFilter(key, equals=text.lower() == "true")
    try:
        number = float(text)
    except ValueError:
        return AttrFilter(key, equals=text)
    if not math.isfinite(number):
        return AttrFilter(key, equals=text)
    return AttrFilter(key, equals=number)


def _time(text: str, where: str) -> datetime:
    for candidate in (text.strip(), text.strip().replace(" ", "+")):  # a '+' decoded from a URL is a space
        try:
            return datetime.fromisoformat(candidate)
        except ValueError:
            continue
    raise InvalidInput(f"{where}: {text!r} is not an ISO 8601 time")


def query_from_params(kind: str | None, params: Iterable[tuple[str, str]]) -> PoolQuery:
    """A ``PoolQuery`` from query-string pairs; empty values are ignored, unknown names refused."""
    values: dict[str, str] = {}
    attrs: list[AttrFilter] = []
    known = {"q", "type", "near", "radius_km", "available_from", "available_to", "offset", "limit", "kind"}
    for name, raw in params:
        if not raw.strip():
            continue
        if name.startswith(ATTR_PREFIX):
            key = name[len(ATTR_PREFIX) :]
            if not key:
                raise InvalidInput("attr.: name the attribute, e.g. attr.material=steel")
            attrs.append(attr_filter(key, raw))
        elif name in known:
            values[name] = raw
        else:
            raise InvalidInput(f"unknown search parameter {name!r}")
    near = None
    if "near" in values:
        parts = values["near"].split(",")
        if len(parts) != 2:
            raise InvalidInput("near: give lat,lon")
        near = (_number(parts[0], "near"), _number(parts[1], "near"))

    def integer(name: str, default: int) -> int:
        if name not in values:
            return default
        try:
            return int(values[name])
        except ValueError as exc:
            raise InvalidInput(f"{name}: {values[name]!r} is not an integer") from exc

    def when(name: str) -> datetime | None:
        return _time(values[name], name) if name in values else None

    return PoolQuery(
        kind=kind if kind is not None else values.get("kind"),
        text=values.get("q"),
        type=values.get("type"),
        attrs=tuple(attrs),
        near=near,
        radius_km=_number(values["radius_km"], "radius_km") if "radius_km" in values else None,
        available_from=when("available_from"),
        available_to=when("available_to"),
        offset=integer("offset", 0),
        limit=integer("limit", 20),
    )
