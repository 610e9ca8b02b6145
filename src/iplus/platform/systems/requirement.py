"""A user's requirement as a task graph: the model, parsing with every problem's JSON path, and back."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from iplus.core.errors import InvalidInput

ATTRIBUTES = ("time", "cost", "reliability", "availability", "reputation")
TASK_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
NODE_KINDS = ("task", "sequence", "parallel", "choice", "loop")
MAX_TASKS = 200
MAX_DEPTH = 32
MAX_LOOP = 1000
MAX_NAME = 200
# a run's deadline is a date: a century keeps it far inside what dates can hold
MAX_DEADLINE_H = 876_000
# loops multiply: without a cap, nested loops of 1000 would ask for 10^96 executions to plan and simulate.
# A run stores one row per task instance, so the longest way through the graph is capped at what a run
# holds; the schedule reserves every branch of a choice, so their sum is capped at what it solves in time.
MAX_RUNS = 2000
MAX_SCHEDULED = 5000
PROBABILITY_TOLERANCE = 1e-9
# PostgreSQL stores no NUL in text: refused here with its path rather than by the store without one
NUL = "no NUL characters"
# weights already summing to 1 this closely are kept as given, so parse(json(r)) == r bit for bit
WEIGHT_SUM_TOLERANCE = 1e-12


@dataclass(frozen=True)
class TaskConstraints:
    """Local bounds on the one service chosen for a task, and where it must be."""

    max_price: float | None = None
    max_time_h: float | None = None
    min_reliability: float | None = None
    min_availability: float | None = None
    near: tuple[float, float] | None = None
    radius_km: float | None = None


@dataclass(frozen=True)
class Task:
    """One abstract task: a capability type that some offer must provide."""

    id: str
    capability: str
    parameters: dict[str, str | None] = field(default_factory=dict)
    constraints: TaskConstraints = field(default_factory=TaskConstraints)


@dataclass(frozen=True)
class Sequence:
    """Steps run one after the other."""

    steps: tuple[Node, ...]


@dataclass(frozen=True)
class Parallel:
    """Branches run at the same time; all must finish."""

    branches: tuple[Node, ...]


@dataclass(frozen=True)
class Choice:
    """Exactly one branch runs, with the given probability."""

    branches: tuple[tuple[float, Node], ...]


@dataclass(frozen=True)
class Loop:
    """The body runs ``count`` times in a row."""

    body: Node
    count: int


Node = Task | Sequence | Parallel | Choice | Loop


@dataclass(frozen=True)
class GlobalConstraints:
    """Bounds on the whole composition's aggregated QoS."""

    deadline_h: float | None = None
    budget: float | None = None
    min_reliability: float | None = None
    min_availability: float | None = None
    currency: str | None = None


@dataclass(frozen=True)
class RequirementGraph:
    """A named task graph with global constraints and weights (normalised over ``ATTRIBUTES``)."""

    name: str
    root: Node
    constraints: GlobalConstraints = field(default_factory=GlobalConstraints)
    weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(ATTRIBUTES, 1 / len(ATTRIBUTES)))

    def tasks(self) -> list[Task]:
        """Every task in document order."""
        return list(iter_tasks(self.root))


def iter_tasks(node: Node) -> Iterator[Task]:
    """The tasks under a node in document order."""
    if isinstance(node, Task):
        yield node
    elif isinstance(node, Sequence):
        for step in node.steps:
            yield from iter_tasks(step)
    elif isinstance(node, Parallel):
        for branch in node.branches:
            yield from iter_tasks(branch)
    elif isinstance(node, Choice):
        for _, branch in node.branches:
            yield from iter_tasks(branch)
    else:
        yield from iter_tasks(node.body)


def max_runs(node: Node) -> int:
    """Task executions in the longest way through the graph (loops multiply, a choice takes its largest)."""
    if isinstance(node, Task):
        return 1
    if isinstance(node, Sequence):
        return sum(max_runs(s) for s in node.steps)
    if isinstance(node, Parallel):
        return sum(max_runs(b) for b in node.branches)
    if isinstance(node, Choice):
        return max(max_runs(b) for _, b in node.branches)
    return node.count * max_runs(node.body)


def scheduled_runs(node: Node) -> int:
    """Task executions a schedule reserves: loops unrolled, every branch of a choice counted."""
    if isinstance(node, Task):
        return 1
    if isinstance(node, Sequence):
        return sum(scheduled_runs(s) for s in node.steps)
    if isinstance(node, Parallel):
        return sum(scheduled_runs(b) for b in node.branches)
    if isinstance(node, Choice):
        return sum(scheduled_runs(b) for _, b in node.branches)
    return node.count * scheduled_runs(node.body)


def _number(value: Any) -> float | None:
    # bool is an int in Python but never a number in a requirement
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


