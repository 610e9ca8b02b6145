"""What every scenario is: a SimPy model built from validated parameters, a seed and an initial state."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import simpy

from iplus.engines.sim.schema import Schema


class Level:
    """A piecewise-constant quantity (queue length, WIP, busy servers) and its time average after warm-up."""

    __slots__ = ("area", "last", "start", "value")

    def __init__(self, start: float, value: float = 0.0) -> None:
        self.start = start
        self.value = value
        self.last = 0.0
        self.area = 0.0

    def set(self, now: float, value: float) -> None:
        """The quantity changes to ``value`` at time ``now``."""
        start, last = self.start, self.last
        if now > start:
            self.area += self.value * (now - (last if last > start else start))
        self.last = now
        self.value = value

    def add(self, now: float, delta: float) -> None:
        """The quantity changes by ``delta`` at time ``now``."""
        start, last, value = self.start, self.last, self.value
        if now > start:
            self.area += value * (now - (last if last > start else start))
        self.last = now
        self.value = value + delta

    def mean(self, now: float) -> float:
        """Time average over [start, now]."""
        if now <= self.start:
            return self.value
        area = self.area + self.value * (now - (self.last if self.last > self.start else self.start))
        return area / (now - self.start)


class Model(Protocol):
    """A built scenario: its processes are registered on the environment it was built on."""

    def probe(self) -> dict[str, float]:
        """The values sampled into the time series now."""
        ...

    def kpis(self, now: float) -> dict[str, float]:
        """Summary indicators over the measured period, at the end of the run."""
        ...


Builder = Callable[[simpy.Environment, dict[str, Any], random.Random, dict[str, Any]], Model]


@dataclass(frozen=True)
class StateField:
    """One field of a scenario's initial state and the twin property that fills it."""

    name: str
    description: str
    twin_property: str


@dataclass(frozen=True)
class ScenarioKind:
    """A registered scenario kind: parameter schema, model builder, initial state and its checks."""

    name: str
    title: str
    description: str
    schema: Schema
    build: Builder
    kpi_units: dict[str, str]
    state_fields: tuple[StateField, ...] = ()
    check: Callable[[dict[str, Any]], list[dict[str, str]]] = field(default=lambda p: [])
    check_state: Callable[[dict[str, Any], dict[str, Any]], list[dict[str, str]]] = field(
        default=lambda p, s: []
    )
    state_from_twins: Callable[[list[dict[str, Any]]], dict[str, Any]] = field(default=lambda t: {})
    # expected entity visits in one replication: bounds the work one request can ask for
    workload: Callable[[dict[str, Any]], float] = field(default=lambda p: 0.0)

    def describe(self) -> dict[str, Any]:
        """Name, title, parameter JSON Schema, KPI units and initial-state fields, for the API and CLI."""
        return {
            "kind": self.name,
            "title": self.title,
            "description": self.description,
            "parameters": self.schema.json_schema(self.title, self.description),
            "kpis": self.kpi_units,
            "initial_state": [
                {"name": f.name, "description": f.description, "twin_property": f.twin_property}
                for f in self.state_fields
            ],
        }
