"""Runs: one replication is a pure function of (kind, parameters, seed, initial state)."""

from __future__ import annotations

import importlib
import math
import random
from dataclasses import dataclass
from typing import Any

import simpy

from iplus.core.errors import ConfigurationError, InvalidInput
from iplus.engines.sim.model import ScenarioKind
from iplus.engines.sim.schema import refuse

SERIES_POINTS = 200
MAX_REPLICATIONS = 1000
MAX_WORKLOAD = 20_000_000  # a few minutes of one worker


def _registry() -> dict[str, ScenarioKind]:
    from iplus.engines.sim import ev, intersection, production, queueing

    kinds = [queueing.STATION, queueing.NETWORK, production.LINE, ev.CHARGING, intersection.SIGNAL]
    return {k.name: k for k in kinds}


_KINDS: dict[str, ScenarioKind] = {}
# kind name -> the module that defines it, for kinds registered from outside the engine: a worker process
# of the compute backend starts with the built-in kinds only and imports this module to find the kind
_ORIGINS: dict[str, str] = {}


def kinds() -> dict[str, ScenarioKind]:
    """Every registered scenario kind by name."""
    if not _KINDS:
        _KINDS.update(_registry())
    return _KINDS


def register(module: str, prefix: str = "") -> list[str]:
    """Register the scenario kinds that ``module`` lists in its ``SCENARIOS``; their names, in order.

    All or nothing: a module that fails to import, lists something other than scenario kinds, repeats a
    name, takes a name another module registered, or (with ``prefix``) names a kind outside its prefix
    registers none of its kinds and raises ConfigurationError naming the module.
    """
    try:
        listed = importlib.import_module(module).SCENARIOS
    except Exception as exc:  # any error of a module's code, so that the message names the module
        raise ConfigurationError(f"{module}: cannot load its scenario kinds: {exc!r}") from exc
    if not isinstance(listed, tuple | list):
        raise ConfigurationError(f"{module}: SCENARIOS must be a tuple of scenario kinds")
    found = tuple(listed)
    known = kinds()
    problems = []
    names: list[str] = []
    for scenario in found:
        if not isinstance(scenario, ScenarioKind):
            problems.append(f"{scenario!r} is not a scenario kind")
            continue
        name = scenario.name
        if name in names:
            problems.append(f"kind {name!r} is listed twice")
        elif name in known and _ORIGINS.get(name) != module:
            problems.append(f"kind {name!r} is already registered")
        elif prefix and not (name.startswith(prefix) and len(name) > len(prefix)):
            problems.append(f"kind {name!r} must be named {prefix}<kind>")
        names.append(name)
    if problems:
        raise ConfigurationError(f"{module}: " + "; ".join(problems))
    for scenario in found:
        known[scenario.name] = scenario
        _ORIGINS[scenario.name] = module
    return names


def origin(name: str) -> str | None:
    """The module a registered kind comes from, or None for the engine's own kinds."""
    return _ORIGINS.get(name)


def kind(name: str) -> ScenarioKind:
    """The scenario kind called ``name``; an unknown one is invalid input naming the known ones."""
    found = kinds().get(name)
    if found is None:
        raise InvalidInput(f"unknown scenario kind {name!r}: use one of {', '.join(sorted(kinds()))}")
    return found


def validate(name: str, params: dict[str, Any], state: dict[str, Any] | None = None) -> dict[str, Any]:
    """The full parameter set (defaults filled in); every refused parameter or state field is named."""
    scenario = kind(name)
    values, errors = scenario.schema.validate(name, params)
    if not errors:
        errors = scenario.check(values)
    if not errors and (work := scenario.workload(values)) > MAX_WORKLOAD:
        errors = [
            {
                "param": "horizon",
                "reason": f"about {work:,.0f} entity visits per replication; at most {MAX_WORKLOAD:,}: "
                "shorten the horizon",
            }
        ]
    if not errors and state:
        if not isinstance(state, dict):
            errors = [{"param": "initial_state", "reason": "must be an object"}]
        else:
            known = {f.name for f in scenario.state_fields}
            errors = [
                {
                    "param": f"initial_state.{k}",
                    "reason": f"unknown (known: {', '.join(sorted(known)) or 'none'})",
                }
                for k in state
                if k not in known
            ]
            errors += [
                {"param": f"initial_state.{e['param']}", "reason": e["reason"]}
                for e in scenario.check_state(values, state)
            ]
    if errors:
        raise refuse(name, errors)
    return values


@dataclass(frozen=True)
class Replication:
    """One seeded run: its KPIs and its sampled time series (column ``t`` plus one per probe)."""

    kpis: dict[str, float]
    series: dict[str, list[float]]


def run_replication(
    name: str,
    params: dict[str, Any],
    seed: int,
    state: dict[str, Any] | None = None,
    module: str | None = None,
) -> Replication:
    """Build the scenario on a fresh environment and run it to the horizon (params already validated).

    ``module`` names where a kind registered from outside the engine lives, so that a fresh worker
    process can register it before it runs.
    """
    if name not in kinds() and module is not None:
        register(module)
    scenario = kinds()[name]
    env = simpy.Environment()
    rng = random.Random(seed)  # noqa: S311 - a seeded simulation stream, not a secret
    model = scenario.build(env, params, rng, state or {})
    horizon = float(params["horizon"])
    step = horizon / SERIES_POINTS
    series: dict[str, list[float]] = {"t": []}

    def sampler() -> Any:
        # at k * step, not by adding steps: a sum drifts, and a long horizon would get a 201st point
        for k in range(SERIES_POINTS):
            if (at := k * step) > env.now:
                yield env.timeout(at - env.now)
            series["t"].append(env.now)
            for key, value in model.probe().items():
                series.setdefault(key, []).append(value)

    # let the initial state settle (customers take free servers) before the first sample at t = 0
    while env.peek() <= 0.0:
        env.step()
    env.process(sampler())
    env.run(until=horizon)
    return Replication(model.kpis(horizon), series)


def replication_seed(seed: int, replication: int) -> int:
    """Independent, reproducible stream for each replication of a seed."""
    import numpy as np

    return int(np.random.SeedSequence([seed, replication]).generate_state(1)[0])


# two-sided 95% Student-t quantiles for 1..30 degrees of freedom (standard tables)
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_quantile(df: int) -> float:
    """Two-sided 95% Student-t quantile with ``df`` degrees of freedom (Cornish-Fisher beyond 30)."""
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959963984540054
    return (
        z
        + (z**3 + z) / (4 * df)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
    )


def summarise(reps: list[Replication]) -> dict[str, dict[str, float | None]]:
    """Mean, standard deviation and 95% confidence half-width of each KPI over the replications."""
    out: dict[str, dict[str, float | None]] = {}
    n = len(reps)
    q = t_quantile(n - 1) if n > 1 else math.nan
    for key in reps[0].kpis:
        values = [r.kpis[key] for r in reps]
        mean = math.fsum(values) / n
        if n > 1:
            sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
            out[key] = {"mean": mean, "sd": sd, "ci95": q * sd / math.sqrt(n)}
        else:
            out[key] = {"mean": mean, "sd": None, "ci95": None}
    return out


def check_replications(replications: int) -> int:
    """A sane replication count, or invalid input."""
    if isinstance(replications, bool) or not isinstance(replications, int):
        raise InvalidInput("replications must be a whole number")
    if not 1 <= replications <= MAX_REPLICATIONS:
        raise InvalidInput(f"replications must be 1..{MAX_REPLICATIONS}, got {replications}")
    return replications
