"""EV charging station: Poisson arrivals, fixed-power chargers, energy demand from battery states."""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

import simpy

from iplus.engines.sim.model import Level, ScenarioKind, StateField
from iplus.engines.sim.schema import Param, Schema


class Station:
    """Chargers as a FIFO resource; drivers leave when they have waited ``max_wait`` (0: they never do)."""

    def __init__(
        self, env: simpy.Environment, params: dict[str, Any], rng: random.Random, state: dict[str, Any]
    ) -> None:
        self.env = env
        self.rng = rng
        self.p = params
        self.warmup = float(params["warmup"])
        self.chargers = simpy.Resource(env, capacity=params["chargers"])
        self.power = float(params["charger_power"])
        self.occupied = Level(self.warmup)
        self.queue = Level(self.warmup)
        self.arrivals = 0
        self.served = 0
        self.reneged = 0
        self.waited = 0
        self.wait_total = 0.0
        self.energy = 0.0
        for soc in state.get("chargers_occupied", []):
            env.process(self.vehicle(float(soc), measured=False))
        for _ in range(int(state.get("queue_length", 0))):
            env.process(self.vehicle(self._soc(), measured=False))
        env.process(self.source())

    def _soc(self) -> float:
        return self.rng.uniform(self.p["arrival_soc_min"], self.p["arrival_soc_max"])

    def source(self) -> Generator[simpy.Event, Any, None]:
        """Poisson arrivals with a uniformly distributed state of charge."""
        env, rate = self.env, float(self.p["arrival_rate"])
        while True:
            yield env.timeout(self.rng.expovariate(rate))
            measured = env.now >= self.warmup
            if measured:
                self.arrivals += 1
            env.process(self.vehicle(self._soc(), measured=measured))

    def vehicle(self, soc: float, *, measured: bool) -> Generator[simpy.Event, Any, None]:
        """Wait for a charger (or give up), charge to the target at constant power, leave."""
        env = self.env
        arrived = env.now
        self.queue.add(arrived, 1)
        patience = float(self.p["max_wait"])
        req = self.chargers.request()
        if patience > 0:
            outcome = yield req | env.timeout(patience)
            if req not in outcome:
                req.cancel()
                self.queue.add(env.now, -1)
                if measured:
                    self.reneged += 1
                return
        else:
            yield req
        now = env.now
        self.queue.add(now, -1)
        self.occupied.add(now, 1)
        energy = max(0.0, (self.p["target_soc"] - soc) * self.p["battery_capacity"])
        yield env.timeout(energy / self.power)
        self.chargers.release(req)
        end = env.now
        self.occupied.add(end, -1)
        if end > self.warmup:
            # energy is counted for the part of the session inside the measured period
            start = max(now, self.warmup)
            self.energy += self.power * (end - start) if end > now else 0.0
        if measured:
            self.served += 1
            self.wait_total += now - arrived
            if now > arrived:
                self.waited += 1

    def probe(self) -> dict[str, float]:
        """Chargers in use, vehicles waiting and power drawn now."""
        busy = self.occupied.value
        return {"occupied": busy, "waiting": self.queue.value, "power_kw": busy * self.power}

    def kpis(self, now: float) -> dict[str, float]:
        """Waiting, utilisation, energy and the share of drivers who gave up."""
        span = now - self.warmup
        occupied = self.occupied.mean(now)
        decided = self.served + self.reneged
        return {
            "arrival_rate": self.arrivals / span,
            "served": float(self.served),
            "mean_wait": self.wait_total / self.served if self.served else 0.0,
            "probability_wait": self.waited / self.served if self.served else 0.0,
            "reneged_share": self.reneged / decided if decided else 0.0,
            "mean_waiting": self.queue.mean(now),
            "utilisation": occupied / self.p["chargers"],
            "mean_power": occupied * self.power,
            "energy_delivered": self.energy,
        }


