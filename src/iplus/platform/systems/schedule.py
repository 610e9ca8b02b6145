"""Scheduling a chosen plan onto its offers' calendars and free capacity with OR-Tools CP-SAT."""

from __future__ import annotations

import bisect
import itertools
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ortools.sat.python import cp_model

from iplus.core.errors import InvalidInput
from iplus.platform.catalog.spec import Window
from iplus.platform.systems.requirement import (
    MAX_SCHEDULED,
    Loop,
    Node,
    Parallel,
    RequirementGraph,
    Sequence,
    Task,
    scheduled_runs,
)

if TYPE_CHECKING:
    from iplus.platform.systems.aggregate import Option

# Task executions (loop bodies unrolled, every choice branch reserved) one schedule may hold: as many as a
# parsed requirement may ask for.
MAX_EXECUTIONS = MAX_SCHEDULED
# Share of the time limit for the makespan; the rest tightens the sum of end times.
FIRST_PHASE = 0.7


@dataclass(frozen=True)
class Resource:
    """One offer's capacity over time: parallel executions, open windows (none = always open), bookings."""

    offer_id: str
    capacity: int
    calendar: tuple[Window, ...] = ()
    busy: tuple[tuple[Window, int], ...] = ()  # already booked orders and the capacity units each holds


@dataclass(frozen=True)
class ScheduleItem:
    """One execution of a task (``iteration`` counts a loop's repetitions from 0) on its offer."""

    task: str
    iteration: int
    offer_id: str
    start: datetime
    end: datetime


@dataclass
class Schedule:
    """The solver's answer: status, why not (if infeasible), the timetable, whether it meets the deadline."""

    status: str  # "optimal" | "feasible" | "infeasible"
    reason: str | None
    makespan_h: float | None  # from the requested start to the last end
    items: list[ScheduleItem] = field(default_factory=list)
    meets_deadline: bool | None = None  # None without a deadline or a schedule
    solve_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The schedule as answered by the API."""
        return {
            "status": self.status,
            "reason": self.reason,
            "makespan_h": self.makespan_h,
            "meets_deadline": self.meets_deadline,
            "solve_ms": self.solve_ms,
            "items": [
                {
                    "task": i.task,
                    "iteration": i.iteration,
                    "offer_id": i.offer_id,
                    "start": i.start.isoformat(),
                    "end": i.end.isoformat(),
                }
                for i in self.items
            ],
        }


@dataclass(frozen=True)
class _Execution:
    task: str
    iteration: int
    offer: str
    minutes: int


class _Graph:
    """The requirement unrolled into executions and precedence junctions (all exits before all entries)."""

    def __init__(self, choice: Mapping[str, Option]) -> None:
        self.choice = choice
        self.executions: list[_Execution] = []
        self.junctions: list[tuple[list[int], list[int]]] = []
        self.iterations: dict[str, int] = {}

    def unroll(self, node: Node) -> tuple[list[int], list[int]]:
        """(entries, exits) of the node's executions."""
        if isinstance(node, Task):
            iteration = self.iterations.get(node.id, 0)
            self.iterations[node.id] = iteration + 1
            option = self.choice[node.id]
            self.executions.append(_Execution(node.id, iteration, option.offer_id, minutes(option.time_h)))
            i = len(self.executions) - 1
            return [i], [i]
        if isinstance(node, Sequence | Loop):
            parts = node.steps if isinstance(node, Sequence) else (node.body,) * node.count
            entries, exits = self.unroll(parts[0])
            for part in parts[1:]:
                nxt_entries, nxt_exits = self.unroll(part)
                self.junctions.append((exits, nxt_entries))
                exits = nxt_exits
            return entries, exits
        # parallel branches are free of each other; so are a choice's, all reserved since any may run
        branches = node.branches if isinstance(node, Parallel) else tuple(b for _, b in node.branches)
        entries, exits = [], []
        for branch in branches:
            e, x = self.unroll(branch)
            entries += e
            exits += x
        return entries, exits


