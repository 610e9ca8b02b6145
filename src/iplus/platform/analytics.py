"""Analytics: tenant SQL, saved queries and exports as jobs, run on demand or by cron schedule."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update

from iplus.core.clock import as_utc, utcnow
from iplus.core.errors import InvalidInput, NotFound
from iplus.engines.batch.exports import FORMATS, write_rows, write_table
from iplus.engines.batch.schedule import check_cron, next_run
from iplus.infra.db.engine import Database
from iplus.infra.db.models_batch import AnalyticsJob, AnalyticsRun
from iplus.infra.db.repos import TenantRepository, flush_or_conflict
from iplus.infra.ports import Compute, TelemetryStore
from iplus.infra.telemetry import Selection
from iplus.infra.tsdb.duckdb_sql import MAX_QUERY_ROWS, QueryResult, check_select
from iplus.security.principal import Principal

log = logging.getLogger(__name__)
JOB_TIME_LIMIT_S = 300.0
MAX_JOBS_PER_RUN_DUE = 100


@dataclass(frozen=True)
class JobSpec:
    """What a job does: a saved query (``sql``) or an export of a selection, to CSV or Parquet."""

    name: str
    sql: str | None = None
    params: list[Any] = field(default_factory=list)
    selection: dict[str, Any] | None = None
    format: str = "csv"
    schedule: str | None = None
    enabled: bool = True
    row_limit: int = 100_000


class JobRepository(TenantRepository[AnalyticsJob]):
    """An organisation's analytics jobs."""

    model = AnalyticsJob
    noun = "analytics job"


class RunRepository(TenantRepository[AnalyticsRun]):
    """An organisation's job runs."""

    model = AnalyticsRun
    noun = "job run"


def parse_selection(org_id: str, raw: dict[str, Any]) -> Selection:
    """A stored export selection (device_ids, keys, start, end in ISO 8601) for ``org_id``."""
    unknown = set(raw) - {"device_ids", "keys", "start", "end"}
    if unknown:
        raise InvalidInput(f"selection: unknown fields {sorted(unknown)}")

    def names(key: str) -> list[str] | None:
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInput(f"selection.{key} must be a list of strings")
        return list(value)

    def moment(key: str) -> datetime | None:
        value = raw.get(key)
        if value is None:
            return None
        try:
            return as_utc(datetime.fromisoformat(str(value)))
        except ValueError as exc:
            raise InvalidInput(f"selection.{key}: {value!r} is not an ISO 8601 time") from exc

    return Selection(org_id, names("device_ids"), names("keys"), moment("start"), moment("end"))


def _check_spec(org_id: str, spec: JobSpec) -> None:
    if not spec.name.strip() or len(spec.name) > 100:
        raise InvalidInput("name must be 1-100 characters")
    if (spec.sql is None) == (spec.selection is None):
        raise InvalidInput("a job has either sql (a saved query) or selection (an export), not both")
    if spec.sql is not None:
        check_select(spec.sql)
    if spec.selection is not None:
        parse_selection(org_id, spec.selection)
    if spec.format not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}")
    if not 1 <= spec.row_limit <= MAX_QUERY_ROWS:
        raise InvalidInput(f"row_limit must be between 1 and {MAX_QUERY_ROWS}")
    if spec.schedule is not None:
        check_cron(spec.schedule)


