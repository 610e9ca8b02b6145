"""A run's task instances: the requirement graph unrolled (branches drawn, loops repeated), and the states.

Each instance is one execution of one task: a loop repeats its body, so ``inspect`` inside a loop of
3 becomes ``inspect#1``, ``inspect#2``, ``inspect#3`` (nested loops: ``inspect#2.1``). An instance
waits for every instance that must finish before it (``after``). A choice is drawn once per
iteration with its probabilities, or taken as given at start; only the drawn branch's tasks run.
Choices are named by their JSON path in the requirement, e.g. ``graph/sequence/2/choice``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iplus.core.errors import Conflict, InvalidInput
from iplus.platform.systems.requirement import MAX_RUNS, Choice, Loop, Node, Parallel, Sequence, Task

TASK_STATES = ("pending", "dispatched", "running", "done", "failed", "cancelled", "compensated")
TASK_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"dispatched", "failed", "cancelled"}),
    "dispatched": frozenset({"running", "failed", "cancelled"}),
    "running": frozenset({"done", "failed", "cancelled"}),
    # a finished task's effect is undone when its run is cancelled or fails
    "done": frozenset({"compensated"}),
    # a failed attempt stays failed: re-selection adds a new attempt of the same instance
    "failed": frozenset(),
    "cancelled": frozenset(),
    "compensated": frozenset(),
}
RUN_STATES = ("running", "completed", "failed", "cancelled")
RUN_TRANSITIONS: dict[str, frozenset[str]] = {
    "running": frozenset({"completed", "failed", "cancelled"}),
    "completed": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
}
IN_FLIGHT = frozenset({"dispatched", "running"})
# the longest way through a parsed requirement: every run of one fits
MAX_INSTANCES = MAX_RUNS


def check_task_move(state: str, to: str, what: str = "task") -> None:
    """Raise ``Conflict`` unless a task may go from ``state`` to ``to``."""
    if to not in TASK_TRANSITIONS.get(state, frozenset()):
        raise Conflict(f"{what} is {state}: it cannot become {to}")


def check_run_move(state: str, to: str, what: str = "run") -> None:
    """Raise ``Conflict`` unless a run may go from ``state`` to ``to``."""
    if to not in RUN_TRANSITIONS.get(state, frozenset()):
        raise Conflict(f"{what} is {state}: it cannot become {to}")


@dataclass(frozen=True)
class Instance:
    """One execution of one task within a run."""

    key: str
    task: Task
    after: tuple[str, ...]
    position: int


def choices_of(root: Node, path: str = "graph") -> dict[str, int]:
    """Every choice node's path and its number of branches."""
    out: dict[str, int] = {}
    if isinstance(root, Sequence):
        for i, step in enumerate(root.steps):
            out.update(choices_of(step, f"{path}/sequence/{i}"))
    elif isinstance(root, Parallel):
        for i, branch in enumerate(root.branches):
            out.update(choices_of(branch, f"{path}/parallel/{i}"))
    elif isinstance(root, Choice):
        here = f"{path}/choice"
        out[here] = len(root.branches)
        for i, (_, branch) in enumerate(root.branches):
            out.update(choices_of(branch, f"{here}/{i}/do"))
    elif isinstance(root, Loop):
        out.update(choices_of(root.body, f"{path}/loop/do"))
    return out


def check_given(root: Node, given: Any) -> dict[str, int]:
    """Branches given at start, ``{choice path: branch index}``; every problem listed."""
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise InvalidInput(
            "the choices are not valid", errors=["choices: an object of choice path to branch"]
        )
    known = choices_of(root)
    problems = []
    for path, branch in given.items():
        if path not in known:
            listed = ", ".join(sorted(known)) or "none"
            problems.append(f"choices/{path}: not a choice of the requirement (choices: {listed})")
        elif isinstance(branch, bool) or not isinstance(branch, int) or not 0 <= branch < known[path]:
            problems.append(f"choices/{path}: a branch index from 0 to {known[path] - 1}")
    if problems:
        raise InvalidInput("the choices are not valid", errors=problems)
    return dict(given)


def draw(branches: tuple[tuple[float, Node], ...], rng: random.Random) -> int:
    """A branch index drawn with the branches' probabilities."""
    u = rng.random()
    total = 0.0
    for i, (p, _) in enumerate(branches):
        total += p
        if u < total:
            return i
    return len(branches) - 1  # the probabilities sum to 1 within rounding


class _Unroller:
    def __init__(self, rng: random.Random, given: Mapping[str, int], limit: int) -> None:
        self.rng = rng
        self.given = given
        self.limit = limit
        self.instances: list[Instance] = []
        self.outcomes: dict[str, int] = {}

    def walk(self, node: Node, path: str, after: tuple[str, ...], iters: tuple[int, ...]) -> tuple[str, ...]:
        """Add the node's instances; answer the keys that mark its end."""
        suffix = "#" + ".".join(map(str, iters)) if iters else ""
        if isinstance(node, Task):
            if len(self.instances) >= self.limit:
                raise InvalidInput(f"the run would have more than {self.limit} task instances")
            key = node.id + suffix
            self.instances.append(Instance(key, node, after, len(self.instances)))
            return (key,)
        if isinstance(node, Sequence):
            for i, step in enumerate(node.steps):
                after = self.walk(step, f"{path}/sequence/{i}", after, iters)
            return after
        if isinstance(node, Parallel):
            ends: list[str] = []
            for i, branch in enumerate(node.branches):
                ends.extend(self.walk(branch, f"{path}/parallel/{i}", after, iters))
            return tuple(ends)
        if isinstance(node, Choice):
            here = f"{path}/choice"
            taken = self.given.get(here)
            if taken is None:
                taken = draw(node.branches, self.rng)
            self.outcomes[here + suffix] = taken
            return self.walk(node.branches[taken][1], f"{here}/{taken}/do", after, iters)
        for k in range(1, node.count + 1):
            after = self.walk(node.body, f"{path}/loop/do", after, (*iters, k))
        return after


def unroll(
    root: Node, rng: random.Random, given: Mapping[str, int] | None = None, limit: int = MAX_INSTANCES
) -> tuple[list[Instance], dict[str, int]]:
    """The run's task instances in document order, and the branch taken at each choice (per iteration)."""
    unroller = _Unroller(rng, given or {}, limit)
    unroller.walk(root, "graph", (), ())
    return unroller.instances, unroller.outcomes