def count_executions(node: Node) -> int:
    """Executions to schedule: loops unrolled, every choice branch counted."""
    return scheduled_runs(node)


def minutes(hours: float) -> int:
    """Whole minutes, rounded up (after rounding away float noise such as 0.1 h = 6.000000000000001 min)."""
    return math.ceil(round(hours * 60, 6))


def _offset(start: datetime, t: datetime, up: bool) -> int:
    m = (t - start).total_seconds() / 60
    return math.ceil(m) if up else math.floor(m)


def _aware(t: Any) -> bool:
    return isinstance(t, datetime) and t.tzinfo is not None and t.utcoffset() is not None


def _window_problems(w: Any, where: str) -> list[str]:
    if not isinstance(w, Window) or not _aware(w.start) or not _aware(w.end):
        return [f"{where}: a Window with time zone aware start and end"]
    return [] if w.start < w.end else [f"{where}: start must come before end"]


def _problems(
    req: RequirementGraph,
    choice: Mapping[str, Option],
    resources: Mapping[str, Resource],
    start: Any,
    limit: Any,
) -> list[str]:
    problems: list[str] = []
    if not _aware(start):
        problems.append("start: a time zone aware datetime")
    if (
        isinstance(limit, bool)
        or not isinstance(limit, int | float)
        or not math.isfinite(limit)
        or limit <= 0
    ):
        problems.append("time_limit_s: a number of seconds > 0")
    ids = [t.id for t in req.tasks()]
    problems += [f"choice/{t}: no option chosen" for t in ids if t not in choice]
    problems += [f"choice/{t}: not a task of the requirement" for t in choice if t not in set(ids)]
    for t, option in choice.items():
        h = option.time_h
        if isinstance(h, bool) or not isinstance(h, int | float) or not math.isfinite(h) or h < 0:
            problems.append(f"choice/{t}/time_h: a finite number of hours >= 0")
    for key, r in resources.items():
        where = f"resources/{key}"
        if r.offer_id != key:
            problems.append(f"{where}/offer_id: must equal its key")
        if isinstance(r.capacity, bool) or not isinstance(r.capacity, int) or r.capacity < 0:
            problems.append(f"{where}/capacity: a whole number >= 0")
        for i, w in enumerate(r.calendar):
            problems += _window_problems(w, f"{where}/calendar/{i}")
        for i, (w, units) in enumerate(r.busy):
            problems += _window_problems(w, f"{where}/busy/{i}/window")
            if isinstance(units, bool) or not isinstance(units, int) or units < 1:
                problems.append(f"{where}/busy/{i}/units: a whole number >= 1")
    if not problems and (n := count_executions(req.root)) > MAX_EXECUTIONS:
        problems.append(
            f"graph: {n} task executions (loops unrolled, every choice branch); at most {MAX_EXECUTIONS}"
        )
    return problems


@dataclass
class _Offer:
    """One offer in solver minutes: capacity, open start domains per duration, busy load profile."""

    capacity: int
    windows: list[tuple[int, int]] | None  # None: always open
    load: list[tuple[int, int, int]]  # (from, to, units held), units capped at the capacity


def _offer(r: Resource, start: datetime, horizon: int) -> _Offer:
    windows = None
    if r.calendar:
        windows = []
        for w in r.calendar:
            # conservative rounding: a window is used only in whole minutes it fully contains
            a, b = max(0, _offset(start, w.start, True)), min(horizon, _offset(start, w.end, False))
            if a < b:
                windows.append((a, b))
    # the busy load as a step profile, so overlapping (even overbooked) orders cap at the capacity
    changes: dict[int, int] = {}
    for w, units in r.busy:
        a, b = max(0, _offset(start, w.start, False)), min(horizon, _offset(start, w.end, True))
        if a < b:
            changes[a] = changes.get(a, 0) + units
            changes[b] = changes.get(b, 0) - units
    load, level, points = [], 0, sorted(changes)
    for a, b in itertools.pairwise(points):
        level += changes[a]
        if level > 0 and a < b:
            load.append((a, b, min(level, r.capacity)))
    return _Offer(r.capacity, windows, load)


