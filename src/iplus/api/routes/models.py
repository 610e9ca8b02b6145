"""Model registry: train on telemetry, list versions with metrics and lineage, stage, download, predict."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from iplus.api.deps import ContextDep, Reader, Writer
from iplus.infra.db.models_ai import ModelVersion
from iplus.platform.training import TrainSpec

router = APIRouter(prefix="/models", tags=["models"])
ModelName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$", description="a model name")]
VersionNo = Annotated[int, Path(ge=1, le=1_000_000, description="a version number")]


class TrainIn(BaseModel):
    """Train a model of ``kind`` on one numeric property of some devices over a time range."""

    name: str = Field(min_length=1, max_length=100)
    kind: Literal["forecast", "isolation-forest", "robust-zscore", "half-space-trees"]
    devices: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=100)
    key: str = Field(min_length=1, max_length=100)
    start: datetime | None = None
    end: datetime | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class VersionOut(BaseModel):
    """A model version: kind, stage, metrics, lineage and the artifact's digest."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    version: int
    kind: str
    stage: str
    metrics: dict[str, Any]
    lineage: dict[str, Any]
    artifact_format: str
    artifact_sha256: str
    artifact_size: int
    created_at: datetime
    stage_changed_at: datetime
    evaluation: dict[str, Any] | None = None


class ModelOut(BaseModel):
    """A model name with its kind, how many versions, the newest and the production one."""

    name: str
    kind: str
    versions: int
    latest: int
    production: int | None


class StageIn(BaseModel):
    """The stage to move a version to."""

    stage: Literal["candidate", "production", "archived"]


class PredictIn(BaseModel):
    """A forecast horizon (forecasting models) and/or values to forecast from or to score."""

    horizon: int | None = Field(default=None, ge=1, le=10_000)
    values: list[float] | None = Field(default=None, max_length=100_000)


def _out(row: ModelVersion, evaluation: bool = False) -> VersionOut:
    out = VersionOut.model_validate(row)
    out.evaluation = row.evaluation if evaluation else None
    return out


@router.post("/train", response_model=VersionOut, status_code=status.HTTP_201_CREATED)
async def train(ctx: ContextDep, caller: Writer, body: TrainIn) -> VersionOut:
    """Train on the compute backend and register a candidate version with its metrics and lineage."""
    spec = TrainSpec(body.name, body.kind, body.devices, body.key, body.start, body.end, body.params)
    return _out(await ctx.trainer.train(caller, spec))


@router.get("", response_model=list[ModelOut])
async def list_models(ctx: ContextDep, caller: Reader) -> list[ModelOut]:
    """The organisation's models."""
    return [ModelOut(**m) for m in await ctx.models.list_models(caller)]


@router.get("/{name}/versions", response_model=list[VersionOut])
async def list_versions(ctx: ContextDep, caller: Reader, name: ModelName) -> list[VersionOut]:
    """Every version of a model, oldest first."""
    return [_out(r) for r in await ctx.models.versions(caller, name)]


@router.get("/{name}/versions/{version}", response_model=VersionOut)
async def get_version(
    ctx: ContextDep,
    caller: Reader,
    name: ModelName,
    version: VersionNo,
    evaluation: Annotated[bool, Query(description="include the test-split series for a chart")] = False,
) -> VersionOut:
    """One version with metrics and lineage (and, on request, its evaluation series)."""
    return _out(await ctx.models.get(caller, name, version), evaluation)


@router.post("/{name}/versions/{version}/stage", response_model=VersionOut)
async def set_stage(
    ctx: ContextDep, caller: Writer, name: ModelName, version: VersionNo, body: StageIn
) -> VersionOut:
    """Move a version: candidate -> production -> archived; a new production version archives the old."""
    return _out(await ctx.models.set_stage(caller, name, version, body.stage))


@router.get("/{name}/versions/{version}/artifact")
async def get_artifact(ctx: ContextDep, caller: Reader, name: ModelName, version: VersionNo) -> Response:
    """The artifact (skops or JSON), checked against its SHA-256 before it is sent."""
    row, data = await ctx.models.artifact(caller, name, version)
    suffix = "skops" if row.artifact_format == "skops" else "json"
    return Response(
        data,
        media_type="application/octet-stream" if suffix == "skops" else "application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{name}-v{version}.{suffix}"',
            "X-Artifact-SHA256": row.artifact_sha256,
        },
    )


@router.post("/{name}/versions/{version}/predict")
async def predict(
    ctx: ContextDep, caller: Reader, name: ModelName, version: VersionNo, body: PredictIn
) -> dict[str, Any]:
    """Forecast ``horizon`` steps (from ``values`` or the devices' latest readings), or score ``values``."""
    return await ctx.trainer.predict(caller, name, version, horizon=body.horizon, values=body.values)
