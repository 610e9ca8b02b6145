"""Embedded simulation engine on SimPy: scenario kinds, seeded replications, sweeps on the compute backend."""

from iplus.engines.sim.runner import Replication, kind, kinds, run_replication, summarise, validate
from iplus.engines.sim.sweep import Plan, Point, execute, expand_grid, plan, run_inline

__all__ = [
    "Plan",
    "Point",
    "Replication",
    "execute",
    "expand_grid",
    "kind",
    "kinds",
    "plan",
    "run_inline",
    "run_replication",
    "summarise",
    "validate",
]