def _horizon(resources: Mapping[str, Resource], start: datetime, executions: list[_Execution]) -> int:
    # any feasible timetable can be rearranged to end by the last calendar or booking instant plus all the
    # work done one at a time, since after that instant every used offer is free and open (or closed forever)
    last = 0
    for r in resources.values():
        for w in r.calendar:
            last = max(last, _offset(start, w.end, False))
        for w, _ in r.busy:
            last = max(last, _offset(start, w.end, True))
    return last + sum(e.minutes for e in executions)


class _Profile:
    """Capacity units held over time on one offer, as a step function (load on [times[i], times[i + 1]))."""

    def __init__(self, load: list[tuple[int, int, int]]) -> None:
        self.times: list[int] = [0]
        self.loads: list[int] = [0]
        for a, b, u in load:
            self.add(a, b, u)

    def _split(self, t: int) -> int:
        i = bisect.bisect_right(self.times, t) - 1
        if self.times[i] != t:
            self.times.insert(i + 1, t)
            self.loads.insert(i + 1, self.loads[i])
            i += 1
        return i

    def add(self, a: int, b: int, units: int) -> None:
        """Hold ``units`` over [a, b)."""
        if a >= b:
            return
        i, j = self._split(a), self._split(b)
        for k in range(i, j):
            self.loads[k] += units

    def blocked_until(self, t: int, d: int, capacity: int) -> int | None:
        """End of the first full stretch within [t, t + d), or None when one more unit fits throughout."""
        i = bisect.bisect_right(self.times, t) - 1
        while i < len(self.times) and self.times[i] < t + d:
            if self.loads[i] >= capacity:
                return self.times[i + 1] if i + 1 < len(self.times) else None
            i += 1
        return None


def _greedy(graph: _Graph, offers: Mapping[str, _Offer]) -> dict[int, int] | None:
    """A serial list schedule: each execution, in graph order, at its earliest open and free minute."""
    # a feasible timetable found in milliseconds: the solver's first hint and its horizon
    ready: dict[int, list[int]] = {}
    for exits, entries in graph.junctions:
        for b in entries:
            ready.setdefault(b, []).extend(exits)
    profiles = {k: _Profile(o.load) for k, o in offers.items()}
    starts: dict[int, int] = {}
    for i, e in enumerate(graph.executions):
        o, d = offers[e.offer], e.minutes
        t = max((starts[a] + graph.executions[a].minutes for a in ready.get(i, ())), default=0)
        while True:
            if o.windows is not None:
                fit = next(((a, b) for a, b in o.windows if b - max(a, t) >= d), None)
                if fit is None:
                    return None
                t = max(t, fit[0])
            until = profiles[e.offer].blocked_until(t, d, o.capacity) if d else None
            if until is None:
                break
            t = until
        starts[i] = t
        profiles[e.offer].add(t, t + d, 1)
    return starts


