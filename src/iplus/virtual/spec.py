"""A virtual thing before it is stored: kind, type, affordances, attributes, calendar, links."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from iplus.core.clock import as_utc
from iplus.core.errors import InvalidInput
from iplus.core.jsondoc import json_problems
from iplus.virtual.taxonomy import Taxonomy

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
ATTR_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_ATTRIBUTES = 50
MAX_LINKS = 100
MAX_WINDOWS = 1000
MAX_AFFORDANCES = 200
AttrValue = str | float | int | bool


class Kind(StrEnum):
    """What a virtual thing virtualises."""

    RESOURCE = "resource"
    CAPABILITY = "capability"
    PRODUCT = "product"


class Visibility(StrEnum):
    """Who finds a thing in the pools: its own organisation only, or everyone."""

    PRIVATE = "private"
    PUBLIC = "public"


@dataclass(frozen=True)
class Window:
    """A half-open time span [starts_at, ends_at) in which a thing is available (aware datetimes)."""

    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class LinkSpec:
    """A device grounding the thing; ``mapping`` names {virtual property: twin property}."""

    device_id: str
    mapping: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ThingSpec:
    """Everything needed to create or replace a virtual thing."""

    kind: str
    type: str
    title: str
    description: str = ""
    visibility: str = Visibility.PRIVATE.value
    attributes: dict[str, AttrValue] = field(default_factory=dict)
    latitude: float | None = None
    longitude: float | None = None
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    actions: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    links: tuple[LinkSpec, ...] = ()
    calendar: tuple[Window, ...] = ()


def merge_windows(windows: list[Window] | tuple[Window, ...]) -> list[Window]:
    """Windows sorted and merged where they overlap or touch, so one window covers any covered span."""
    out: list[Window] = []
    for w in sorted(windows, key=lambda w: w.starts_at):
        if out and w.starts_at <= out[-1].ends_at:
            if w.ends_at > out[-1].ends_at:
                out[-1] = Window(out[-1].starts_at, w.ends_at)
        else:
            out.append(w)
    return out


def in_utc_range(*times: datetime) -> bool:
    """Whether every aware time has a UTC equivalent (9999-12-31T23:00-05:00 has none)."""
    try:
        for t in times:
            as_utc(t)
    except OverflowError:
        return False
    return True


def _check_affordances(spec: ThingSpec, problems: list[str]) -> None:
    for group, items in (("properties", spec.properties), ("actions", spec.actions), ("events", spec.events)):
        if not isinstance(items, dict):
            problems.append(f"{group}: must be an object of name: affordance")
            continue
        problems += json_problems(items, group)
        if len(items) > MAX_AFFORDANCES:
            problems.append(f"{group}: at most {MAX_AFFORDANCES}")
        for name, aff in items.items():
            if not NAME.match(str(name)):
                problems.append(
                    f"{group}/{name}: a name is 1-64 letters, digits or '_', starting with a letter"
                )
            if not isinstance(aff, dict):
                problems.append(f"{group}/{name}: must be an object")


def _check_attributes(attributes: Any, problems: list[str]) -> None:
    if not isinstance(attributes, dict):
        problems.append("attributes: must be an object of key: value")
        return
    if len(attributes) > MAX_ATTRIBUTES:
        problems.append(f"attributes: at most {MAX_ATTRIBUTES}")
    for key, value in attributes.items():
        if not ATTR_KEY.match(str(key)):
            problems.append(f"attributes/{key}: a key is 1-64 lower-case letters, digits or '_'")
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            if not math.isfinite(value):
                problems.append(f"attributes/{key}: numbers must be finite")
        elif isinstance(value, str):
            if len(value) > 500:
                problems.append(f"attributes/{key}: text is longer than 500 characters")
        else:
            problems.append(f"attributes/{key}: a value is a string, number or boolean")


def check_spec(spec: ThingSpec, taxonomy: Taxonomy) -> list[str]:
    """Every problem of ``spec`` that needs no store (the service checks devices and the TD itself)."""
    problems: list[str] = []
    if spec.kind not in {k.value for k in Kind}:
        problems.append(f"kind: must be one of {', '.join(k.value for k in Kind)}")
    if spec.type not in taxonomy:
        problems.append(f"type: unknown type {spec.type!r} (see GET /api/v1/taxonomy)")
    else:
        node = taxonomy.get(spec.type)
        if node.kind != spec.kind:
            problems.append(f"type: {node.id!r} is a {node.kind} type, not a {spec.kind} type")
        elif node.depth < 1:
            problems.append("type: give a domain or a type below it, not a bare kind")
    if not spec.title.strip():
        problems.append("title: must not be empty")
    elif len(spec.title) > 200:
        problems.append("title: longer than 200 characters")
    if len(spec.description) > 10_000:
        problems.append("description: longer than 10,000 characters")
    if spec.visibility not in {v.value for v in Visibility}:
        problems.append("visibility: must be private or public")
    if (spec.latitude is None) != (spec.longitude is None):
        problems.append("location: give both latitude and longitude, or neither")
    if spec.latitude is not None and not (math.isfinite(spec.latitude) and -90 <= spec.latitude <= 90):
        problems.append("latitude: must be between -90 and 90")
    if spec.longitude is not None and not (math.isfinite(spec.longitude) and -180 <= spec.longitude <= 180):
        problems.append("longitude: must be between -180 and 180")
    _check_attributes(spec.attributes, problems)
    _check_affordances(spec, problems)
    if len(spec.calendar) > MAX_WINDOWS:
        problems.append(f"calendar: at most {MAX_WINDOWS} windows")
    for i, w in enumerate(spec.calendar):
        if w.starts_at.tzinfo is None or w.ends_at.tzinfo is None:
            problems.append(f"calendar/{i}: times need a UTC offset")
        elif not in_utc_range(w.starts_at, w.ends_at):
            problems.append(f"calendar/{i}: a time is out of range in UTC")
        elif not w.starts_at < w.ends_at:
            problems.append(f"calendar/{i}: starts_at must be before ends_at")
    if len(spec.links) > MAX_LINKS:
        problems.append(f"links: at most {MAX_LINKS}")
    devices = [link.device_id for link in spec.links]
    if len(devices) != len(set(devices)):
        problems.append("links: the same device is linked twice")
    mapped: dict[str, str] = {}
    for link in spec.links:
        for vprop, tprop in link.mapping.items():
            if vprop not in spec.properties:
                problems.append(f"links/{link.device_id}: {vprop!r} is not a property of the thing")
            if not isinstance(tprop, str) or not tprop:
                problems.append(f"links/{link.device_id}/{vprop}: name the twin property as text")
            if vprop in mapped:
                problems.append(
                    f"links: property {vprop!r} is fed by both {mapped[vprop]} and {link.device_id}"
                )
            mapped[vprop] = link.device_id
    return problems


def _time(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInput(f"{where}: {value!r} is not an ISO 8601 time") from exc


def spec_from_dict(data: Any) -> ThingSpec:
    """A ``ThingSpec`` from plain data (an imported YAML/JSON document); shape errors are ``InvalidInput``."""
    if not isinstance(data, dict):
        raise InvalidInput("a virtual thing must be an object")
    known = {
        "kind",
        "type",
        "title",
        "description",
        "visibility",
        "attributes",
        "location",
        "properties",
        "actions",
        "events",
        "links",
        "calendar",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(unknown)}")
    location = data.get("location") or {}
    if not isinstance(location, dict):
        raise InvalidInput("location: must be {lat, lon}")
    links = []
    for i, link in enumerate(data.get("links") or []):
        if not isinstance(link, dict) or not isinstance(link.get("device_id"), str):
            raise InvalidInput(f"links/{i}: must be {{device_id, mapping}}")
        mapping = link.get("mapping") or {}
        if not isinstance(mapping, dict):
            raise InvalidInput(f"links/{i}/mapping: must be {{virtual property: twin property}}")
        links.append(LinkSpec(link["device_id"], {str(k): v for k, v in mapping.items()}))
    windows = []
    for i, w in enumerate(data.get("calendar") or []):
        if not isinstance(w, dict):
            raise InvalidInput(f"calendar/{i}: must be {{starts_at, ends_at}}")
        windows.append(
            Window(_time(w.get("starts_at"), f"calendar/{i}"), _time(w.get("ends_at"), f"calendar/{i}"))
        )

    def floats(key: str) -> float | None:
        value = location.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"location/{key}: must be a number")
        return float(value)

    return ThingSpec(
        kind=str(data.get("kind", "")),
        type=str(data.get("type", "")),
        title=str(data.get("title", "")),
        description=str(data.get("description") or ""),
        visibility=str(data.get("visibility") or Visibility.PRIVATE.value),
        attributes=data.get("attributes") or {},
        latitude=floats("lat"),
        longitude=floats("lon"),
        properties=data.get("properties") or {},
        actions=data.get("actions") or {},
        events=data.get("events") or {},
        links=tuple(links),
        calendar=tuple(windows),
    )


def utc_windows(windows: tuple[Window, ...]) -> list[Window]:
    """The calendar in UTC, merged."""
    return merge_windows([Window(as_utc(w.starts_at), as_utc(w.ends_at)) for w in windows])
