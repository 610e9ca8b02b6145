"""Cron schedules (five fields, UTC) for analytics jobs."""

from __future__ import annotations

from datetime import datetime

from croniter import croniter

from iplus.core.clock import as_utc
from iplus.core.errors import InvalidInput


def check_cron(expression: str) -> str:
    """The expression, stripped, if it is a valid five-field cron line; else InvalidInput."""
    text = " ".join(expression.split())
    if len(text.split(" ")) != 5 or not croniter.is_valid(text):
        raise InvalidInput(
            f"schedule {expression!r} is not a cron line: five fields 'minute hour day month weekday', "
            "e.g. '*/15 * * * *'"
        )
    return text


def next_run(expression: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` (UTC) that the cron line names."""
    nxt: datetime = croniter(check_cron(expression), as_utc(after)).get_next(datetime)
    return as_utc(nxt)
