"""Optimal selection: one service per task maximising utility under global QoS constraints (CP-SAT).

The model is exact in spite of fixed-point scaling (docs/systems.md): every per-task value is rounded to
an integer, which moves any aggregate by at most half a unit per task, so each constraint's integer bound
is relaxed by that much - no plan feasible in real numbers is ever cut away. A plan the relaxed model
accepts is then checked in floats; if it misses a constraint (only possible within that rounding margin)
a no-good cut forbids exactly that combination and the model is solved again.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Collection, Mapping
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from iplus.core.errors import InvalidInput
from iplus.platform.systems.aggregate import (
    CONSTRAINT_ATTRIBUTE,
    COST_CRITERIA,
    LOG_CRITERIA,
    LOG_FLOOR,
    REL_TOL,
    Bounds,
    Option,
    active_constraints,
    aggregate,
    bounds,
    factors,
    option_problems,
    utility,
    violations,
)
from iplus.platform.systems.explain import (
    Feasible,
    Within,
    candidates,
    explain,
    ranking,
    task_without_candidates,
)
from iplus.platform.systems.requirement import (
    ATTRIBUTES,
    Choice,
    GlobalConstraints,
    Node,
    Parallel,
    RequirementGraph,
    Sequence,
    Task,
)

__all__ = ["Option", "Plan", "aggregate", "select"]

# above either size the exact search gets a greedy start and is cut off by the time limit
HEURISTIC_OPTIONS = 5_000
HEURISTIC_TASKS = 20
# model units per 1.0 of utility: rounding costs at most (tasks / UTILITY_SCALE) of utility
UTILITY_SCALE = 1e9
# model units of a constraint's bound: rounding moves an aggregate by at most tasks / 2 of these
BOUND_SCALE = 1e9
# keeps every objective coefficient far from int64 overflow
MAX_UNITS = 1e15
# the explanation's own solves (at most a dozen small ones) each get this long
EXPLAIN_SOLVE_S = 2.0
WORKERS = max(1, min(8, os.cpu_count() or 1))
COLUMN = {q: i for i, q in enumerate(ATTRIBUTES)}
SUM_CONSTRAINTS = ("deadline_h", "budget")


@dataclass
class Plan:
    """The selection's answer: status, the chosen option per task, the aggregate QoS and why."""

    status: str  # "optimal" | "feasible" (bounded, gap given) | "infeasible"
    method: str  # "cp-sat" | "heuristic"
    choice: dict[str, Option] = field(default_factory=dict)
    aggregate: dict[str, float] = field(default_factory=dict)
    utility: float = 0.0
    bound: float | None = None
    gap: float | None = None
    explanation: list[str] = field(default_factory=list)
    ranking: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    solve_ms: float = 0.0


@dataclass
class _Solved:
    status: str  # "optimal" | "feasible" | "infeasible" | "unknown"
    choice: dict[str, Option] | None = None
    objective_bound: float | None = None
    cuts: int = 0


def _only(g: GlobalConstraints, names: Collection[str]) -> GlobalConstraints:
    return replace(g, **{n: None for n in CONSTRAINT_ATTRIBUTE if n not in names})


