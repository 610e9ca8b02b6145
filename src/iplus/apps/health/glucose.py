"""Chronic-disease trend analysis: a resident's CGM readings from the telemetry store, by day and week."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from iplus.apps.health import cgm
from iplus.apps.health.records import Records
from iplus.core.clock import utcnow
from iplus.core.errors import InvalidInput, NotFound
from iplus.infra.ports import TelemetryStore
from iplus.infra.telemetry import Selection
from iplus.security.principal import Principal

MAX_DAYS = 120
# 5-minute readings, two overlapping sensors at most, with room to spare
READINGS_PER_DAY = 800


class GlucoseReports:
    """CGM metrics of a resident per day and ISO week, the whole period, and the trend."""

    def __init__(self, records: Records, telemetry: TelemetryStore) -> None:
        self.records = records
        self.telemetry = telemetry

    async def report(
        self,
        caller: Principal,
        resident_id: str,
        purpose: Any,
        *,
        days: int = 28,
        targets: str = "older_high_risk",
    ) -> dict[str, Any]:
        """The CGM report of the last ``days`` days (the read is logged like any access to health data)."""
        problems = []
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            problems.append(f"/days: a whole number of days from 1 to {MAX_DAYS}")
        if targets not in cgm.TARGETS:
            problems.append(f"/targets: one of {', '.join(cgm.TARGETS)}")
        if problems:
            raise InvalidInput("the CGM report cannot be made", errors=problems)
        resident = await self.records.authorise(caller, resident_id, purpose, ["glucose"])
        device = resident["cgm_id"]
        if device is None:
            raise NotFound(f"{resident['label']} wears no continuous glucose monitor")
        end = utcnow()
        start = end - timedelta(days=days)
        rows = await self.telemetry.readings(
            Selection(caller.org_id, [device], ["glucose"], start, end), limit=days * READINGS_PER_DAY
        )
        series = [
            (r.ts, float(r.value))
            for r in rows
            if isinstance(r.value, int | float) and not isinstance(r.value, bool) and r.value > 0
        ]
        daily = cgm.periods(series, "day", targets)
        weekly = cgm.periods(series, "week", targets)
        overall = cgm.metrics([g for _, g in series], targets) if len(series) >= 2 else None
        slots = len({(t.date(), (t.hour * 60 + t.minute) // cgm.SLOT_MINUTES) for t, _ in series})
        coverage = slots / (days * 24 * 60 // cgm.SLOT_MINUTES)
        return {
            "resident_id": resident_id,
            "label": resident["label"],
            "device_id": device,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "days": days,
            "targets": targets,
            "readings": len(series),
            "coverage": coverage,
            "sufficient": coverage >= cgm.SUFFICIENT_COVERAGE and days >= 14,
            "overall": overall,
            "daily": daily,
            "weekly": weekly,
            "trend": cgm.trend(daily),
        }
