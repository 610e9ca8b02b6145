"""Requirement graphs: parsing with every problem's JSON path, limits, and the JSON round trip."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iplus.core.errors import InvalidInput
from iplus.platform.systems.requirement import (
    Choice,
    GlobalConstraints,
    Loop,
    Parallel,
    Sequence,
    Task,
    TaskConstraints,
    parse_requirement,
    requirement_json,
)


def task(tid: str, **kw: Any) -> dict[str, Any]:
    return {"task": {"id": tid, "capability": "milling", **kw}}


DOC: dict[str, Any] = {
    "name": "Night maintenance",
    "graph": {
        "sequence": [
            task(
                "inspect",
                parameters={"length": "mm", "material": None},
                constraints={
                    "max_price": 50,
                    "max_time_h": 2,
                    "min_reliability": 0.9,
                    "min_availability": 0.9,
                    "near": [48.1, 11.5],
                    "radius_km": 20,
                },
            ),
            {"parallel": [task("clean"), task("paint")]},
            {"choice": [{"p": 0.3, "do": task("repair")}, {"p": 0.7, "do": task("report")}]},
            {"loop": {"count": 3, "do": task("check")}},
        ]
    },
    "constraints": {
        "deadline_h": 8,
        "budget": 500,
        "currency": "EUR",
        "min_reliability": 0.9,
        "min_availability": 0.95,
    },
    "weights": {"time": 0.3, "cost": 0.3, "reliability": 0.2, "availability": 0.1, "reputation": 0.1},
}


def problems(doc: Any) -> list[str]:
    with pytest.raises(InvalidInput) as err:
        parse_requirement(doc)
    return list(err.value.extra["errors"])


def test_the_documented_example_parses_into_the_model() -> None:
    req = parse_requirement(DOC)
    assert req.name == "Night maintenance"
    assert isinstance(req.root, Sequence)
    inspect, par, choice, loop = req.root.steps
    assert inspect == Task(
        "inspect",
        "milling",
        {"length": "mm", "material": None},
        TaskConstraints(50.0, 2.0, 0.9, 0.9, (48.1, 11.5), 20.0),
    )
    assert isinstance(par, Parallel) and [b.id for b in par.branches] == ["clean", "paint"]  # type: ignore[union-attr]
    assert isinstance(choice, Choice) and [p for p, _ in choice.branches] == [0.3, 0.7]
    assert isinstance(loop, Loop) and loop.count == 3
    assert req.constraints == GlobalConstraints(8.0, 500.0, 0.9, 0.95, "EUR")
    assert [t.id for t in req.tasks()] == ["inspect", "clean", "paint", "repair", "report", "check"]
    assert req.weights == pytest.approx(
        {"time": 0.3, "cost": 0.3, "reliability": 0.2, "availability": 0.1, "reputation": 0.1}
    )


def test_round_trip_gives_an_equal_graph() -> None:
    req = parse_requirement(DOC)
    again = parse_requirement(requirement_json(req))
    assert again == req
    assert requirement_json(again) == requirement_json(req)


def test_weights_are_normalised_and_default_to_equal() -> None:
    doc = copy.deepcopy(DOC)
    doc["weights"] = {"time": 2, "cost": 6}
    assert parse_requirement(doc).weights == {
        "time": 0.25,
        "cost": 0.75,
        "reliability": 0.0,
        "availability": 0.0,
        "reputation": 0.0,
    }
    del doc["weights"]
    assert parse_requirement(doc).weights == dict.fromkeys(
        ("time", "cost", "reliability", "availability", "reputation"), 0.2
    )


def test_probabilities_that_do_not_sum_to_one_are_named_with_their_path() -> None:
    doc = copy.deepcopy(DOC)
    doc["graph"]["sequence"][2]["choice"][1]["p"] = 0.6
    assert problems(doc) == ["graph/sequence/2/choice: probabilities sum to 0.9, not 1"]
    doc["graph"]["sequence"][2]["choice"][1]["p"] = 0.7 + 2e-10  # within 1e-9 of 1
    parse_requirement(doc)


def test_every_problem_is_listed_at_once() -> None:
    doc = copy.deepcopy(DOC)
    seq = doc["graph"]["sequence"]
    seq[0]["task"]["id"] = "Bad Id"
    seq[0]["task"]["constraints"]["min_reliability"] = 1.5
    seq[0]["task"]["constraints"].pop("radius_km")
    seq[1]["parallel"][1]["task"]["id"] = "clean"
    seq[2]["choice"][0]["p"] = 0
    seq[3]["loop"]["count"] = 1001
    seq.append({"task": {"id": "x"}, "sequence": []})
    doc["constraints"] = {"budget": -1, "deadline_h": 0, "colour": "red"}
    doc["weights"] = {"speed": 1, "cost": -1}
    found = problems(doc)
    assert found == [
        "graph/sequence/0/task/id: required, matching ^[a-z0-9][a-z0-9_-]{0,62}$",
        "graph/sequence/0/task/constraints: near and radius_km: give both or neither",
        "graph/sequence/0/task/constraints/min_reliability: from 0 to 1",
        "graph/sequence/1/parallel/1/task/id: 'clean' is used twice (first at graph/sequence/1/parallel/0/task/id)",
        "graph/sequence/2/choice/0/p: a probability more than 0 and at most 1",
        "graph/sequence/3/loop/count: an integer from 1 to 1000",
        "graph/sequence/4: a node: an object with exactly one of task, sequence, parallel, choice, loop",
        "constraints/colour: unknown field (known: deadline_h, budget, currency, min_reliability, min_availability)",
        "constraints/currency: required with a budget",
        "constraints/deadline_h: more than 0 and at most 876000",
        "constraints/budget: at least 0",
        "weights/speed: unknown attribute (known: time, cost, reliability, availability, reputation)",
        "weights/cost: a finite number, at least 0",
    ]


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ([], ["requirement: an object with name, graph and constraints"]),
        ({"name": "x"}, ["graph: required, a node"]),
        ({"name": "", "graph": task("a")}, ["name: required, 1 to 200 characters"]),
        ({"name": "x", "graph": {"sequence": []}}, ["graph/sequence: a non-empty list of nodes"]),
        (
            {"name": "x", "graph": {"loop": {"count": True, "do": task("a")}}},
            ["graph/loop/count: an integer from 1 to 1000"],
        ),
        (
            {"name": "x", "graph": task("a"), "weights": {"time": 0}},
            ["weights: at least one must be more than 0"],
        ),
        (
            {"name": "x", "graph": task("a"), "constraints": {"currency": "eur"}},
            ["constraints/currency: an ISO 4217 currency code such as EUR"],
        ),
        (
            {"name": "x", "graph": task("a", constraints={"near": [91, 0], "radius_km": 1})},
            ["graph/task/constraints/near/0: a latitude from -90 to 90"],
        ),
        (
            {"name": "x", "graph": task("a"), "extra": 1},
            ["requirement/extra: unknown field (known: name, graph, constraints, weights)"],
        ),
        (
            {"name": "x", "graph": task("a", max_price=3)},
            ["graph/task/max_price: unknown field (known: id, capability, parameters, constraints)"],
        ),
        ({"name": "x", "graph": {"choice": [{"p": 1.0}]}}, ["graph/choice/0/do: required, a node"]),
    ],
)
def test_single_problems(doc: Any, expected: list[str]) -> None:
    assert problems(doc) == expected


def test_size_limits() -> None:
    many = {"name": "x", "graph": {"sequence": [task(f"t{i}") for i in range(201)]}}
    assert problems(many) == ["graph: at most 200 tasks, found 201"]
    node: dict[str, Any] = task("a")
    for _ in range(32):
        node = {"sequence": [node]}
    found = problems({"name": "x", "graph": node})
    assert len(found) == 1 and found[0].endswith("nested deeper than 32 nodes")
    nested = {"loop": {"count": 1000, "do": {"loop": {"count": 101, "do": task("a")}}}}
    assert problems({"name": "x", "graph": nested}) == [
        "graph: at most 2,000 task executions in a run (loops multiply), found 101,000"
    ]


NAMES = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True)


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    ids = iter(draw(st.lists(NAMES, min_size=12, max_size=12, unique=True)))

    def node(depth: int) -> dict[str, Any]:
        kind = draw(
            st.sampled_from(["task"] if depth >= 3 else ["task", "sequence", "parallel", "choice", "loop"])
        )
        if kind == "task":
            return task(next(ids))
        if kind in ("sequence", "parallel"):
            return {kind: [node(depth + 1) for _ in range(draw(st.integers(1, 2)))]}
        if kind == "loop":
            # at most 12^3 executions along any way: within what a run may hold
            return {"loop": {"count": draw(st.integers(1, 12)), "do": node(depth + 1)}}
        first = draw(st.floats(0.01, 0.99))
        return {"choice": [{"p": first, "do": node(depth + 1)}, {"p": 1 - first, "do": node(depth + 1)}]}

    weights = draw(
        st.dictionaries(st.sampled_from(["time", "cost", "reputation"]), st.floats(0.1, 10), min_size=1)
    )
    return {
        "name": "g",
        "graph": node(0),
        "weights": weights,
        "constraints": {"deadline_h": draw(st.floats(0.1, 100))},
    }


@settings(max_examples=60, deadline=None)
@given(graphs())
def test_round_trip_property(doc: dict[str, Any]) -> None:
    req = parse_requirement(doc)
    assert parse_requirement(requirement_json(req)) == req