class _Problem:
    """The candidates per task as arrays, with what the model needs: multipliers, bounds and caps."""

    def __init__(self, req: RequirementGraph, cands: dict[str, list[Option]]) -> None:
        self.req = req
        self.cands = cands
        self.tasks = req.tasks()
        self.f = factors(req.root)
        self.b: Bounds = bounds(req.root, cands)
        self.values = {
            tid: np.array([[o.value(q) for q in ATTRIBUTES] for o in opts], dtype=float).reshape(-1, 5)
            for tid, opts in cands.items()
        }
        self.caps = {n: self._cap(n) for n in active_constraints(req.constraints)}
        self._loads: dict[tuple[str, str], np.ndarray] = {}
        self._local: dict[str, np.ndarray] = {}
        self.front = {tid: self._front(tid) for tid in cands}

    def _front(self, tid: str) -> np.ndarray:
        """Options no other option of the task beats or equals on every attribute that counts.

        Every aggregate is monotone and the utility is increasing in every score, so swapping a dominated
        option for its dominator never breaks a constraint nor lowers utility: leaving it out of the model
        is exact, and it spares CP-SAT's presolve most of its work on hundreds of candidates.
        """
        g = self.req.constraints
        counts = {q for q in ATTRIBUTES if self.req.weights[q] > 0}
        counts |= {CONSTRAINT_ATTRIBUTE[n] for n in active_constraints(g)}
        cols = [COLUMN[q] for q in ATTRIBUTES if q in counts]
        signs = np.array([-1.0 if ATTRIBUTES[c] in COST_CRITERIA else 1.0 for c in cols])
        v = self.values[tid][:, cols] * signs  # higher is better everywhere
        k = len(v)
        keep = np.ones(k, dtype=bool)
        order = np.arange(k)
        for lo in range(0, k, 256):
            rows = v[lo : lo + 256, None, :]
            at_least = (v[None, :, :] >= rows).all(axis=2)
            better = (v[None, :, :] > rows).any(axis=2)
            # among equals the first one stays
            earlier = order[None, :] < order[lo : lo + 256, None]
            keep[lo : lo + 256] = ~(at_least & (better | earlier)).any(axis=1)
        return keep

    def _cap(self, name: str) -> float:
        """A constraint as an upper bound on a sum of non-negative loads (logs for the minimum ones)."""
        bound = float(getattr(self.req.constraints, name))
        slack = REL_TOL * max(1.0, abs(bound))
        if name in SUM_CONSTRAINTS:
            return bound + slack
        # reliability r >= R  <=>  sum runs * (-log r) <= -log R; R minus the tolerance is never 1
        return -math.log(bound - slack) if bound - slack > 0 else math.inf

    def active(self) -> list[str]:
        """The global constraints that restrict anything (a minimum of 0 does not)."""
        return [n for n, cap in self.caps.items() if math.isfinite(cap)]

    def loads(self, name: str, tid: str) -> np.ndarray:
        """Each option's share of a constraint's load (time as if in sequence: never more than its share)."""
        key = (name, tid)
        if key not in self._loads:
            v = self.values[tid][:, COLUMN[CONSTRAINT_ATTRIBUTE[name]]]
            m = self.f.runs[tid]
            if name in SUM_CONSTRAINTS:
                self._loads[key] = m * v
            else:
                # a zero reliability can never meet a minimum above zero
                self._loads[key] = np.where(v > 0, -m * np.log(np.where(v > 0, v, 1.0)), np.inf)
        return self._loads[key]

    def mask(self, names: Collection[str], tid: str) -> np.ndarray:
        """Options that stay within every constraint alone (every task's load only adds to the total)."""
        ok = self.front[tid].copy()
        for n in names:
            ok &= self.loads(n, tid) <= self.caps[n]
        return ok

    def scored(self, tid: str, q: str) -> np.ndarray:
        """Each option's value as scored: the log of the floored value for reliability and availability."""
        v = self.values[tid][:, COLUMN[q]]
        return np.log(np.maximum(v, LOG_FLOOR)) if q in LOG_CRITERIA else v

    def local_utility(self, tid: str) -> np.ndarray:
        """Each option's share of the linear part of the utility, relative to the task's worst option."""
        if tid not in self._local:
            w, b = self.req.weights, self.b
            out = np.zeros(len(self.cands[tid]))
            for q in ATTRIBUTES:
                if q == "time" or w[q] == 0 or b.spread(q) == 0:
                    continue
                coef = self.f.share[tid] if q == "reputation" else self.f.runs[tid]
                v = self.scored(tid, q)
                worst = v.max() if q in COST_CRITERIA else v.min()
                out += w[q] * coef * (v - worst) / (b.best[q] - b.worst[q])
            self._local[tid] = out
        return self._local[tid]

    def simple_bound(self, names: Collection[str]) -> float:
        """An upper bound on utility without search: every task's best linear share, time at its best."""
        w, b = self.req.weights, self.b
        total = math.fsum(w[q] for q in ATTRIBUTES if b.spread(q) == 0 or q == "time")
        for t in self.tasks:
            ok = self.mask(names, t.id)
            total += float(self.local_utility(t.id)[ok].max()) if ok.any() else 0.0
        return min(1.0, total)

    def greedy(self, names: Collection[str], rounds: int = 60) -> dict[str, int] | None:
        """A feasible start by Lagrangian relaxation: per task the best penalised option, then adjust."""
        w, b = self.req.weights, self.b
        time_w = w["time"] / b.spread("time") if b.spread("time") > 0 else 0.0
        util, loads, masks = {}, {}, {}
        for t in self.tasks:
            # time counted as if in sequence: an over-estimate under parallel branches
            util[t.id] = self.local_utility(t.id) - time_w * self.f.runs[t.id] * self.values[t.id][:, 0]
            loads[t.id] = {n: self.loads(n, t.id) / self.caps[n] for n in names}
            masks[t.id] = self.mask(names, t.id)
            if not masks[t.id].any():
                return None
        checked = _only(self.req.constraints, names)
        lam = dict.fromkeys(names, 0.0)
        best: tuple[float, dict[str, int]] | None = None
        for k in range(rounds):
            picked = {}
            for t in self.tasks:
                score = util[t.id] - sum((lam[n] * loads[t.id][n] for n in names), np.zeros(1))
                picked[t.id] = int(np.argmax(np.where(masks[t.id], score, -np.inf)))
            choice = {tid: self.cands[tid][i] for tid, i in picked.items()}
            agg = aggregate(self.req.root, choice)
            if not violations(agg, checked):
                u = utility(self.req.root, choice, b, w)
                if best is None or u > best[0]:
                    best = (u, picked)
            step = 1.0 / math.sqrt(1 + k)
            for n in names:
                used = (
                    agg["time"] / self.caps[n]
                    if n == "deadline_h"
                    else sum(float(loads[t.id][n][picked[t.id]]) for t in self.tasks)
                )
                lam[n] = max(0.0, lam[n] + step * (used - 1.0))
        return best[1] if best else None


