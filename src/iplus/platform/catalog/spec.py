"""What a provider declares in an offer, and why a declaration is refused."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from iplus.core.jsondoc import json_problems
from iplus.platform.knowledge.algorithms import schema_problems

# the five declared QoS criteria; benefit criteria score up, cost criteria down
CRITERIA = ("price", "time", "reliability", "availability", "capacity")
BENEFIT = frozenset({"reliability", "availability", "capacity"})
COST = frozenset({"price", "time"})
TIME_UNITS = {"s": 1 / 3600, "min": 1 / 60, "h": 1.0, "d": 24.0}
CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_WINDOWS = 200
MAX_THINGS = 50
Schema = dict[str, Any]


@dataclass(frozen=True)
class Window:
    """A span of time, start inclusive, end exclusive, aware UTC."""

    start: datetime
    end: datetime

    def covers(self, other: Window) -> bool:
        """Whether ``other`` lies wholly inside this window."""
        return self.start <= other.start and other.end <= self.end

    def overlaps(self, other: Window) -> bool:
        """Whether the two windows share any instant."""
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class OfferSpec:
    """A version of an offer as the provider sends it."""

    title: str
    capability_type: str
    qos: dict[str, Any]
    inputs: Schema = field(default_factory=lambda: {"type": "object", "properties": {}})
    outputs: Schema = field(default_factory=lambda: {"type": "object", "properties": {}})
    description: str = ""
    calendar: tuple[Window, ...] = ()
    sla: dict[str, Any] = field(default_factory=dict)
    things: tuple[str, ...] = ()
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Qos:
    """Declared QoS in the platform's units: price in its currency, time in hours, the rest as declared."""

    price: float
    currency: str
    time_h: float
    reliability: float
    availability: float
    capacity: float

    def criterion(self, name: str) -> float:
        """The value of one criterion (time in hours)."""
        return self.time_h if name == "time" else float(getattr(self, name))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def parse_qos(qos: Any) -> tuple[Qos | None, list[str]]:
    """Check declared QoS: each criterion ``{"value": number, "unit": ...}`` with a sensible unit."""
    if not isinstance(qos, dict):
        return None, ["qos: an object with price, time, reliability, availability and capacity"]
    problems = [
        f"qos/{k}: unknown criterion (known: {', '.join(CRITERIA)})" for k in qos if k not in CRITERIA
    ]
    values: dict[str, float] = {}
    units: dict[str, str] = {}
    for name in CRITERIA:
        entry = qos.get(name)
        if not isinstance(entry, dict):
            problems.append(f'qos/{name}: required, as {{"value": number, "unit": "..."}}')
            continue
        value, unit = _number(entry.get("value")), entry.get("unit")
        if value is None:
            problems.append(f"qos/{name}/value: a finite number")
            continue
        if not isinstance(unit, str) or not unit:
            problems.append(f"qos/{name}/unit: required")
            continue
        values[name], units[name] = value, unit
    if "price" in values:
        if values["price"] < 0:
            problems.append("qos/price/value: at least 0")
        if not CURRENCY.match(units["price"]):
            problems.append("qos/price/unit: an ISO 4217 currency code such as EUR")
    if "time" in values:
        if values["time"] <= 0:
            problems.append("qos/time/value: more than 0")
        if units["time"] not in TIME_UNITS:
            problems.append(f"qos/time/unit: one of {', '.join(TIME_UNITS)}")
    for name in ("reliability", "availability"):
        if name in values:
            if units[name] != "1":
                problems.append(f'qos/{name}/unit: "1" (a fraction from 0 to 1)')
            if not 0 <= values[name] <= 1:
                problems.append(f"qos/{name}/value: from 0 to 1")
    if "capacity" in values and values["capacity"] <= 0:
        problems.append("qos/capacity/value: more than 0 (orders served at the same time)")
    if problems:
        return None, problems
    return (
        Qos(
            price=values["price"],
            currency=units["price"],
            time_h=values["time"] * TIME_UNITS[units["time"]],
            reliability=values["reliability"],
            availability=values["availability"],
            capacity=values["capacity"],
        ),
        [],
    )


