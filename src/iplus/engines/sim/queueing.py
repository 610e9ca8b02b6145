"""Queueing scenarios: an M/M/c station and a tandem network of M/M/c stations (Jackson in series)."""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

import simpy

from iplus.engines.sim.model import Level, ScenarioKind, StateField
from iplus.engines.sim.schema import Param, Schema

HORIZON = Param("horizon", "number", 10_000.0, "min", "simulated time", exclusive_minimum=0, maximum=1e7)
WARMUP = Param("warmup", "number", 500.0, "min", "initial period left out of the statistics", minimum=0)
ARRIVALS = Param(
    "arrival_rate", "number", 0.8, "1/min", "Poisson arrival rate", exclusive_minimum=0, maximum=1e4
)


class Station:
    """One multi-server FIFO station and its statistics."""

    def __init__(self, env: simpy.Environment, servers: int, rate: float, warmup: float) -> None:
        self.resource = simpy.Resource(env, capacity=servers)
        self.servers = servers
        self.rate = rate
        self.in_system = Level(warmup)
        # busy server time inside the measured window, added when each service starts (its length is
        # known then): cheaper than a level, and the queue is in_system - busy
        self.busy_time = 0.0
        self.waits = 0.0
        self.sojourns = 0.0
        self.measured = 0
        self.departures = 0
        self.max_queue = 0


class Network:
    """Customers arrive by a Poisson process and visit every station in turn."""

    def __init__(
        self,
        env: simpy.Environment,
        params: dict[str, Any],
        rng: random.Random,
        state: dict[str, Any],
        servers: list[int],
        rates: list[float],
    ) -> None:
        self.env = env
        self.rng = rng
        self.warmup = float(params["warmup"])
        self.horizon = float(params["horizon"])
        self.rate = float(params["arrival_rate"])
        self.stations = [Station(env, c, mu, self.warmup) for c, mu in zip(servers, rates, strict=True)]
        # end to end: a single station's own level is the system's
        self.network = len(self.stations) > 1
        self.in_system = Level(self.warmup) if self.network else self.stations[0].in_system
        self.arrivals = 0
        self.sojourn = 0.0
        self.completed = 0
        queues = _per_station(state.get("queue_length", 0), len(self.stations))
        busy = _per_station(state.get("busy_servers", 0), len(self.stations))
        for i, (q, b) in enumerate(zip(queues, busy, strict=True)):
            # the twin's customers already there: those in service first, then the waiting ones
            for _ in range(b + q):
                env.process(self.customer(i, False))
        env.process(self.source())

    def source(self) -> Generator[simpy.Event, Any, None]:
        """Poisson arrivals at the first station."""
        env, expo, rate, warmup, customer = (
            self.env,
            self.rng.expovariate,
            self.rate,
            self.warmup,
            self.customer,
        )
        while True:
            yield env.timeout(expo(rate))
            measured = env.now >= warmup
            if measured:
                self.arrivals += 1
            env.process(customer(0, measured))

    def customer(self, first: int, measured: bool) -> Generator[simpy.Event, Any, None]:
        """One customer's way through the stations from ``first`` on."""
        env, expo, warmup, horizon, network = (
            self.env,
            self.rng.expovariate,
            self.warmup,
            self.horizon,
            self.network,
        )
        now = entered = env.now
        if network:
            self.in_system.add(now, 1)
        for st in self.stations[first:] if first else self.stations:
            arrived = now
            st.in_system.add(now, 1)
            queued = len(st.resource.queue) + 1
            if queued > st.max_queue:
                st.max_queue = queued
            with st.resource.request() as req:
                yield req
                start = env.now
                service = expo(st.rate)
                overlap = min(start + service, horizon) - (start if start > warmup else warmup)
                if overlap > 0:
                    st.busy_time += overlap
                yield env.timeout(service)
                now = env.now
            st.in_system.add(now, -1)
            if now >= warmup:
                st.departures += 1
            if arrived >= warmup:
                st.measured += 1
                st.waits += start - arrived
                st.sojourns += now - arrived
        if network:
            # a single station's own statistics are the end-to-end ones
            self.in_system.add(now, -1)
            if measured:
                self.completed += 1
                self.sojourn += now - entered

    def probe(self) -> dict[str, float]:
        """Customers in the system and in each queue now."""
        out = {"in_system": self.in_system.value}
        if len(self.stations) == 1:
            st = self.stations[0]
            out["in_queue"] = st.in_system.value - st.resource.count
        else:
            for i, st in enumerate(self.stations, 1):
                out[f"s{i}_in_queue"] = st.in_system.value - st.resource.count
        return out

    def kpis(self, now: float) -> dict[str, float]:
        """Little's-law quantities per station and end to end."""
        span = now - self.warmup
        out: dict[str, float] = {
            "arrival_rate": self.arrivals / span,
            "mean_in_system": self.in_system.mean(now),
            "throughput": self.stations[-1].departures / span,
        }
        completed, sojourn = (
            (self.completed, self.sojourn)
            if self.network
            else (self.stations[0].measured, self.stations[0].sojourns)
        )
        out["completed"] = float(completed)
        out["mean_time_in_system"] = sojourn / completed if completed else 0.0
        for i, st in enumerate(self.stations, 1):
            prefix = "" if len(self.stations) == 1 else f"s{i}_"
            out[f"{prefix}mean_wait"] = st.waits / st.measured if st.measured else 0.0
            busy = st.busy_time / span if span > 0 else 0.0
            out[f"{prefix}mean_in_queue"] = st.in_system.mean(now) - busy
            out[f"{prefix}utilisation"] = busy / st.servers
            out[f"{prefix}max_queue"] = float(st.max_queue)
            if prefix:
                out[f"{prefix}mean_in_system"] = st.in_system.mean(now)
                out[f"{prefix}mean_time_in_system"] = st.sojourns / st.measured if st.measured else 0.0
        return out


