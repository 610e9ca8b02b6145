"""NEWS2 on ingest: each resident's wearable is scored by the registered ``health.news2`` algorithm.

The Ingestor hands every durable message to ``on_messages``; a wearable worn by a resident is queued
and the worker scores its newest vitals from the telemetry store (the twin's reported half), when all
six charted parameters are there and no older than ``max_spread`` before the newest of them (a NEWS2
is one set of observations, not a mix of old and new). The escalation level follows the RCP chart:

| NEWS2 | clinical risk | alarm severity | response |
|---|---|---|---|
| 0 | low | (alarm cleared) | routine monitoring, at least 12-hourly |
| 1-4 | low | warning | ward-based response, 4-6-hourly |
| 3 in one parameter | low-medium | minor | urgent ward-based response, hourly |
| 5-6 | medium | major | key threshold: urgent response, hourly |
| 7 or more | high | critical | emergency response, continuous monitoring |

The alarm lives in the platform's alarm store beside the stream engine's (rule ``health-news2``, one
active per resident and wearable), so the alarm console shows it too. Escalating to a higher level
raises it again even if it was acknowledged; a lower level only updates it; NEWS2 0 clears it. Its
detail names the room label, never the person. Each change is published on the bus with the resident's
caregivers (the routing the caregiver page follows), and each change of score is stored as an assessment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from iplus.apps.health.things import NEWS2_INPUT, VITALS
from iplus.core.clock import as_utc, utcnow
from iplus.engines.stream.alarms import alarm_dict
from iplus.infra.bus import EventBus
from iplus.infra.db.engine import Database
from iplus.infra.db.models_health import HealthAssessment, HealthCaregiver, HealthResident
from iplus.infra.db.models_stream import Alarm
from iplus.infra.ports import TelemetryStore
from iplus.infra.telemetry import Message, Reading, Selection
from iplus.platform.knowledge.algorithms import AlgorithmRegistry

log = logging.getLogger(__name__)
NEWS2_RULE = "health-news2"
NEWS2_ALGORITHM = "health.news2"
BAND_SEVERITY = {"low": "warning", "low-medium": "minor", "medium": "major", "high": "critical"}
SEVERITY_RANK = {"warning": 1, "minor": 2, "major": 3, "critical": 4}
INTEGER_INPUTS = ("respiration_rate", "spo2", "systolic_bp", "pulse")
MAX_SPREAD = timedelta(minutes=15)
RECHECK_S = 60.0


@dataclass(frozen=True)
class Worn:
    """A wearable worn by a resident."""

    org_id: str
    resident_id: str
    label: str


def band_of(outputs: dict[str, Any]) -> str:
    """The escalation level of a NEWS2 result: none (0), low, low-medium, medium or high."""
    return "none" if outputs["aggregate"] == 0 else str(outputs["clinical_risk"])


def news2_inputs(
    latest: Sequence[Reading], max_spread: timedelta = MAX_SPREAD
) -> tuple[dict[str, Any] | None, datetime | None, str]:
    """The NEWS2 inputs from a wearable's newest readings, the observation time, or why there are none."""
    by_key = {r.key: r for r in latest if r.value is not None}
    missing = [k for k in NEWS2_INPUT if k not in by_key]
    if missing:
        return None, None, "no reading yet of " + ", ".join(missing)
    newest = max(as_utc(by_key[k].ts) for k in NEWS2_INPUT)
    stale = [k for k in NEWS2_INPUT if newest - as_utc(by_key[k].ts) > max_spread]
    if stale:
        return None, newest, f"readings older than {max_spread} before the newest: " + ", ".join(stale)
    inputs: dict[str, Any] = {NEWS2_INPUT[k]: by_key[k].value for k in NEWS2_INPUT}
    for name in INTEGER_INPUTS:
        value = inputs[name]
        if isinstance(value, float) and value.is_integer():
            inputs[name] = int(value)  # the store keeps numbers as floats; the chart is in whole numbers
    oxygen = by_key.get("on_oxygen")
    # an oxygen flag from an older set of observations does not describe this one
    on_oxygen = oxygen is not None and oxygen.value is True and newest - as_utc(oxygen.ts) <= max_spread
    inputs["air_or_oxygen"] = "oxygen" if on_oxygen else "air"
    scale = by_key.get("spo2_scale")
    inputs["spo2_scale"] = 2 if scale is not None and scale.value == 2 else 1
    return inputs, newest, ""


