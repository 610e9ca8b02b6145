"""The algorithm registry: list, describe and invoke versioned algorithms."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel

from iplus.api.deps import ContextDep, Reader

router = APIRouter(tags=["algorithms"])
AlgorithmId = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_.]{0,99}$", description="a dotted algorithm id")]
Version = Annotated[
    str | None, Query(pattern=r"^\d+\.\d+\.\d+$", description="a version; default the newest")
]


class AlgorithmOut(BaseModel):
    """One version of an algorithm, with its input and output JSON Schemas (units in ``unit``)."""

    id: str
    version: str
    versions: list[str]
    title: str
    description: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    tags: list[str]
    references: list[str]


class InvocationOut(BaseModel):
    """The outputs of one invocation and the version that produced them."""

    algorithm: str
    version: str
    outputs: dict[str, Any]
    elapsed_ms: float


def _out(ctx: ContextDep, algorithm_id: str, version: str | None) -> AlgorithmOut:
    algorithm = ctx.algorithms.get(algorithm_id, version)
    return AlgorithmOut(**algorithm.describe(), versions=ctx.algorithms.versions(algorithm_id))


@router.get("/algorithms", response_model=list[AlgorithmOut])
async def list_algorithms(
    ctx: ContextDep,
    caller: Reader,
    tag: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="text in the id, title or description")
    ] = None,
) -> list[AlgorithmOut]:
    """The newest version of every algorithm, optionally filtered by tag or text."""
    return [_out(ctx, a.id, a.version) for a in ctx.algorithms.latest(tag=tag, text=q)]


@router.get("/algorithms/{algorithm_id}", response_model=AlgorithmOut)
async def get_algorithm(
    ctx: ContextDep, caller: Reader, algorithm_id: AlgorithmId, version: Version = None
) -> AlgorithmOut:
    """One algorithm version (the newest by default)."""
    return _out(ctx, algorithm_id, version)


@router.post("/algorithms/{algorithm_id}/invoke", response_model=InvocationOut)
async def invoke_algorithm(
    ctx: ContextDep,
    caller: Reader,
    algorithm_id: AlgorithmId,
    inputs: Annotated[dict[str, Any], Body(description="the inputs, as the algorithm's input schema says")],
    version: Version = None,
) -> InvocationOut:
    """Run an algorithm on the inputs; every input problem is listed in a 422 answer."""
    # off the event loop: an algorithm is pure but may take a while on large inputs
    done = await asyncio.to_thread(ctx.algorithms.invoke, algorithm_id, inputs, version)
    return InvocationOut(
        algorithm=done.algorithm,
        version=done.version,
        outputs=done.outputs,
        elapsed_ms=round(done.elapsed_ms, 3),
    )