def _picked(solver: cp_model.CpSolver, xs: list[cp_model.IntVar]) -> int:
    return next(k for k, v in enumerate(xs) if solver.boolean_value(v))


def _ints(values: np.ndarray) -> list[int]:
    return [int(v) for v in np.rint(values)]


class _Model:
    """One CP-SAT model over the candidate options: a boolean per (task, option), exactly one per task."""

    def __init__(self, problem: _Problem, names: Collection[str]) -> None:
        self.p = problem
        self.names = list(names)
        self.m = cp_model.CpModel()
        self.idx: dict[str, np.ndarray] = {}
        self.x: dict[str, list[cp_model.IntVar]] = {}
        self.empty = False
        for t in problem.tasks:
            allowed = np.flatnonzero(problem.mask(self.names, t.id))
            if allowed.size == 0:
                # some task has no option within a constraint even alone: nothing to model
                self.empty = True
                return
            self.idx[t.id] = allowed
            self.x[t.id] = [self.m.new_bool_var(f"x[{t.id},{i}]") for i in allowed]
            self.m.add_exactly_one(self.x[t.id])
        for name in self.names:
            self._constraint(name)

    def _terms(self, tid: str, per_option: np.ndarray) -> cp_model.LinearExpr:
        """The sum of the chosen option's integer coefficient (given for every candidate of the task)."""
        return cp_model.LinearExpr.weighted_sum(self.x[tid], _ints(per_option[self.idx[tid]]))

    def time_expr(self, scale: float) -> cp_model.LinearExpr:
        """Scaled time of the whole graph; a parallel node is a variable at least each branch's time.

        Lower bounds suffice (rather than an equality with the maximum): the deadline and the objective
        only ever push time down, so at an optimum each such variable equals its maximum. CP-SAT 9.15's
        presolve spent seconds on max-equalities with large domains; inequalities take milliseconds.
        """
        p = self.p

        def walk(node: Node) -> tuple[cp_model.LinearExpr, int]:
            if isinstance(node, Task):
                coef = scale * p.f.runs[node.id] * p.values[node.id][:, 0]
                return self._terms(node.id, coef), int(np.rint(coef[self.idx[node.id]]).max())
            if isinstance(node, Parallel):
                parts = [walk(b) for b in node.branches]
                ub = max(u for _, u in parts)
                var = self.m.new_int_var(0, ub, "")
                for e, _ in parts:
                    self.m.add(var >= e)
                return var, ub
            # sequence, choice and loop add up: probabilities and counts are in each task's multiplier
            if isinstance(node, Sequence):
                kids = list(node.steps)
            elif isinstance(node, Choice):
                kids = [b for _, b in node.branches]
            else:
                kids = [node.body]
            parts = [walk(k) for k in kids]
            return cp_model.LinearExpr.sum([e for e, _ in parts]), sum(u for _, u in parts)

        return walk(p.req.root)[0]

    def _constraint(self, name: str) -> None:
        scale = BOUND_SCALE / self.p.caps[name]
        # every task's rounded value is off by at most 0.5: relax by that, plus one unit of float noise
        limit = math.floor(BOUND_SCALE + 0.5 * len(self.p.tasks) + 1)
        if name == "deadline_h":
            self.m.add(self.time_expr(scale) <= limit)
            return
        parts = [self._terms(t.id, scale * self.p.loads(name, t.id)) for t in self.p.tasks]
        self.m.add(cp_model.LinearExpr.sum(parts) <= limit)

    def maximise_utility(self) -> tuple[float, float]:
        """Set the utility objective; returns (constant, model units per utility) to read it back."""
        w, b = self.p.req.weights, self.p.b
        constant = math.fsum(w[q] for q in ATTRIBUTES if b.spread(q) == 0)
        unit = UTILITY_SCALE
        time_w = w["time"] if b.spread("time") > 0 else 0.0
        if time_w > 0:
            top = unit * time_w * b.worst["time"] / b.spread("time")
            unit *= min(1.0, MAX_UNITS / top)
            constant += time_w * b.worst["time"] / b.spread("time")
        if self.empty:
            return constant, unit
        parts = [self._terms(t.id, unit * self.p.local_utility(t.id)) for t in self.p.tasks]
        objective = cp_model.LinearExpr.sum(parts)
        if time_w > 0:
            objective = objective - self.time_expr(unit * time_w / b.spread("time"))
        self.m.maximize(objective)
        return constant, unit

    def optimise(self, attribute: str) -> None:
        """Make one attribute's aggregate the objective: least time or cost, else the most."""
        p = self.p
        if self.empty:
            return
        if attribute == "time":
            self.m.minimize(self.time_expr(BOUND_SCALE / max(p.b.worst["time"], 1e-12)))
            return
        per_task = {t.id: p.f.runs[t.id] * p.scored(t.id, attribute) for t in p.tasks}
        top = max(float(np.abs(v).max()) for v in per_task.values()) or 1.0
        expr = cp_model.LinearExpr.sum([self._terms(t, BOUND_SCALE / top * v) for t, v in per_task.items()])
        if attribute in COST_CRITERIA:
            self.m.minimize(expr)
        else:
            self.m.maximize(expr)

    def hint(self, choice: Mapping[str, int]) -> None:
        """Start the search from a plan (indices into the candidates)."""
        for tid, xs in self.x.items():
            for i, v in zip(self.idx[tid], xs, strict=True):
                self.m.add_hint(v, int(i) == choice.get(tid))

    def solve(self, until: float) -> _Solved:
        """Solve, check the answer in floats, cut it off and solve again while it misses a constraint."""
        if self.empty:
            return _Solved("infeasible")
        checked = _only(self.p.req.constraints, self.names)
        cuts = 0
        while True:
            left = until - time.perf_counter()
            if left <= 0:
                return _Solved("unknown", cuts=cuts)
            solver = cp_model.CpSolver()
            solver.parameters.max_time_in_seconds = left
            solver.parameters.num_workers = WORKERS
            solver.parameters.random_seed = 0
            status = solver.solve(self.m)
            bound = solver.best_objective_bound if self.m.has_objective() else None
            if status == cp_model.INFEASIBLE:
                return _Solved("infeasible", cuts=cuts)
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                # stopped before any solution (often still in presolve): its "bound" of 0 means nothing
                return _Solved("unknown", cuts=cuts)
            picked = {
                tid: next(k for k, v in enumerate(xs) if solver.boolean_value(v))
                for tid, xs in self.x.items()
            }
            choice = {tid: self.p.cands[tid][int(self.idx[tid][k])] for tid, k in picked.items()}
            if not violations(aggregate(self.p.req.root, choice), checked):
                return _Solved("optimal" if status == cp_model.OPTIMAL else "feasible", choice, bound, cuts)
            # within the rounding margin but over a bound in real numbers: forbid exactly this combination
            self.m.add_bool_or([self.x[tid][k].Not() for tid, k in picked.items()])
            cuts += 1