def alarm_detail(label: str, outputs: dict[str, Any]) -> str:
    """What the alarm says: the room, the score, its risk, red parameters and the RCP response."""
    red = outputs["red_score_parameters"]
    text = (
        f"{label}: NEWS2 {outputs['aggregate']}, {outputs['clinical_risk']} clinical risk"
        + (f"; 3 in {', '.join(red)}" if red else "")
        + f"; monitoring {outputs['monitoring']}; {outputs['response']}"
    )
    return text[:500]


class Escalation:
    """Scores residents' wearables on ingest and keeps one NEWS2 alarm per resident in step."""

    def __init__(
        self,
        db: Database,
        telemetry: TelemetryStore,
        algorithms: AlgorithmRegistry,
        bus: EventBus,
        *,
        max_spread: timedelta = MAX_SPREAD,
        refresh_s: float = 5.0,
    ) -> None:
        self.db = db
        self.telemetry = telemetry
        self.algorithms = algorithms
        self.bus = bus
        self.max_spread = max_spread
        self.refresh_s = refresh_s
        self._watch: dict[str, Worn] = {}
        self._pending: set[str] = set()
        self._wake = asyncio.Event()
        self._busy = False
        # resident id -> (aggregate, band, monotonic time of the last store check)
        self._last: dict[str, tuple[int, str, float]] = {}
        self._listeners: list[Any] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # life cycle ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether the worker follows ingest."""
        return bool(self._tasks)

    async def start(self, listeners: list[Any]) -> None:
        """Read which wearables residents wear, then listen to ingest."""
        if self.running:
            return
        await self.refresh()
        if self.on_messages not in listeners:
            listeners.append(self.on_messages)
        self._listeners = listeners
        self._tasks = [
            asyncio.create_task(self._work(), name="iplus-health-news2"),
            asyncio.create_task(self._refresh_every(), name="iplus-health-wearables"),
        ]

    async def stop(self) -> None:
        """Stop listening and scoring."""
        if self._listeners is not None and self.on_messages in self._listeners:
            self._listeners.remove(self.on_messages)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def drain(self) -> None:
        """Wait until every queued wearable has been scored (tests)."""
        for _ in range(4000):
            if not self._pending and not self._busy:
                return
            await asyncio.sleep(0.005)

    async def refresh(self) -> None:
        """Which wearable each resident wears (residents admitted in another process count too)."""
        async with self.db.transaction() as s:
            rows = await s.execute(
                select(
                    HealthResident.wearable_id, HealthResident.org_id, HealthResident.id, HealthResident.label
                ).where(HealthResident.wearable_id.is_not(None))
            )
            self._watch = {d: Worn(o, r, label) for d, o, r, label in rows.all() if d}

    async def _refresh_every(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except Exception:  # the store may be restarting: keep the old map until the next round
                log.exception("could not read which wearables residents wear")

    # data path -----------------------------------------------------------------------
    def on_messages(self, messages: list[Message]) -> None:
        """Ingest listener: queue the residents' wearables that reported vital signs."""
        for m in messages:
            worn = self._watch.get(m.device_id)
            if worn is not None and worn.org_id == m.org_id and any(k in VITALS for k, _, _ in m.readings):
                self._pending.add(m.device_id)
        if self._pending:
            self._wake.set()

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._busy = True
            try:
                while self._pending:
                    device_id = self._pending.pop()
                    try:
                        await self.assess(device_id)
                    except Exception:  # one wearable's failure must not stop the others
                        log.exception("could not score the NEWS2 of wearable %s", device_id)
            finally:
                self._busy = False

    async def assess(self, device_id: str) -> dict[str, Any] | None:
        """Score a wearable's newest vitals; store a changed score and move the alarm. None: no full set."""
        worn = self._watch.get(device_id)
        if worn is None:
            return None
        latest = await self.telemetry.latest(Selection(worn.org_id, [device_id], list(VITALS)))
        inputs, observed_at, _why = news2_inputs(latest, self.max_spread)
        if inputs is None or observed_at is None:
            return None
        outputs = self.algorithms.invoke(NEWS2_ALGORITHM, inputs).outputs
        band = band_of(outputs)
        last = self._last.get(worn.resident_id)
        now = time.monotonic()
        if last is not None and last[:2] == (outputs["aggregate"], band) and now - last[2] < RECHECK_S:
            return outputs  # nothing changed; the store is checked again now and then (a hand-cleared alarm)
        events = await self._record(worn, device_id, inputs, outputs, band, observed_at)
        self._last[worn.resident_id] = (outputs["aggregate"], band, now)
        for event in events:
            if self.bus.listening(worn.org_id):
                self.bus.publish(worn.org_id, event)
        return outputs

    async def _record(
        self,
        worn: Worn,
        device_id: str,
        inputs: dict[str, Any],
        outputs: dict[str, Any],
        band: str,
        observed_at: datetime,
    ) -> list[dict[str, Any]]:
        """Store the assessment if its score changed and bring the alarm in step; the events to publish."""
        events: list[dict[str, Any]] = []
        now = utcnow()
        async with self.db.transaction() as s:
            previous = await s.scalar(
                select(HealthAssessment)
                .where(HealthAssessment.resident_id == worn.resident_id)
                .order_by(HealthAssessment.observed_at.desc(), HealthAssessment.id.desc())
                .limit(1)
            )
            active = await s.scalar(
                select(Alarm).where(
                    Alarm.org_id == worn.org_id,
                    Alarm.rule_id == worn.resident_id,
                    Alarm.subject == device_id,
                    Alarm.active.is_(True),
                )
            )
            severity = BAND_SEVERITY.get(band)
            detail = alarm_detail(worn.label, outputs)
            change: str | None = None
            if severity is None:
                if active is not None:
                    active.status, active.active, active.cleared_at = "cleared", None, now
                    active.last_seen_at, active.value, active.detail = now, outputs["aggregate"], detail
                    change = "cleared"
            elif active is None:
                active = Alarm(
                    org_id=worn.org_id,
                    rule_id=worn.resident_id,
                    rule_name=NEWS2_RULE,
                    subject=device_id,
                    severity=severity,
                    status="raised",
                    active=True,
                    count=1,
                    value=float(outputs["aggregate"]),
                    detail=detail,
                    raised_at=now,
                    last_seen_at=now,
                )
                s.add(active)
                change = "raised"
            elif (active.severity, active.value, active.detail) != (severity, outputs["aggregate"], detail):
                if SEVERITY_RANK[severity] > SEVERITY_RANK.get(active.severity, 0):
                    # a worse level needs a caregiver again, whoever acknowledged the milder one
                    active.status, active.acknowledged_at, active.acknowledged_by = "raised", None, None
                    active.count += 1
                    change = "escalated"
                else:
                    change = "updated"
                active.severity, active.value, active.detail = severity, float(outputs["aggregate"]), detail
                active.last_seen_at = now
            await s.flush()
            changed = previous is None or (previous.aggregate, previous.band) != (outputs["aggregate"], band)
            if changed:
                s.add(
                    HealthAssessment(
                        org_id=worn.org_id,
                        resident_id=worn.resident_id,
                        device_id=device_id,
                        observed_at=observed_at,
                        aggregate=outputs["aggregate"],
                        band=band,
                        scores=outputs["scores"],
                        vitals=inputs,
                        red=outputs["red_score_parameters"],
                        monitoring=outputs["monitoring_frequency"],
                        alarm_id=active.id if active is not None else None,
                    )
                )
            carers = list(
                (
                    await s.scalars(
                        select(HealthCaregiver.user_id).where(HealthCaregiver.resident_id == worn.resident_id)
                    )
                ).all()
            )
            alarm = alarm_dict(active) if change is not None and active is not None else None
        if changed:
            events.append(
                {
                    "type": "news2",
                    "resident_id": worn.resident_id,
                    "device_id": device_id,
                    "label": worn.label,
                    "aggregate": outputs["aggregate"],
                    "band": band,
                    "clinical_risk": outputs["clinical_risk"],
                    "observed_at": observed_at.isoformat(),
                    "caregivers": carers,
                }
            )
        if alarm is not None and change is not None:
            events.append(
                {
                    "type": "alarm",
                    "change": change,
                    "device_id": device_id,
                    **alarm,
                    "resident_id": worn.resident_id,
                    "caregivers": carers,
                }
            )
        return events