def parse_time(value: Any, where: str, problems: list[str]) -> datetime | None:
    """An ISO 8601 time with an offset, or a reason in ``problems``."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            problems.append(f"{where}: not an ISO 8601 time")
            return None
    else:
        problems.append(f"{where}: an ISO 8601 time")
        return None
    if parsed.tzinfo is None:
        problems.append(f"{where}: needs a UTC offset (e.g. Z)")
        return None
    return parsed


def parse_calendar(raw: Any) -> tuple[tuple[Window, ...], list[str]]:
    """Availability windows ``[{"start": iso, "end": iso}, ...]``; an empty calendar means always open."""
    if not isinstance(raw, list):
        return (), ["calendar: a list of {start, end} windows"]
    if len(raw) > MAX_WINDOWS:
        return (), [f"calendar: at most {MAX_WINDOWS} windows"]
    problems: list[str] = []
    windows = []
    for i, w in enumerate(raw):
        if not isinstance(w, dict):
            problems.append(f"calendar/{i}: an object with start and end")
            continue
        start = parse_time(w.get("start"), f"calendar/{i}/start", problems)
        end = parse_time(w.get("end"), f"calendar/{i}/end", problems)
        if start and end:
            if start >= end:
                problems.append(f"calendar/{i}: start must come before end")
            else:
                windows.append(Window(start, end))
    return tuple(sorted(windows, key=lambda w: w.start)), problems


def calendar_json(windows: tuple[Window, ...]) -> list[dict[str, str]]:
    """Windows as stored and answered."""
    return [{"start": w.start.isoformat(), "end": w.end.isoformat()} for w in windows]


def calendar_of(stored: list[dict[str, Any]]) -> tuple[Window, ...]:
    """Stored windows back as ``Window``s."""
    return tuple(Window(datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"])) for w in stored)


def open_for(calendar: tuple[Window, ...], window: Window) -> bool:
    """Whether the calendar allows work during ``window`` (one calendar window must cover it)."""
    return not calendar or any(w.covers(window) for w in calendar)


def sla_problems(sla: Any) -> list[str]:
    """An SLA is data: ``targets`` {criterion: {"max"|"min": number, "unit"}} and ``penalties``."""
    if not isinstance(sla, dict):
        return ["sla: an object with targets and penalties"]
    problems = [
        f"sla/{k}: unknown (use targets and penalties)" for k in sla if k not in ("targets", "penalties")
    ]
    targets = sla.get("targets", {})
    if not isinstance(targets, dict):
        problems.append("sla/targets: an object keyed by criterion")
        targets = {}
    for name, target in targets.items():
        where = f"sla/targets/{name}"
        if name not in CRITERIA:
            problems.append(f"{where}: unknown criterion")
            continue
        if not isinstance(target, dict) or not ({"max", "min"} & set(target)):
            problems.append(f"{where}: needs max or min")
            continue
        if any(_number(target[b]) is None for b in ("max", "min") if b in target):
            problems.append(f"{where}: max and min are numbers")
        if not isinstance(target.get("unit"), str) or not target.get("unit"):
            problems.append(f"{where}/unit: required")
    penalties = sla.get("penalties", [])
    if not isinstance(penalties, list):
        problems.append("sla/penalties: a list")
        penalties = []
    for i, p in enumerate(penalties):
        where = f"sla/penalties/{i}"
        if not isinstance(p, dict):
            problems.append(f"{where}: an object with breach, amount and unit")
            continue
        if p.get("breach") not in targets:
            problems.append(f"{where}/breach: must name one of the targets")
        amount = _number(p.get("amount"))
        if amount is None or amount < 0:
            problems.append(f"{where}/amount: a number, at least 0")
        if not isinstance(p.get("unit"), str) or not p.get("unit"):
            problems.append(f"{where}/unit: required (a currency or a share of the price, %)")
    return problems


def io_problems(inputs: Any, outputs: Any) -> list[str]:
    """Inputs and outputs are object JSON Schemas whose numbers declare units (as algorithms do)."""
    return schema_problems(inputs, "inputs") + schema_problems(outputs, "outputs")


def input_units(inputs: Schema) -> dict[str, str | None]:
    """Each top-level input and its unit (None when it is not a number)."""
    props = inputs.get("properties") or {}
    return {name: (sub.get("unit") if isinstance(sub, dict) else None) for name, sub in props.items()}


def spec_problems(spec: OfferSpec) -> list[str]:
    """Every reason the offer version cannot be stored (the taxonomy and things are checked elsewhere)."""
    problems = []
    if not spec.title.strip() or len(spec.title) > 200:
        problems.append("title: 1-200 characters")
    if len(spec.description) > 20_000:
        problems.append("description: at most 20,000 characters")
    if "\x00" in spec.title or "\x00" in spec.description:
        problems.append("title and description may not contain NUL characters")
    shape = [
        p for name in ("inputs", "outputs", "qos", "sla") for p in json_problems(getattr(spec, name), name)
    ]
    if shape:  # a too deep schema would also exhaust the stack of the schema checker
        return problems + shape
    problems += io_problems(spec.inputs, spec.outputs)
    problems += parse_qos(spec.qos)[1]
    problems += sla_problems(spec.sla)
    if len(spec.things) > MAX_THINGS:
        problems.append(f"things: at most {MAX_THINGS}")
    if (spec.latitude is None) != (spec.longitude is None):
        problems.append("latitude and longitude: give both or neither")
    if spec.latitude is not None and not -90 <= spec.latitude <= 90:
        problems.append("latitude: from -90 to 90")
    if spec.longitude is not None and not -180 <= spec.longitude <= 180:
        problems.append("longitude: from -180 to 180")
    return problems