class Analytics:
    """The analytics service: queries through the telemetry store, jobs in the metadata store."""

    def __init__(self, db: Database, telemetry: TelemetryStore, compute: Compute, data_dir: Path) -> None:
        self.db = db
        self.telemetry = telemetry
        self.compute = compute
        self.data_dir = data_dir

    async def query(
        self, caller: Principal, sql: str, params: Sequence[Any] = (), *, limit: int = 10_000
    ) -> QueryResult:
        """The caller's read-only SQL over its organisation's ``readings``."""
        return await self.telemetry.query(caller.org_id, sql, list(params), limit=limit, time_limit=60.0)

    # jobs --------------------------------------------------------------------------------
    async def create_job(self, caller: Principal, spec: JobSpec) -> AnalyticsJob:
        """Save a job; a scheduled one gets its first run time."""
        _check_spec(caller.org_id, spec)
        now = utcnow()
        job = AnalyticsJob(created_at=now, updated_at=now)
        self._apply(job, spec, now)
        async with self.db.transaction() as s:
            return await JobRepository(s, caller.org_id).add(job)

    async def update_job(self, caller: Principal, job_id: str, spec: JobSpec) -> AnalyticsJob:
        """Replace a job's definition; its schedule restarts from now."""
        _check_spec(caller.org_id, spec)
        async with self.db.transaction() as s:
            job = await JobRepository(s, caller.org_id).get(job_id)
            self._apply(job, spec, utcnow())
            await flush_or_conflict(s, "analytics job")
            return job

    @staticmethod
    def _apply(job: AnalyticsJob, spec: JobSpec, now: datetime) -> None:
        job.name = spec.name.strip()
        job.kind = "query" if spec.sql is not None else "export"
        job.sql = spec.sql
        job.params = list(spec.params)
        job.selection = spec.selection
        job.format = spec.format
        job.row_limit = spec.row_limit
        job.schedule = check_cron(spec.schedule) if spec.schedule else None
        job.enabled = spec.enabled
        job.next_run_at = next_run(job.schedule, now) if job.schedule and spec.enabled else None
        job.updated_at = now

    async def list_jobs(self, caller: Principal) -> list[AnalyticsJob]:
        """The organisation's jobs."""
        async with self.db.transaction() as s:
            return list(await JobRepository(s, caller.org_id).list(limit=1000))

    async def get_job(self, caller: Principal, job_id: str) -> AnalyticsJob:
        """One job; another tenant's answers NotFound."""
        async with self.db.transaction() as s:
            return await JobRepository(s, caller.org_id).get(job_id)

    async def find_job(self, caller: Principal, ref: str) -> AnalyticsJob:
        """A job by id or by name."""
        async with self.db.transaction() as s:
            repo = JobRepository(s, caller.org_id)
            job = await s.scalar(repo._select().where(AnalyticsJob.name == ref))
            return job if job is not None else await repo.get(ref)

    async def delete_job(self, caller: Principal, job_id: str) -> None:
        """Delete a job, its runs and their files."""
        async with self.db.transaction() as s:
            job = await JobRepository(s, caller.org_id).get(job_id)
            runs = (await s.scalars(select(AnalyticsRun).where(AnalyticsRun.job_id == job.id))).all()
            outputs = [r.output for r in runs if r.output]
            await s.execute(delete(AnalyticsRun).where(AnalyticsRun.job_id == job.id))
            await s.execute(delete(AnalyticsJob).where(AnalyticsJob.id == job.id))
        for output in outputs:
            (self.data_dir / output).unlink(missing_ok=True)

    # runs --------------------------------------------------------------------------------
    async def run_job(self, caller: Principal, job_id: str) -> AnalyticsRun:
        """Run a job now and wait for it; the run records success or the error."""
        job = await self.get_job(caller, job_id)
        return await self._run(job, "manual")

    async def list_runs(self, caller: Principal, job_id: str, limit: int = 100) -> list[AnalyticsRun]:
        """A job's runs, newest first."""
        async with self.db.transaction() as s:
            job = await JobRepository(s, caller.org_id).get(job_id)
            stmt = (
                RunRepository(s, caller.org_id)
                ._select()
                .where(AnalyticsRun.job_id == job.id)
                .order_by(AnalyticsRun.started_at.desc(), AnalyticsRun.id.desc())
                .limit(limit)
            )
            return list((await s.scalars(stmt)).all())

    async def get_run(self, caller: Principal, run_id: str) -> AnalyticsRun:
        """One run; another tenant's answers NotFound."""
        async with self.db.transaction() as s:
            return await RunRepository(s, caller.org_id).get(run_id)

    async def output_file(self, caller: Principal, run_id: str) -> tuple[Path, str]:
        """The run's output file and its format."""
        run = await self.get_run(caller, run_id)
        if not run.output:
            raise NotFound(f"run {run_id} has no output file ({run.status})")
        path = self.data_dir / run.output
        if not path.is_file():
            raise NotFound(f"the output file of run {run_id} is gone")
        return path, path.suffix.lstrip(".")

    async def run_due(self, now: datetime | None = None) -> list[AnalyticsRun]:
        """Run every enabled job whose time has come (once, however many times were missed)."""
        now = now or utcnow()
        async with self.db.transaction() as s:
            due = (
                await s.scalars(
                    select(AnalyticsJob)
                    .where(AnalyticsJob.enabled.is_(True), AnalyticsJob.next_run_at <= now)
                    .order_by(AnalyticsJob.next_run_at)
                    .limit(MAX_JOBS_PER_RUN_DUE)
                )
            ).all()
        runs = []
        for job in due:
            if job.schedule is None or job.next_run_at is None:
                continue
            claimed = await self._claim(job.id, job.next_run_at, next_run(job.schedule, now))
            if claimed:  # another worker process may have taken it first
                runs.append(await self._run(job, "schedule"))
        return runs

    async def _claim(self, job_id: str, was: datetime, then: datetime) -> bool:
        async with self.db.transaction() as s:
            result = await s.execute(
                update(AnalyticsJob)
                .where(AnalyticsJob.id == job_id, AnalyticsJob.next_run_at == was)
                .values(next_run_at=then)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    async def _run(self, job: AnalyticsJob, trigger: str) -> AnalyticsRun:
        started = utcnow()
        async with self.db.transaction() as s:
            run = await RunRepository(s, job.org_id).add(
                AnalyticsRun(job_id=job.id, trigger=trigger, status="running", started_at=started)
            )
        clock = time.perf_counter()
        output = f"{job.org_id}/{run.id}.{job.format}"
        rows: int | None = None
        error: str | None = None
        try:
            rows = await self._produce(job, str(self.data_dir / output))
        except Exception as exc:  # the run records any failure; the scheduler goes on
            error = str(getattr(exc, "detail", None) or exc)[:2000] or type(exc).__name__
            if not hasattr(exc, "detail"):
                log.exception("analytics job %s failed", job.id)
        async with self.db.transaction() as s:
            stored = await RunRepository(s, job.org_id).get(run.id)
            stored.status = "failed" if error else "succeeded"
            stored.finished_at = utcnow()
            stored.duration_ms = (time.perf_counter() - clock) * 1000
            stored.rows = rows
            stored.output = None if error else output
            stored.error = error
            return stored

    async def _produce(self, job: AnalyticsJob, path: str) -> int:
        """Query or export, then write the file on the compute backend; returns the rows written."""
        if job.sql is not None:
            result = await self.telemetry.query(
                job.org_id, job.sql, job.params, limit=job.row_limit, time_limit=JOB_TIME_LIMIT_S
            )
            await self.compute.submit(write_rows, path, result.columns, result.rows, job.format)
            return len(result.rows)
        table = await self.telemetry.export(parse_selection(job.org_id, job.selection or {}))
        await self.compute.submit(write_table, path, table, job.format)
        return int(table.num_rows)