def _check(params: dict[str, Any]) -> list[dict[str, str]]:
    errors = []
    if params["warmup"] >= params["horizon"]:
        errors.append({"param": "warmup", "reason": "must be shorter than the horizon"})
    if params["arrival_soc_min"] > params["arrival_soc_max"]:
        errors.append({"param": "arrival_soc_min", "reason": "must not exceed arrival_soc_max"})
    if params["arrival_soc_max"] > params["target_soc"]:
        errors.append({"param": "arrival_soc_max", "reason": "must not exceed target_soc"})
    return errors


def _check_state(params: dict[str, Any], state: dict[str, Any]) -> list[dict[str, str]]:
    errors = []
    occ = state.get("chargers_occupied", [])
    if (
        not isinstance(occ, list)
        or len(occ) > params["chargers"]
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in occ)
    ):
        errors.append(
            {
                "param": "chargers_occupied",
                "reason": f"must list at most {params['chargers']} states of charge 0..1",
            }
        )
    q = state.get("queue_length", 0)
    if isinstance(q, bool) or not isinstance(q, int) or not 0 <= q <= 10_000:
        errors.append({"param": "queue_length", "reason": "must be a count 0..10000"})
    return errors


def _from_twins(twins: list[dict[str, Any]]) -> dict[str, Any]:
    # one twin per charger: occupied flag and the plugged car's state of charge (0..1 or percent)
    socs = []
    for t in twins:
        if t.get("occupied"):
            soc = float(t.get("soc", 0.0) or 0.0)
            socs.append(min(1.0, max(0.0, soc / 100 if soc > 1 else soc)))
    queue = max((int(t.get("queue_length", 0) or 0) for t in twins), default=0)
    return {"chargers_occupied": socs, "queue_length": queue}


CHARGING = ScenarioKind(
    name="ev_charging",
    title="EV charging station",
    description="Cars arrive at random, charge from their state of charge to a target at constant power, "
    "and wait for a free charger or give up.",
    schema=Schema(
        (
            Param(
                "arrival_rate",
                "number",
                4.0,
                "1/h",
                "Poisson arrival rate of cars",
                exclusive_minimum=0,
                maximum=10_000,
            ),
            Param("chargers", "integer", 4, "", "number of chargers", minimum=1, maximum=1000),
            Param(
                "charger_power",
                "number",
                50.0,
                "kW",
                "power of one charger",
                exclusive_minimum=0,
                maximum=1000,
            ),
            Param(
                "battery_capacity",
                "number",
                60.0,
                "kWh",
                "usable battery capacity",
                exclusive_minimum=0,
                maximum=500,
            ),
            Param(
                "arrival_soc_min",
                "number",
                0.1,
                "",
                "lowest state of charge on arrival",
                minimum=0,
                maximum=1,
            ),
            Param(
                "arrival_soc_max",
                "number",
                0.5,
                "",
                "highest state of charge on arrival",
                minimum=0,
                maximum=1,
            ),
            Param(
                "target_soc", "number", 0.8, "", "state of charge at which a car leaves", minimum=0, maximum=1
            ),
            Param("max_wait", "number", 0.0, "h", "patience before giving up (0 = unlimited)", minimum=0),
            Param("horizon", "number", 1000.0, "h", "simulated time", exclusive_minimum=0, maximum=1e6),
            Param("warmup", "number", 24.0, "h", "initial period left out of the statistics", minimum=0),
        )
    ),
    build=Station,
    kpi_units={
        "arrival_rate": "1/h",
        "served": "cars",
        "mean_wait": "h",
        "probability_wait": "",
        "reneged_share": "",
        "mean_waiting": "cars",
        "utilisation": "",
        "mean_power": "kW",
        "energy_delivered": "kWh",
    },
    state_fields=(
        StateField("chargers_occupied", "state of charge (0..1) of each car plugged in at the start", "soc"),
        StateField("queue_length", "cars waiting at the start", "queue_length"),
    ),
    check=_check,
    check_state=_check_state,
    state_from_twins=_from_twins,
    workload=lambda p: p["arrival_rate"] * p["horizon"],
)