class _Model:
    """The CP-SAT model of one scheduling question."""

    def __init__(
        self,
        graph: _Graph,
        offers: Mapping[str, _Offer],
        horizon: int,
        *,
        precedence: bool = True,
        only: str | None = None,
    ) -> None:
        self.model = cp_model.CpModel()
        m = self.model
        self.starts: dict[int, cp_model.IntVar] = {}
        chosen = [i for i, e in enumerate(graph.executions) if only is None or e.offer == only]
        intervals: dict[str, list[tuple[cp_model.IntervalVar, int]]] = {}
        for i in chosen:
            e = graph.executions[i]
            spans = offers[e.offer].windows
            allowed = [(0, horizon - e.minutes)] if spans is None else [(a, b - e.minutes) for a, b in spans]
            allowed = [(a, b) for a, b in allowed if a <= b]
            s = m.new_int_var_from_domain(cp_model.Domain.from_intervals(allowed), f"s{i}")
            self.starts[i] = s
            intervals.setdefault(e.offer, []).append(
                (m.new_fixed_size_interval_var(s, e.minutes, f"x{i}"), 1)
            )
        self.ends = {i: self.starts[i] + graph.executions[i].minutes for i in chosen}
        if precedence and only is None:
            for exits, entries in graph.junctions:
                if len(exits) * len(entries) <= len(exits) + len(entries):
                    for a in exits:
                        for b in entries:
                            m.add(self.ends[a] <= self.starts[b])
                else:
                    # one barrier instead of |exits| x |entries| constraints
                    bar = m.new_int_var(0, horizon, "bar")
                    for a in exits:
                        m.add(self.ends[a] <= bar)
                    for b in entries:
                        m.add(bar <= self.starts[b])
        for offer, mine in intervals.items():
            o = offers[offer]
            if not o.load and len(mine) <= o.capacity:
                continue  # room for all at once: the constraint could never bind
            fixed = [(m.new_fixed_size_interval_var(a, b - a, "busy"), u) for a, b, u in o.load]
            both = mine + fixed
            m.add_cumulative([iv for iv, _ in both], [u for _, u in both], o.capacity)
        self.makespan = m.new_int_var(0, horizon, "makespan")
        for end in self.ends.values():
            m.add(end <= self.makespan)

    def solve(self, seconds: float) -> tuple[int, cp_model.CpSolver]:
        """Solve for the current objective within ``seconds``."""
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(seconds, 0.05)
        status = solver.solve(self.model)
        return int(status), solver


def _diagnose(graph: _Graph, offers: Mapping[str, _Offer], horizon: int, seconds: float) -> str:
    """Why no timetable exists: an offer that cannot hold its own executions, else the task order."""
    share = seconds / (len(offers) + 1)
    for offer in sorted(offers):
        status, _ = _Model(graph, offers, horizon, only=offer).solve(share)
        if status == cp_model.INFEASIBLE:
            mine = [e for e in graph.executions if e.offer == offer]
            work = sum(e.minutes for e in mine)
            o = offers[offer]
            open_min = horizon if o.windows is None else sum(b - a for a, b in o.windows)
            return (
                f"offer {offer} cannot hold its {len(mine)} task executions ({work} min of work) in its open "
                f"windows ({open_min} min after the start) with capacity {o.capacity} less its bookings"
            )
    status, _ = _Model(graph, offers, horizon, precedence=False).solve(share)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        closes = max(b for o in offers.values() for _, b in o.windows or [])
        return (
            "every offer can hold its executions on its own, but not in the order the task graph requires: "
            f"the open windows run out ({closes} min after the start at the latest) before a later task "
            "can follow its predecessors"
        )
    return "the calendars and bookings of the chosen offers leave no room for every task execution"


def _earliest(
    graph: _Graph, offers: Mapping[str, _Offer], horizon: int, values: dict[int, int], seconds: float
) -> dict[int, int]:
    """The same makespan at most, every execution as early as it can be (least sum of end times)."""
    best = max(values[i] + e.minutes for i, e in enumerate(graph.executions))
    model = _Model(graph, offers, horizon)
    for i, var in model.starts.items():
        model.model.add_hint(var, values[i])
    model.model.add(model.makespan <= best)
    model.model.minimize(sum(model.ends.values()))
    status, solver = model.solve(seconds)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {i: solver.value(var) for i, var in model.starts.items()}
    return values


