"""Algorithms every organisation gets: queueing (Erlang B and C) and steady-state availability."""

from __future__ import annotations

import math
from typing import Any

from iplus.platform.knowledge.algorithms import Algorithm, AlgorithmRegistry

HOURS_PER_YEAR = 8760.0


def erlang_b(servers: int, offered_traffic: float) -> float:
    """Blocking of an M/M/c/c loss system, by the stable recursion B(k) = aB(k-1)/(k + aB(k-1))."""
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_traffic * blocking / (k + offered_traffic * blocking)
    return blocking


def _erlang_b_algorithm(*, offered_traffic: float, servers: int) -> dict[str, Any]:
    blocking = erlang_b(servers, offered_traffic)
    return {
        "blocking_probability": blocking,
        "carried_traffic": offered_traffic * (1 - blocking),
        "lost_traffic": offered_traffic * blocking,
    }


def _mmc_algorithm(
    *, arrival_rate: float, service_rate: float, servers: int, target_wait: float | None = None
) -> dict[str, Any]:
    offered = arrival_rate / service_rate
    utilisation = offered / servers
    if utilisation >= 1:
        raise ValueError(
            f"the queue is unstable: utilisation {utilisation:.3f} >= 1 "
            "(arrival_rate must be below servers x service_rate)"
        )
    blocking = erlang_b(servers, offered)
    # Erlang C from Erlang B: C = B / (1 - rho (1 - B)); stable for hundreds of servers
    wait_probability = blocking / (1 - utilisation * (1 - blocking))
    mean_queue = wait_probability * utilisation / (1 - utilisation)
    mean_wait = mean_queue / arrival_rate
    mean_time = mean_wait + 1 / service_rate
    result: dict[str, Any] = {
        "utilisation": utilisation,
        "probability_wait": wait_probability,
        "mean_queue_length": mean_queue,
        "mean_in_system": arrival_rate * mean_time,
        "mean_wait": mean_wait,
        "mean_time_in_system": mean_time,
    }
    if target_wait is not None:
        # P(Wq <= t) = 1 - C e^{-(c mu - lambda) t}
        result["service_level"] = 1 - wait_probability * math.exp(
            -(servers * service_rate - arrival_rate) * target_wait
        )
    return result


def _availability_algorithm(*, mtbf: float, mttr: float, units: int, arrangement: str) -> dict[str, Any]:
    unit = mtbf / (mtbf + mttr)
    system = unit**units if arrangement == "series" else 1 - (1 - unit) ** units
    return {
        "unit_availability": unit,
        "availability": system,
        "downtime_per_year": (1 - system) * HOURS_PER_YEAR,
    }


def _number(unit: str, description: str, **bounds: Any) -> dict[str, Any]:
    return {"type": "number", "unit": unit, "description": description, **bounds}


def _count(description: str, **bounds: Any) -> dict[str, Any]:
    return {"type": "integer", "unit": "1", "description": description, "minimum": 1, **bounds}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _share(description: str) -> dict[str, Any]:
    return {"type": "number", "unit": "1", "minimum": 0, "maximum": 1, "description": description}


BUILTIN = (
    Algorithm(
        id="queueing.erlang_b",
        version="1.0.0",
        title="Erlang B: blocking in a loss system (M/M/c/c)",
        description="Probability that a request finds all servers busy and is lost; traffic in erlang.",
        inputs=_object(
            {
                "offered_traffic": _number(
                    "1", "offered traffic in erlang (arrival rate x mean holding time)", minimum=0
                ),
                "servers": _count("number of servers, lines or chargers", maximum=100_000),
            },
            ["offered_traffic", "servers"],
        ),
        outputs=_object(
            {
                "blocking_probability": _share("probability that a request is lost"),
                "carried_traffic": _number("1", "traffic served, erlang", minimum=0),
                "lost_traffic": _number("1", "traffic lost, erlang", minimum=0),
            },
            ["blocking_probability", "carried_traffic", "lost_traffic"],
        ),
        fn=_erlang_b_algorithm,
        tags=("queueing", "capacity"),
        references=("ITU-T E.520 / Erlang's loss formula",),
    ),
    Algorithm(
        id="queueing.mmc",
        version="1.0.0",
        title="Erlang C: waiting in an M/M/c queue",
        description="Steady-state waiting probability, queue length and times of c servers, Poisson arrivals "
        "and exponential service; rates per hour, times in hours.",
        inputs=_object(
            {
                "arrival_rate": _number("/h", "mean arrivals per hour", exclusiveMinimum=0),
                "service_rate": _number("/h", "mean services per hour by one server", exclusiveMinimum=0),
                "servers": _count("number of servers", maximum=100_000),
                "target_wait": _number("h", "answer time for the service level P(wait <= target)", minimum=0),
            },
            ["arrival_rate", "service_rate", "servers"],
        ),
        outputs=_object(
            {
                "utilisation": _share("share of time a server is busy (rho)"),
                "probability_wait": _share("probability that an arrival waits (Erlang C)"),
                "mean_queue_length": _number("1", "mean number waiting (Lq)", minimum=0),
                "mean_in_system": _number("1", "mean number in the system (L)", minimum=0),
                "mean_wait": _number("h", "mean wait before service (Wq)", minimum=0),
                "mean_time_in_system": _number("h", "mean time in the system (W)", minimum=0),
                "service_level": _share("probability of waiting at most target_wait"),
            },
            [
                "utilisation",
                "probability_wait",
                "mean_queue_length",
                "mean_in_system",
                "mean_wait",
                "mean_time_in_system",
            ],
        ),
        fn=_mmc_algorithm,
        tags=("queueing", "capacity"),
        references=("Erlang C formula; Little's law L = lambda W",),
    ),
    Algorithm(
        id="reliability.availability",
        version="1.0.0",
        title="Steady-state availability of units in series or in parallel",
        description="A = MTBF / (MTBF + MTTR) per unit; n units in series all needed (A^n), "
        "in parallel any one enough (1 - (1 - A)^n).",
        inputs=_object(
            {
                "mtbf": _number("h", "mean time between failures", exclusiveMinimum=0),
                "mttr": _number("h", "mean time to repair", minimum=0),
                "units": {**_count("number of identical units", maximum=1000), "default": 1},
                "arrangement": {"type": "string", "enum": ["series", "parallel"], "default": "series"},
            },
            ["mtbf", "mttr"],
        ),
        outputs=_object(
            {
                "unit_availability": _share("availability of one unit"),
                "availability": _share("availability of the arrangement"),
                "downtime_per_year": _number("h", "expected downtime in 8,760 hours", minimum=0),
            },
            ["unit_availability", "availability", "downtime_per_year"],
        ),
        fn=_availability_algorithm,
        tags=("reliability", "maintenance"),
        references=("IEC 60050-192 (availability); reliability block diagrams",),
    ),
)


def register_builtin(registry: AlgorithmRegistry) -> None:
    """Register the platform's own algorithms."""
    for algorithm in BUILTIN:
        registry.register(algorithm)