def _check(
    req: RequirementGraph,
    options: Mapping[str, Seq[Option]],
    fixed: Mapping[str, Option],
    excluded: Mapping[str, set[str]],
    time_limit_s: float,
) -> None:
    ids = {t.id for t in req.tasks()}
    problems = []
    for tid, opts in options.items():
        for i, o in enumerate(opts):
            problems += option_problems(o, f"options/{tid}/{i}")
    for tid, o in fixed.items():
        if tid not in ids:
            problems.append(f"fixed/{tid}: not a task of the requirement")
        problems += option_problems(o, f"fixed/{tid}")
    problems += [f"excluded/{tid}: not a task of the requirement" for tid in excluded if tid not in ids]
    number = isinstance(time_limit_s, int | float) and not isinstance(time_limit_s, bool)
    if not number or not 0 < time_limit_s <= 3600:
        problems.append("time_limit_s: more than 0 and at most 3600")
    if problems:
        raise InvalidInput("the selection cannot start", errors=problems)


def select(
    req: RequirementGraph,
    options: Mapping[str, Seq[Option]],
    *,
    fixed: Mapping[str, Option] | None = None,
    excluded: Mapping[str, set[str]] | None = None,
    time_limit_s: float = 10.0,
) -> Plan:
    """The best plan: one option per task, maximising utility within the global constraints."""
    began = time.perf_counter()
    until = began + time_limit_s
    fixed, excluded = dict(fixed or {}), dict(excluded or {})
    _check(req, options, fixed, excluded, time_limit_s)
    cands, dropped = candidates(req, options, fixed, excluded)
    size = sum(len(v) for v in cands.values())
    method = "heuristic" if size > HEURISTIC_OPTIONS or len(cands) > HEURISTIC_TASKS else "cp-sat"

    def done(plan: Plan) -> Plan:
        plan.ranking = ranking(req, cands, dropped, fixed, plan.choice)
        plan.solve_ms = (time.perf_counter() - began) * 1000
        return plan

    empty = [t for t in req.tasks() if not cands[t.id]]
    if empty:
        lines = [task_without_candidates(t.id, [why for _, why in dropped[t.id]]) for t in empty]
        return done(Plan(status="infeasible", method=method, explanation=lines))
    problem = _Problem(req, cands)
    names = problem.active()
    model = _Model(problem, names)
    constant, unit = model.maximise_utility()
    start = problem.greedy(names) if method == "heuristic" else None
    if start is not None:
        model.hint(start)
    solved = model.solve(until)
    if solved.choice is None and solved.status == "unknown" and start is not None:
        # the search found nothing in time: the greedy start is still a checked, feasible plan
        start_choice = {tid: cands[tid][i] for tid, i in start.items()}
        solved = _Solved("feasible", start_choice, solved.objective_bound, solved.cuts)
    if solved.choice is None:
        if solved.status == "unknown":
            lines = [
                f"no plan found within the time limit of {time_limit_s:g} s "
                "(the constraints were not proven contradictory)"
            ]
        else:
            lines = explain(req, cands, names, _feasible(problem, until), _within(problem, until))
        return done(Plan(status="infeasible", method=method, explanation=lines))
    u = utility(req.root, solved.choice, problem.b, req.weights)
    if solved.status == "optimal":
        bound, gap = u, 0.0
    else:
        raw = solved.objective_bound
        bound = problem.simple_bound(names)
        if raw is not None:
            # the rounded model's bound, widened by every task's rounding
            bound = min(bound, constant + raw / unit + len(problem.tasks) / unit)
        bound = max(bound, u)
        gap = (bound - u) / bound if bound > 0 else 0.0
    plan = Plan(solved.status, method, dict(solved.choice), aggregate(req.root, solved.choice), u, bound, gap)
    return done(plan)


def _feasible(problem: _Problem, until: float) -> Feasible:
    def check(subset: frozenset[str]) -> bool | None:
        """Whether some plan meets these constraints together (None when the time ran out first)."""
        solved = _Model(problem, sorted(subset)).solve(min(until, time.perf_counter() + EXPLAIN_SOLVE_S))
        return None if solved.status == "unknown" else solved.choice is not None

    return check


def _within(problem: _Problem, until: float) -> Within:
    def best(name: str, others: Collection[str]) -> float | None:
        """The best value of one constraint's attribute among plans meeting the others."""
        model = _Model(problem, others)
        attribute = CONSTRAINT_ATTRIBUTE[name]
        model.optimise(attribute)
        solved = model.solve(min(until, time.perf_counter() + EXPLAIN_SOLVE_S))
        return None if solved.choice is None else aggregate(problem.req.root, solved.choice)[attribute]

    return best
