"""Cron schedules against hand-computed times, and the scheduler running due jobs once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from iplus.core.errors import InvalidInput
from iplus.core.roles import Scope
from iplus.engines.batch.schedule import check_cron, next_run
from iplus.infra.db.models_batch import AnalyticsJob
from iplus.platform.analytics import JobSpec
from iplus.platform.context import Context
from iplus.security.principal import Principal
from tests.batch.conftest import Tenants


@pytest.mark.parametrize(
    ("cron", "after", "expect"),
    [
        ("*/15 * * * *", datetime(2026, 1, 1, 10, 7, tzinfo=UTC), datetime(2026, 1, 1, 10, 15, tzinfo=UTC)),
        # strictly after: a time that matches gives the next one
        ("0 3 * * *", datetime(2026, 11, 29, 3, 0, tzinfo=UTC), datetime(2026, 11, 30, 3, 0, tzinfo=UTC)),
        # Friday 27 Nov 2026, 09:00 -> weekdays at 08:30 -> Monday 30 Nov
        ("30 8 * * 1-5", datetime(2026, 11, 27, 9, 0, tzinfo=UTC), datetime(2026, 11, 30, 8, 30, tzinfo=UTC)),
        ("0 0 1 * *", datetime(2026, 12, 15, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        # 29 February: the next leap year, 2028
        ("0 12 29 2 *", datetime(2026, 3, 1, tzinfo=UTC), datetime(2028, 2, 29, 12, 0, tzinfo=UTC)),
    ],
)
def test_next_run_matches_hand_computed_times(cron: str, after: datetime, expect: datetime) -> None:
    assert next_run(cron, after) == expect


@pytest.mark.parametrize("bad", ["", "* * * *", "61 * * * *", "every day", "* * * * * *"])
def test_invalid_cron_lines_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput, match="cron"):
        check_cron(bad)


async def test_a_due_job_runs_once_even_after_missed_schedules(ctx: Context, tenants: Tenants) -> None:
    caller = Principal(tenants.a.org_id, frozenset(), frozenset({Scope.READ, Scope.WRITE}))
    job = await ctx.analytics.create_job(
        caller, JobSpec(name="count", sql="SELECT count(*) AS n FROM readings", schedule="*/5 * * * *")
    )
    idle = await ctx.analytics.create_job(
        caller, JobSpec(name="idle", sql="SELECT 1 AS x", schedule="*/5 * * * *", enabled=False)
    )
    assert idle.next_run_at is None
    now = datetime(2026, 11, 29, 12, 2, tzinfo=UTC)
    # as if the platform was down for three hours: 36 runs missed
    async with ctx.db.transaction() as s:
        await s.execute(
            update(AnalyticsJob).where(AnalyticsJob.id == job.id).values(next_run_at=now - timedelta(hours=3))
        )
    runs = await ctx.analytics.run_due(now)
    assert [(r.job_id, r.trigger, r.status, r.rows) for r in runs] == [(job.id, "schedule", "succeeded", 1)]
    stored = await ctx.analytics.get_job(caller, job.id)
    assert stored.next_run_at == datetime(2026, 11, 29, 12, 5, tzinfo=UTC)
    assert await ctx.analytics.run_due(now + timedelta(minutes=2)) == []  # not due yet
    later = await ctx.analytics.run_due(now + timedelta(minutes=3))
    assert len(later) == 1
    path, fmt = await ctx.analytics.output_file(caller, later[0].id)
    assert fmt == "csv" and path.read_text() == f"n\n{len(tenants.numbers(tenants.a.org_id))}\n"
