"""NEWS2 on ingest: vitals through the Ingestor, scored by the registered algorithm, alarms in step.

The expected scores are hand-scored from the RCP NEWS2 chart (Chart 1) in each case's comment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from iplus.access.ingest import Ingestor
from iplus.apps.health.crypto import RecordCipher
from iplus.apps.health.escalation import NEWS2_RULE, Escalation, news2_inputs
from iplus.apps.health.records import Records
from iplus.apps.registry import register_algorithms
from iplus.core.clock import utcnow
from iplus.engines.stream.alarms import AlarmBook
from iplus.infra.bus import EventBus
from iplus.infra.db.engine import Database
from iplus.infra.db.models_health import HealthAssessment
from iplus.infra.db.models_stream import Alarm
from iplus.infra.telemetry import Message, Reading, to_us
from iplus.infra.tsdb.duckdb_store import DuckDBTelemetryStore
from iplus.platform.knowledge.algorithms import AlgorithmRegistry
from tests.apps.health.helpers import SECRET, Home, care_home

# heart rate, respiration rate, SpO2, systolic BP, temperature, consciousness
NORMAL = (72, 16, 98, 130, 36.8, "alert")  # 0 + 0 + 0 + 0 + 0 + 0 = 0
LOW = (95, 21, 98, 130, 36.8, "alert")  # pulse 91-110: 1, RR 21-24: 2 -> 3, no red: low
RED = (72, 26, 98, 130, 36.8, "alert")  # RR >= 25: 3 -> 3 with a red score: low-medium
MEDIUM = (115, 22, 95, 130, 36.8, "alert")  # pulse 111-130: 2, RR 2, SpO2 94-95: 1 -> 5: medium
HIGH = (125, 26, 92, 95, 38.5, "alert")  # 2 + 3 + SpO2 92-93: 2 + SBP 91-100: 2 + 38.1-39.0: 1 = 10: high


@dataclass
class Ward:
    """A care home with one resident wearing w-1, the ingest path and the NEWS2 worker."""

    db: Database
    home: Home
    resident: str
    ingestor: Ingestor
    escalation: Escalation
    bus: EventBus
    t: datetime

    async def send(self, vitals: tuple[Any, ...], *, step_s: float = 5, **more: Any) -> dict[str, Any] | None:
        self.t += timedelta(seconds=step_s)
        hr, rr, spo2, sbp, temp, avpu = vitals
        values = {
            "heart_rate": hr,
            "respiration_rate": rr,
            "spo2": spo2,
            "systolic_bp": sbp,
            "temperature": temp,
            "consciousness": avpu,
            **more,
        }
        ts = to_us(self.t)
        message = Message(
            self.home.admin.org_id, "wearable", "w-1", f"m{ts}", [(k, ts, v) for k, v in values.items()]
        )
        await self.ingestor.write([message])
        await self.escalation.drain()
        return await self.alarm()

    async def alarm(self) -> dict[str, Any] | None:
        async with self.db.transaction() as s:
            a = await s.scalar(select(Alarm).where(Alarm.rule_name == NEWS2_RULE, Alarm.active.is_(True)))
        return (
            None
            if a is None
            else {
                "id": a.id,
                "severity": a.severity,
                "status": a.status,
                "value": a.value,
                "detail": a.detail,
                "count": a.count,
            }
        )


@pytest.fixture
async def ward(sqlite: Database, tmp_path: Path) -> AsyncIterator[Ward]:
    home = await care_home(sqlite)
    records = Records(sqlite, RecordCipher(SECRET))
    made = await records.create(
        home.admin,
        {"label": "Room 7", "wearable_id": "w-1", "name": "A. Person", "birth_date": "1940-01-01"},
        "admission",
    )
    await records.assign(home.admin, made["id"], home.carer.user_id or "")
    store = DuckDBTelemetryStore(f"duckdb:///{tmp_path / 'tele.duckdb'}")
    await store.open()
    bus = EventBus()
    ingestor = Ingestor(store, bus)
    algorithms = AlgorithmRegistry()
    register_algorithms(algorithms)
    escalation = Escalation(sqlite, store, algorithms, bus)
    await escalation.start(ingestor.listeners)
    yield Ward(sqlite, home, made["id"], ingestor, escalation, bus, utcnow() - timedelta(hours=1))
    await escalation.stop()
    await ingestor.stop()
    await store.close()


async def test_each_escalation_level_raises_its_alarm_and_zero_clears_it(ward: Ward) -> None:
    sub = ward.bus.subscribe(ward.home.admin.org_id)
    assert await ward.send(NORMAL) is None
    low = await ward.send(LOW)
    assert low is not None and (low["severity"], low["status"], low["value"]) == ("warning", "raised", 3)
    assert low["detail"].startswith("Room 7: NEWS2 3, low clinical risk; monitoring minimum 4-6-hourly")
    assert "A. Person" not in low["detail"]
    red = await ward.send(RED)
    assert red is not None and red["id"] == low["id"] and red["severity"] == "minor"
    assert "3 in respiration_rate" in red["detail"]
    medium = await ward.send(MEDIUM)
    assert medium is not None and (medium["severity"], medium["value"]) == ("major", 5)
    high = await ward.send(HIGH)
    assert high is not None and (high["severity"], high["value"], high["count"]) == ("critical", 10, 4)
    assert await ward.send(NORMAL) is None

    events = []
    while not sub.queue.empty():
        events.append(sub.queue.get_nowait())
    alarms = [(e["change"], e["severity"]) for e in events if e["type"] == "alarm"]
    assert alarms == [
        ("raised", "warning"),
        ("escalated", "minor"),
        ("escalated", "major"),
        ("escalated", "critical"),
        ("cleared", "critical"),
    ]
    routed = {tuple(e["caregivers"]) for e in events if e["type"] in ("alarm", "news2")}
    assert routed == {(ward.home.carer.user_id,)}
    scores = [(e["aggregate"], e["band"]) for e in events if e["type"] == "news2"]
    assert scores == [(0, "none"), (3, "low"), (3, "low-medium"), (5, "medium"), (10, "high"), (0, "none")]
    async with ward.db.transaction() as s:
        stored = (await s.scalars(select(HealthAssessment).order_by(HealthAssessment.observed_at))).all()
    assert [(a.aggregate, a.band) for a in stored] == scores
    assert stored[4].scores == {
        "respiration_rate": 3,
        "spo2": 2,
        "air_or_oxygen": 0,
        "systolic_bp": 2,
        "pulse": 2,
        "consciousness": 0,
        "temperature": 1,
    }


async def test_a_worse_level_needs_the_caregiver_again_a_milder_one_does_not(ward: Ward) -> None:
    book = AlarmBook(ward.db)
    raised = await ward.send(MEDIUM)
    assert raised is not None
    await book.acknowledge(ward.home.admin.org_id, raised["id"], ward.home.carer.user_id)
    milder = await ward.send(LOW)
    assert milder is not None and (milder["severity"], milder["status"]) == ("warning", "acknowledged")
    worse = await ward.send(HIGH)
    assert worse is not None and (worse["severity"], worse["status"]) == ("critical", "raised")
    # the same score again changes nothing
    same = await ward.send(HIGH)
    assert same == worse
    # a hand-cleared alarm comes back while the score stays up (checked again within a minute)
    await book.clear(ward.home.admin.org_id, worse["id"], ward.home.admin.user_id)
    ward.escalation._last.clear()
    again = await ward.send(HIGH)
    assert again is not None and again["id"] != worse["id"] and again["status"] == "raised"


async def test_oxygen_and_scale_2_are_scored_and_old_readings_are_not_mixed_in(ward: Ward) -> None:
    # on oxygen: +2; SpO2 98 on oxygen on scale 2 scores 3 -> 2 + 3 = 5 (medium)
    alarm = await ward.send(NORMAL, on_oxygen=True, spo2_scale=2)
    assert alarm is not None and alarm["value"] == 5 and "3 in spo2" in alarm["detail"]
    # the same on air: scale 2 at 93 % or more on air scores 0
    assert await ward.send(NORMAL, on_oxygen=False) is None

    now = ward.t

    def r(key: str, value: Any, age_min: float = 0) -> Reading:
        return Reading("w-1", key, now - timedelta(minutes=age_min), value)

    fresh = [
        r("heart_rate", 72.0),
        r("respiration_rate", 16.0),
        r("spo2", 98.0),
        r("temperature", 36.8),
        r("consciousness", "alert"),
    ]
    inputs, _, why = news2_inputs([*fresh, r("systolic_bp", 130.0, age_min=20)])
    assert inputs is None and "systolic_bp" in why
    inputs, _, why = news2_inputs(fresh)
    assert inputs is None and why == "no reading yet of systolic_bp"
    inputs, at, _ = news2_inputs([*fresh, r("systolic_bp", 130.0, 14), r("on_oxygen", True, 16)])
    assert inputs is not None and at == now
    assert inputs["air_or_oxygen"] == "air"  # an oxygen flag from an older set does not count
    assert inputs["pulse"] == 72 and isinstance(inputs["pulse"], int)
