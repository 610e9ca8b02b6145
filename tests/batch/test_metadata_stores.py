"""Jobs and runs on both metadata stores (SQLite and PostgreSQL), telemetry on both stores."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from iplus.core.roles import Scope
from iplus.infra.compute.local import LocalCompute
from iplus.infra.db.engine import Database
from iplus.infra.db.migrate import upgrade
from iplus.infra.db.models import Organisation
from iplus.infra.tsdb.duckdb_store import DuckDBTelemetryStore
from iplus.infra.tsdb.postgres_store import PostgresTelemetryStore
from iplus.platform.analytics import Analytics, JobSpec
from iplus.security.principal import Principal
from tests.batch.conftest import readings_of
from tests.conftest import PG_URL


@pytest.fixture(params=["sqlite+duckdb", "postgresql+postgresql"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Database, Any]]:
    """The embedded pair and the scale-out pair, migrated and open."""
    telemetry: Any
    if request.param == "sqlite+duckdb":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'meta.db'}")
        telemetry = DuckDBTelemetryStore(f"duckdb:///{tmp_path / 't.duckdb'}")
    else:
        schema = request.getfixturevalue("pg_schema")
        database = Database(PG_URL, search_path=schema)
        telemetry = PostgresTelemetryStore(PG_URL, search_path=schema)
    await upgrade(database)
    await telemetry.open()
    yield database, telemetry
    await telemetry.close()
    await database.close()


async def test_scheduled_job_on_each_store_pair(stores: tuple[Database, Any], tmp_path: Path) -> None:
    database, telemetry = stores
    async with database.transaction() as s:
        a, b = Organisation(name="A", roles=["user"]), Organisation(name="B", roles=["user"])
        s.add_all([a, b])
    messages = readings_of(a.id, b.id)
    await telemetry.append(messages)
    compute = LocalCompute("local://?workers=1")
    analytics = Analytics(database, telemetry, compute, tmp_path / "out")
    caller = Principal(a.id, frozenset(), frozenset({Scope.READ, Scope.WRITE}))
    try:
        job = await analytics.create_job(
            caller,
            JobSpec(name="n", sql="SELECT count(*) AS n FROM readings", schedule="0 * * * *", format="csv"),
        )
        assert job.next_run_at is not None
        runs = await analytics.run_due(job.next_run_at + timedelta(seconds=1))
    finally:
        await compute.close()
    assert [(r.status, r.rows) for r in runs] == [("succeeded", 1)]
    path, _ = await analytics.output_file(caller, runs[0].id)
    assert path.read_text() == f"n\n{sum(1 for m in messages if m.org_id == a.id)}\n"
    stored = await analytics.get_job(caller, job.id)
    assert stored.next_run_at is not None and stored.next_run_at > datetime.now(UTC)
    other = Principal(b.id, frozenset(), frozenset({Scope.READ}))
    assert await analytics.list_jobs(other) == []