def _per_station(value: Any, n: int) -> list[int]:
    if isinstance(value, int):
        return [value] + [0] * (n - 1)
    return [int(v) for v in value]


def _build_station(
    env: simpy.Environment, params: dict[str, Any], rng: random.Random, state: dict[str, Any]
) -> Network:
    return Network(env, params, rng, state, [params["servers"]], [params["service_rate"]])


def _build_network(
    env: simpy.Environment, params: dict[str, Any], rng: random.Random, state: dict[str, Any]
) -> Network:
    return Network(env, params, rng, state, params["servers"], params["service_rates"])


def _check_times(params: dict[str, Any]) -> list[dict[str, str]]:
    if params["warmup"] >= params["horizon"]:
        return [{"param": "warmup", "reason": "must be shorter than the horizon"}]
    return []


def _check_network(params: dict[str, Any]) -> list[dict[str, str]]:
    errors = _check_times(params)
    if len(params["servers"]) != len(params["service_rates"]):
        errors.append({"param": "servers", "reason": "needs one entry per service rate"})
    return errors


def _check_state(n: int) -> Any:
    def check(params: dict[str, Any], state: dict[str, Any]) -> list[dict[str, str]]:
        errors = []
        stations = len(params.get("servers", [1])) if n == 0 else n
        servers = params["servers"] if isinstance(params["servers"], list) else [params["servers"]]
        for key in ("queue_length", "busy_servers"):
            value = state.get(key, 0)
            values = [value] if isinstance(value, int) and not isinstance(value, bool) else value
            if (
                not isinstance(values, list)
                or len(values) > stations
                or not all(
                    isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 100_000 for v in values
                )
            ):
                errors.append(
                    {"param": key, "reason": f"must be a count 0..100000 (or a list of {stations})"}
                )
            elif key == "busy_servers" and any(v > c for v, c in zip(values, servers, strict=False)):
                errors.append({"param": key, "reason": "cannot exceed the number of servers"})
        return errors

    return check


def _from_twins(twins: list[dict[str, Any]]) -> dict[str, Any]:
    # one twin per station, in station order
    return {
        "queue_length": [int(t.get("queue_length", 0) or 0) for t in twins],
        "busy_servers": [int(t.get("busy_servers", 0) or 0) for t in twins],
    }


_STATE = (
    StateField("queue_length", "customers waiting at the start (per station)", "queue_length"),
    StateField("busy_servers", "servers busy at the start (per station)", "busy_servers"),
)

STATION = ScenarioKind(
    name="queueing_station",
    title="M/M/c queueing station",
    description="Poisson arrivals, c identical servers with exponential service, first come first served.",
    schema=Schema(
        (
            ARRIVALS,
            Param("service_rate", "number", 1.0, "1/min", "service rate of one server", exclusive_minimum=0),
            Param("servers", "integer", 1, "", "number of servers c", minimum=1, maximum=1000),
            HORIZON,
            WARMUP,
        )
    ),
    build=_build_station,
    kpi_units={
        "arrival_rate": "1/min",
        "mean_in_system": "",
        "mean_time_in_system": "min",
        "throughput": "1/min",
        "completed": "",
        "mean_wait": "min",
        "mean_in_queue": "",
        "utilisation": "",
        "max_queue": "",
    },
    state_fields=_STATE,
    check=_check_times,
    check_state=_check_state(1),
    state_from_twins=_from_twins,
    workload=lambda p: p["arrival_rate"] * p["horizon"],
)

NETWORK = ScenarioKind(
    name="queueing_network",
    title="Tandem network of M/M/c stations",
    description="Poisson arrivals visit every station in series; each station has its own servers and rate.",
    schema=Schema(
        (
            ARRIVALS,
            Param(
                "service_rates",
                "array",
                [1.0, 1.2],
                "1/min",
                "service rate of one server, per station",
                exclusive_minimum=0,
                max_items=20,
            ),
            Param(
                "servers",
                "array",
                [1, 1],
                "",
                "servers per station",
                items="integer",
                minimum=1,
                maximum=1000,
                max_items=20,
            ),
            HORIZON,
            WARMUP,
        )
    ),
    build=_build_network,
    kpi_units={
        "arrival_rate": "1/min",
        "mean_in_system": "",
        "mean_time_in_system": "min",
        "throughput": "1/min",
        "completed": "",
    },
    state_fields=_STATE,
    check=_check_network,
    check_state=_check_state(0),
    state_from_twins=_from_twins,
    workload=lambda p: p["arrival_rate"] * p["horizon"] * len(p["servers"]),
)