class _Parser:
    """Collects every problem while building the graph, so one answer lists them all."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.task_paths: dict[str, str] = {}
        self.task_count = 0

    def bad(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def unknown_keys(self, obj: dict[str, Any], known: tuple[str, ...], path: str) -> None:
        for key in obj:
            if key not in known:
                self.bad(f"{path}/{key}", f"unknown field (known: {', '.join(known)})")

    def bounded(
        self, obj: dict[str, Any], key: str, path: str, low: float, high: float | None, strict_low: bool
    ) -> float | None:
        """An optional finite number in [low, high] (or (low, high] when ``strict_low``)."""
        if key not in obj or obj[key] is None:
            return None
        value = _number(obj[key])
        where = f"{path}/{key}"
        if value is None:
            self.bad(where, "a finite number")
            return None
        too_low = value <= low if strict_low else value < low
        if too_low or (high is not None and value > high):
            if high is None:
                self.bad(where, f"{'more than' if strict_low else 'at least'} {_fmt(low)}")
            elif strict_low:
                self.bad(where, f"more than {_fmt(low)} and at most {_fmt(high)}")
            else:
                self.bad(where, f"from {_fmt(low)} to {_fmt(high)}")
            return None
        return value

    def near(self, obj: dict[str, Any], path: str) -> tuple[float, float] | None:
        raw = obj.get("near")
        if raw is None:
            return None
        where = f"{path}/near"
        if not isinstance(raw, list | tuple) or len(raw) != 2:
            self.bad(where, "[latitude, longitude]")
            return None
        lat, lon = _number(raw[0]), _number(raw[1])
        ok = True
        if lat is None or not -90 <= lat <= 90:
            self.bad(f"{where}/0", "a latitude from -90 to 90")
            ok = False
        if lon is None or not -180 <= lon <= 180:
            self.bad(f"{where}/1", "a longitude from -180 to 180")
            ok = False
        return (lat, lon) if ok and lat is not None and lon is not None else None

    def task_constraints(self, raw: Any, path: str) -> TaskConstraints:
        if raw is None:
            return TaskConstraints()
        if not isinstance(raw, dict):
            self.bad(path, "an object")
            return TaskConstraints()
        known = ("max_price", "max_time_h", "min_reliability", "min_availability", "near", "radius_km")
        self.unknown_keys(raw, known, path)
        near = self.near(raw, path)
        radius = self.bounded(raw, "radius_km", path, 0, None, strict_low=True)
        if (raw.get("near") is None) != (raw.get("radius_km") is None):
            self.bad(path, "near and radius_km: give both or neither")
        return TaskConstraints(
            max_price=self.bounded(raw, "max_price", path, 0, None, strict_low=False),
            max_time_h=self.bounded(raw, "max_time_h", path, 0, None, strict_low=True),
            min_reliability=self.bounded(raw, "min_reliability", path, 0, 1, strict_low=False),
            min_availability=self.bounded(raw, "min_availability", path, 0, 1, strict_low=False),
            near=near,
            radius_km=radius,
        )

    def task(self, raw: Any, path: str) -> Task | None:
        self.task_count += 1
        if not isinstance(raw, dict):
            self.bad(path, "an object with id and capability")
            return None
        self.unknown_keys(raw, ("id", "capability", "parameters", "constraints"), path)
        ok = True
        task_id = raw.get("id")
        if not isinstance(task_id, str) or not TASK_ID.match(task_id):
            self.bad(f"{path}/id", f"required, matching {TASK_ID.pattern}")
            ok = False
        elif task_id in self.task_paths:
            self.bad(f"{path}/id", f"{task_id!r} is used twice (first at {self.task_paths[task_id]})")
            ok = False
        else:
            self.task_paths[task_id] = f"{path}/id"
        capability = raw.get("capability")
        if not isinstance(capability, str) or not capability.strip() or len(capability) > 200:
            self.bad(f"{path}/capability", "required, a capability type id")
            ok = False
        elif "\x00" in capability:
            self.bad(f"{path}/capability", NUL)
            ok = False
        parameters: dict[str, str | None] = {}
        raw_params = raw.get("parameters", {})
        if raw_params is None:
            raw_params = {}
        if not isinstance(raw_params, dict):
            self.bad(f"{path}/parameters", "an object of name to unit (or null)")
            ok = False
        else:
            for name, unit in raw_params.items():
                if not name or len(name) > 100:
                    self.bad(f"{path}/parameters/{name}", "a name of 1 to 100 characters")
                    ok = False
                elif unit is not None and (not isinstance(unit, str) or not unit or len(unit) > 50):
                    self.bad(f"{path}/parameters/{name}", "a unit of 1 to 50 characters, or null")
                    ok = False
                elif "\x00" in name or (unit is not None and "\x00" in unit):
                    self.bad(f"{path}/parameters/{name}", NUL)
                    ok = False
                else:
                    parameters[name] = unit
        constraints = self.task_constraints(raw.get("constraints"), f"{path}/constraints")
        if not ok:
            return None
        assert isinstance(task_id, str) and isinstance(capability, str)
        return Task(id=task_id, capability=capability, parameters=parameters, constraints=constraints)

    def children(self, raw: Any, path: str, depth: int, what: str) -> tuple[Node, ...] | None:
        if not isinstance(raw, list) or not raw:
            self.bad(path, f"a non-empty list of {what}")
            return None
        nodes = [self.node(item, f"{path}/{i}", depth + 1) for i, item in enumerate(raw)]
        if any(n is None for n in nodes):
            return None
        return tuple(n for n in nodes if n is not None)

    def choice(self, raw: Any, path: str, depth: int) -> Choice | None:
        if not isinstance(raw, list) or not raw:
            self.bad(path, 'a non-empty list of {"p": probability, "do": node}')
            return None
        branches: list[tuple[float, Node]] = []
        ok = probabilities_ok = True
        total = 0.0
        for i, item in enumerate(raw):
            where = f"{path}/{i}"
            if not isinstance(item, dict):
                self.bad(where, 'an object {"p": probability, "do": node}')
                ok = probabilities_ok = False
                continue
            self.unknown_keys(item, ("p", "do"), where)
            p = _number(item.get("p"))
            if p is None or not 0 < p <= 1:
                self.bad(f"{where}/p", "a probability more than 0 and at most 1")
                ok = probabilities_ok = False
            else:
                total += p
            if "do" not in item:
                self.bad(f"{where}/do", "required, a node")
                ok = False
                continue
            body = self.node(item["do"], f"{where}/do", depth + 1)
            if body is None or p is None:
                ok = False
            else:
                branches.append((p, body))
        if probabilities_ok and abs(total - 1) > PROBABILITY_TOLERANCE:
            self.bad(path, f"probabilities sum to {total:.12g}, not 1")
            ok = False
        return Choice(tuple(branches)) if ok else None

    def loop(self, raw: Any, path: str, depth: int) -> Loop | None:
        if not isinstance(raw, dict):
            self.bad(path, 'an object {"count": integer, "do": node}')
            return None
        self.unknown_keys(raw, ("count", "do"), path)
        count = raw.get("count")
        ok = True
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_LOOP:
            self.bad(f"{path}/count", f"an integer from 1 to {MAX_LOOP}")
            ok = False
        if "do" not in raw:
            self.bad(f"{path}/do", "required, a node")
            return None
        body = self.node(raw["do"], f"{path}/do", depth + 1)
        if body is None or not ok:
            return None
        assert isinstance(count, int)
        return Loop(body=body, count=count)

    def node(self, raw: Any, path: str, depth: int) -> Node | None:
        if depth > MAX_DEPTH:
            self.bad(path, f"nested deeper than {MAX_DEPTH} nodes")
            return None
        if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in NODE_KINDS:
            self.bad(path, f"a node: an object with exactly one of {', '.join(NODE_KINDS)}")
            return None
        kind, body = next(iter(raw.items()))
        where = f"{path}/{kind}"
        if kind == "task":
            return self.task(body, where)
        if kind == "sequence":
            steps = self.children(body, where, depth, "nodes")
            return Sequence(steps) if steps is not None else None
        if kind == "parallel":
            branches = self.children(body, where, depth, "nodes")
            return Parallel(branches) if branches is not None else None
        if kind == "choice":
            return self.choice(body, where, depth)
        return self.loop(body, where, depth)

    def global_constraints(self, raw: Any) -> GlobalConstraints:
        path = "constraints"
        if raw is None:
            return GlobalConstraints()
        if not isinstance(raw, dict):
            self.bad(path, "an object")
            return GlobalConstraints()
        known = ("deadline_h", "budget", "currency", "min_reliability", "min_availability")
        self.unknown_keys(raw, known, path)
        currency = raw.get("currency")
        if currency is not None and (not isinstance(currency, str) or not CURRENCY.match(currency)):
            self.bad(f"{path}/currency", "an ISO 4217 currency code such as EUR")
            currency = None
        if raw.get("budget") is not None and raw.get("currency") is None:
            self.bad(f"{path}/currency", "required with a budget")
        return GlobalConstraints(
            deadline_h=self.bounded(raw, "deadline_h", path, 0, MAX_DEADLINE_H, strict_low=True),
            budget=self.bounded(raw, "budget", path, 0, None, strict_low=False),
            min_reliability=self.bounded(raw, "min_reliability", path, 0, 1, strict_low=False),
            min_availability=self.bounded(raw, "min_availability", path, 0, 1, strict_low=False),
            currency=currency,
        )

    def weights(self, raw: Any) -> dict[str, float]:
        if raw is None:
            return dict.fromkeys(ATTRIBUTES, 1 / len(ATTRIBUTES))
        if not isinstance(raw, dict):
            self.bad("weights", f"an object of weights for {', '.join(ATTRIBUTES)}")
            return {}
        values: dict[str, float] = {}
        for name, w in raw.items():
            value = _number(w)
            if name not in ATTRIBUTES:
                self.bad(f"weights/{name}", f"unknown attribute (known: {', '.join(ATTRIBUTES)})")
            elif value is None or value < 0:
                self.bad(f"weights/{name}", "a finite number, at least 0")
            else:
                values[name] = value
        if len(values) != len(raw):
            return {}
        top = max(values.values(), default=0.0)
        if top <= 0:
            self.bad("weights", "at least one must be more than 0")
            return {}
        if top > 1e300:
            # weights near the float maximum would overflow their sum: only their ratios matter
            values = {a: v / top for a, v in values.items()}
        total = math.fsum(values.values())
        if abs(total - 1) <= WEIGHT_SUM_TOLERANCE:
            return {a: values.get(a, 0.0) for a in ATTRIBUTES}
        return {a: values.get(a, 0.0) / total for a in ATTRIBUTES}


def _fmt(x: float) -> str:
    return f"{x:g}"


def parse_requirement(doc: Any) -> RequirementGraph:
    """Build a requirement graph from its JSON, or raise ``InvalidInput`` listing every problem."""
    p = _Parser()
    if not isinstance(doc, dict):
        raise InvalidInput(
            "the requirement is not valid", errors=["requirement: an object with name, graph and constraints"]
        )
    p.unknown_keys(doc, ("name", "graph", "constraints", "weights"), "requirement")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        p.bad("name", f"required, 1 to {MAX_NAME} characters")
    elif "\x00" in name:
        p.bad("name", NUL)
    root = p.node(doc["graph"], "graph", 1) if "graph" in doc else None
    if "graph" not in doc:
        p.bad("graph", "required, a node")
    if p.task_count > MAX_TASKS:
        p.bad("graph", f"at most {MAX_TASKS} tasks, found {p.task_count}")
    elif root is not None and (runs := max_runs(root)) > MAX_RUNS:
        p.bad("graph", f"at most {MAX_RUNS:,} task executions in a run (loops multiply), found {runs:,}")
    elif root is not None and (reserved := scheduled_runs(root)) > MAX_SCHEDULED:
        p.bad(
            "graph",
            f"at most {MAX_SCHEDULED:,} task executions to schedule (loops unrolled, every choice branch), "
            f"found {reserved:,}",
        )
    constraints = p.global_constraints(doc.get("constraints"))
    weights = p.weights(doc.get("weights"))
    if p.problems or root is None:
        raise InvalidInput("the requirement is not valid", errors=p.problems)
    assert isinstance(name, str)
    return RequirementGraph(name=name, root=root, constraints=constraints, weights=weights)


def node_json(node: Node) -> dict[str, Any]:
    """The JSON form of one node, as ``parse_requirement`` reads it."""
    if isinstance(node, Task):
        task: dict[str, Any] = {"id": node.id, "capability": node.capability}
        if node.parameters:
            task["parameters"] = dict(node.parameters)
        c = node.constraints
        constraints: dict[str, Any] = {
            k: v
            for k, v in (
                ("max_price", c.max_price),
                ("max_time_h", c.max_time_h),
                ("min_reliability", c.min_reliability),
                ("min_availability", c.min_availability),
                ("near", list(c.near) if c.near is not None else None),
                ("radius_km", c.radius_km),
            )
            if v is not None
        }
        if constraints:
            task["constraints"] = constraints
        return {"task": task}
    if isinstance(node, Sequence):
        return {"sequence": [node_json(s) for s in node.steps]}
    if isinstance(node, Parallel):
        return {"parallel": [node_json(b) for b in node.branches]}
    if isinstance(node, Choice):
        return {"choice": [{"p": p, "do": node_json(b)} for p, b in node.branches]}
    return {"loop": {"count": node.count, "do": node_json(node.body)}}


def requirement_json(req: RequirementGraph) -> dict[str, Any]:
    """The JSON form of a requirement; ``parse_requirement`` of it gives an equal graph."""
    g = req.constraints
    constraints = {
        k: v
        for k, v in (
            ("deadline_h", g.deadline_h),
            ("budget", g.budget),
            ("currency", g.currency),
            ("min_reliability", g.min_reliability),
            ("min_availability", g.min_availability),
        )
        if v is not None
    }
    return {
        "name": req.name,
        "graph": node_json(req.root),
        "constraints": constraints,
        "weights": dict(req.weights),
    }
