"""Analytics: tenant SQL over the telemetry store, saved jobs (queries, exports) and their runs."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, status
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from iplus.api.deps import ContextDep, ObjectId, Reader, Writer
from iplus.engines.batch.exports import MEDIA_TYPES, jsonable, rows_table, table_bytes
from iplus.infra.tsdb.duckdb_sql import MAX_QUERY_ROWS
from iplus.platform.analytics import JobSpec

router = APIRouter(prefix="/analytics", tags=["analytics"])


class QueryIn(BaseModel):
    """A read-only SQL query over the organisation's ``readings`` view; ``$1``.. bind ``params``."""

    model_config = ConfigDict(extra="forbid")

    sql: str = Field(min_length=1, max_length=20_000)
    params: list[Any] = Field(default_factory=list, max_length=100)
    limit: int = Field(default=10_000, ge=1, le=MAX_QUERY_ROWS)


class QueryOut(BaseModel):
    """Column names and rows (times in ISO 8601 UTC); ``truncated`` when rows stopped at the limit."""

    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    elapsed_ms: float


class JobIn(BaseModel):
    """A saved query (``sql``) or an export of a selection, to CSV or Parquet, with an optional cron."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    sql: str | None = Field(default=None, max_length=20_000)
    params: list[Any] = Field(default_factory=list, max_length=100)
    selection: dict[str, Any] | None = Field(
        default=None, description="device_ids, keys (lists), start, end (ISO 8601)"
    )
    format: str = Field(default="csv", pattern="^(csv|parquet)$")
    schedule: str | None = Field(default=None, max_length=100, description="cron line, UTC")
    enabled: bool = True
    row_limit: int = Field(default=100_000, ge=1, le=MAX_QUERY_ROWS)

    def spec(self) -> JobSpec:
        """As the service's job spec."""
        return JobSpec(**self.model_dump())


class JobOut(BaseModel):
    """A stored job."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    kind: str
    sql: str | None
    params: list[Any]
    selection: dict[str, Any] | None
    format: str
    schedule: str | None
    enabled: bool
    row_limit: int
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RunOut(BaseModel):
    """One run of a job."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    job_id: str
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    rows: int | None
    duration_ms: float | None
    error: str | None
    output_url: str | None = None


def _run_out(run: Any) -> RunOut:
    out = RunOut.model_validate(run)
    if run.output:
        out.output_url = f"/api/v1/analytics/runs/{run.id}/output"
    return out


_QUERY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/json": {"schema": QueryOut.model_json_schema()},
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        }
    }
}


@router.post("/query", response_model=QueryOut, responses=_QUERY_RESPONSES)
async def run_query(
    ctx: ContextDep, caller: Reader, body: QueryIn, accept: Annotated[str, Header()] = "application/json"
) -> Any:
    """Run SQL over ``readings(device_id, type_id, key, ts, value_num, value_txt, value_bool)``.

    Only the caller's organisation's rows are visible; one SELECT/WITH statement, no other table.
    ``Accept: text/csv`` or ``application/vnd.apache.parquet`` returns a file instead of JSON.
    """
    clock = time.perf_counter()
    result = await ctx.analytics.query(caller, body.sql, body.params, limit=body.limit)
    for fmt in ("csv", "parquet"):
        if MEDIA_TYPES[fmt] in accept:
            table = await asyncio.to_thread(rows_table, result.columns, result.rows)
            data = await asyncio.to_thread(table_bytes, table, fmt)
            return Response(
                data,
                media_type=MEDIA_TYPES[fmt],
                headers={
                    "Content-Disposition": f'attachment; filename="query.{fmt}"',
                    "X-Truncated": str(result.truncated).lower(),
                },
            )
    rows = [[jsonable(v) for v in r] for r in result.rows]
    elapsed = (time.perf_counter() - clock) * 1000
    return QueryOut(
        columns=result.columns, rows=rows, row_count=len(rows), truncated=result.truncated, elapsed_ms=elapsed
    )


@router.post("/jobs", response_model=JobOut, status_code=status.HTTP_201_CREATED)
async def create_job(ctx: ContextDep, caller: Writer, body: JobIn) -> JobOut:
    """Save a query or export job; with ``schedule`` (cron, UTC) it runs by itself."""
    return JobOut.model_validate(await ctx.analytics.create_job(caller, body.spec()))


@router.get("/jobs", response_model=list[JobOut])
async def list_jobs(ctx: ContextDep, caller: Reader) -> list[JobOut]:
    """The organisation's jobs."""
    return [JobOut.model_validate(j) for j in await ctx.analytics.list_jobs(caller)]


@router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(ctx: ContextDep, caller: Reader, job_id: ObjectId) -> JobOut:
    """One job."""
    return JobOut.model_validate(await ctx.analytics.get_job(caller, job_id))


@router.put("/jobs/{job_id}", response_model=JobOut)
async def update_job(ctx: ContextDep, caller: Writer, job_id: ObjectId, body: JobIn) -> JobOut:
    """Replace a job's definition."""
    return JobOut.model_validate(await ctx.analytics.update_job(caller, job_id, body.spec()))


@router.delete("/jobs/{job_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_job(ctx: ContextDep, caller: Writer, job_id: ObjectId) -> Response:
    """Delete a job with its runs and output files."""
    await ctx.analytics.delete_job(caller, job_id)
    return Response(status_code=204)


@router.post("/jobs/{job_id}/run", response_model=RunOut)
async def run_job(ctx: ContextDep, caller: Writer, job_id: ObjectId) -> RunOut:
    """Run a job now and wait for the result (a failed run is recorded, with its error)."""
    return _run_out(await ctx.analytics.run_job(caller, job_id))


@router.get("/jobs/{job_id}/runs", response_model=list[RunOut])
async def list_runs(ctx: ContextDep, caller: Reader, job_id: ObjectId) -> list[RunOut]:
    """A job's runs, newest first."""
    return [_run_out(r) for r in await ctx.analytics.list_runs(caller, job_id)]


@router.get("/runs/{run_id}", response_model=RunOut)
async def get_run(ctx: ContextDep, caller: Reader, run_id: ObjectId) -> RunOut:
    """One run."""
    return _run_out(await ctx.analytics.get_run(caller, run_id))


@router.get("/runs/{run_id}/output", response_class=FileResponse)
async def run_output(ctx: ContextDep, caller: Reader, run_id: ObjectId) -> FileResponse:
    """Download a run's CSV or Parquet file."""
    path, fmt = await ctx.analytics.output_file(caller, run_id)
    return FileResponse(path, media_type=MEDIA_TYPES.get(fmt), filename=f"run-{run_id}.{fmt}")
