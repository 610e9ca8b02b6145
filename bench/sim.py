"""Simulation engine vs bare SimPy: the same M/M/c model, seed and horizon, in the same process."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Generator
from typing import Any

import simpy

from bench.report import row
from iplus.engines.sim import run_replication, validate

PARAMS = {"arrival_rate": 2.4, "service_rate": 1.0, "servers": 3, "horizon": 50_000.0, "warmup": 500.0}
SEED = 42
REPEATS = 7


def bare_simpy(seed: int) -> float:
    """A hand-written SimPy M/M/c script (the baseline): the mean wait of customers after warm-up."""
    rng = random.Random(seed)
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=PARAMS["servers"])
    lam, mu, warmup = PARAMS["arrival_rate"], PARAMS["service_rate"], PARAMS["warmup"]
    waits = [0.0, 0]

    def customer() -> Generator[simpy.Event, Any, None]:
        arrived = env.now
        with servers.request() as req:
            yield req
            start = env.now
            yield env.timeout(rng.expovariate(mu))
        if arrived >= warmup:
            waits[0] += start - arrived
            waits[1] += 1

    def source() -> Generator[simpy.Event, Any, None]:
        while True:
            yield env.timeout(rng.expovariate(lam))
            env.process(customer())

    env.process(source())
    env.run(until=PARAMS["horizon"])
    return waits[0] / waits[1]


def engine(seed: int) -> float:
    """The same model through the engine: scenario, every KPI, the time series."""
    params = validate("queueing_station", PARAMS)
    return run_replication("queueing_station", params, seed).kpis["mean_wait"]


def timed(fn: Any) -> tuple[float, float]:
    start = time.perf_counter()
    value = fn(SEED)
    return time.perf_counter() - start, value


def main() -> None:
    """Alternate the two runs; print median wall times and the median of the paired overhead ratios."""
    bare_times, engine_times = [], []
    for i in range(REPEATS):
        # alternate which goes first, and pair each engine run with the bare run beside it in time
        if i % 2:
            t_engine, engine_wait = timed(engine)
            t_bare, bare_wait = timed(bare_simpy)
        else:
            t_bare, bare_wait = timed(bare_simpy)
            t_engine, engine_wait = timed(engine)
        bare_times.append(t_bare)
        engine_times.append(t_engine)
    bare, eng = statistics.median(bare_times), statistics.median(engine_times)
    overhead = statistics.median(e / b for e, b in zip(engine_times, bare_times, strict=True))
    customers = PARAMS["arrival_rate"] * PARAMS["horizon"]
    print(f"simulation: M/M/3 at rho 0.8, {customers:,.0f} customers, seed {SEED}, median of {REPEATS}")
    row("M/M/c through the engine (customers/s)", customers / eng, customers / bare, "c/s", "bare SimPy")
    same = abs(bare_wait - engine_wait) < 1e-9
    print(f"  wall time: engine {eng:.3f} s, bare {bare:.3f} s; overhead {overhead:.2f} (target <= 1.15)")
    print(f"  mean wait: engine {engine_wait:.4f} min, bare {bare_wait:.4f} min (same sample path: {same})")


if __name__ == "__main__":
    main()