def schedule(
    req: RequirementGraph,
    choice: Mapping[str, Option],
    resources: Mapping[str, Resource],
    *,
    start: datetime,
    time_limit_s: float = 10.0,
) -> Schedule:
    """Timetable every task execution on its chosen offer: minimal makespan, then minimal sum of end times."""
    problems = _problems(req, choice, resources, start, time_limit_s)
    if problems:
        raise InvalidInput("the plan cannot be scheduled", errors=problems)
    began = time.perf_counter()
    requested = start
    # the timeline runs in whole minutes from the first whole minute at or after the requested start, so
    # calendars on whole minutes keep every minute they open
    start = start.replace(second=0, microsecond=0)
    if start < requested:
        start += timedelta(minutes=1)
    graph = _Graph(choice)
    graph.unroll(req.root)
    used: dict[str, Resource] = {}
    for e in graph.executions:
        if e.offer not in used:
            # an offer without a resource given: its declared capacity, always open, nothing booked
            used[e.offer] = resources.get(e.offer) or Resource(e.offer, int(choice[e.task].capacity))
    horizon = _horizon(used, start, graph.executions)
    offers = {k: _offer(r, start, horizon) for k, r in used.items()}
    greedy = _greedy(graph, offers) if all(o.capacity >= 1 for o in offers.values()) else None
    if greedy is not None:
        # the optimum ends no later than this timetable: fewer minutes, fewer windows, a faster presolve
        horizon = max(s + graph.executions[i].minutes for i, s in greedy.items())
        offers = {k: _offer(r, start, horizon) for k, r in used.items()}

    # dates end with year 9999: a timetable running past it cannot be written (nor kept)
    last = int((datetime(9999, 12, 31, tzinfo=start.tzinfo) - start).total_seconds() // 60)
    if horizon > last:
        work = sum(e.minutes for e in graph.executions) / 60
        return Schedule(
            "infeasible",
            f"the timetable would end after year 9999 ({work:,.0f} h of work one after another)",
            None,
            [],
            None,
            round((time.perf_counter() - began) * 1000, 3),
        )

    def answer(status: str, reason: str | None, items: list[ScheduleItem], span: int | None) -> Schedule:
        makespan_h = (
            None if span is None else (start + timedelta(minutes=span) - requested).total_seconds() / 3600
        )
        deadline = req.constraints.deadline_h
        meets = None if makespan_h is None or deadline is None else makespan_h <= deadline + 1e-9
        return Schedule(
            status, reason, makespan_h, items, meets, round((time.perf_counter() - began) * 1000, 3)
        )

    # executions that cannot start anywhere are named before the solver runs
    blocked = []
    for e in graph.executions:
        o = offers[e.offer]
        if o.capacity < 1:
            blocked.append(f"task {e.task} needs offer {e.offer}, which has no capacity")
        elif o.windows is not None and not any(b - a >= e.minutes for a, b in o.windows):
            longest = max((b - a for a, b in o.windows), default=0)
            blocked.append(
                f"task {e.task} takes {e.minutes} min but the longest open window of offer {e.offer} "
                f"after the start is {longest} min"
            )
    if blocked:
        return answer("infeasible", "; ".join(dict.fromkeys(blocked)), [], None)

    model = _Model(graph, offers, horizon)
    model.model.minimize(model.makespan)
    if greedy is not None:
        for i, var in model.starts.items():
            model.model.add_hint(var, greedy[i])
    # building the model counts against the limit too (seconds for thousands of executions)
    status, solver = model.solve(time_limit_s * FIRST_PHASE - (time.perf_counter() - began))
    if status == cp_model.INFEASIBLE:
        remaining = time_limit_s - (time.perf_counter() - began)
        return answer("infeasible", _diagnose(graph, offers, horizon, max(remaining, 1.0)), [], None)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        values = {i: solver.value(var) for i, var in model.starts.items()}
    elif greedy is not None:
        values = greedy
    else:
        return answer(
            "infeasible",
            f"no timetable found within {time_limit_s:g} s (not proven impossible: allow more time)",
            [],
            None,
        )
    # the tie-break gets what is left of its share of the time; the status speaks of the makespan
    remaining = time_limit_s - (time.perf_counter() - began)
    if remaining > 0.1:
        values = _earliest(graph, offers, horizon, values, min(remaining, time_limit_s * (1 - FIRST_PHASE)))
    items = []
    for i, e in enumerate(graph.executions):
        at = start + timedelta(minutes=values[i])
        items.append(ScheduleItem(e.task, e.iteration, e.offer, at, at + timedelta(minutes=e.minutes)))
    items.sort(key=lambda it: (it.start, it.end, it.task, it.iteration))
    span = max(values[i] + e.minutes for i, e in enumerate(graph.executions))
    return answer("optimal" if status == cp_model.OPTIMAL else "feasible", None, items, span)
