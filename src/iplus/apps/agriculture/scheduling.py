"""Irrigation scheduling: one decision per field and day, made through the platform and acted on by its valve.

For a field and a day of its farm's weather station: the station's daily aggregates -> ET0 by the
registered ``agriculture.et0_fao56`` -> one FAO-56 water-balance step by ``agriculture.irrigation_fao56``
(depletion carried over from the previous day's decision, or measured by the field's soil probe when
there is none; rain from the station; irrigation as delivered by the field's valve that day times the
application efficiency) -> the decision, stored with every input and intermediate -> when due, an
``open`` command with the gross depth to the field's valve through the platform's commands (the
decision shows that command's status as the valve answers).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from iplus.apps.agriculture.fields import FIELD_TYPE, FieldSetup, field_setup
from iplus.apps.agriculture.models import VALVE_ACTION
from iplus.apps.agriculture.station import next_start, pick_day, station_days
from iplus.apps.agriculture.weather import TMY3_WIND_HEIGHT, HourObs, daily, et0_inputs
from iplus.core.errors import Conflict, InvalidInput, IplusError, NotFound
from iplus.core.roles import Scope
from iplus.infra.db.models import Command
from iplus.infra.db.models_agriculture import AgriDecision
from iplus.infra.db.models_virtual import VirtualThing
from iplus.infra.db.repos import TenantRepository
from iplus.infra.telemetry import Selection
from iplus.platform.context import Context
from iplus.security.principal import Principal

log = logging.getLogger(__name__)
ET0 = "agriculture.et0_fao56"
BALANCE = "agriculture.irrigation_fao56"
COMMAND_TIMEOUT_S = 60.0
TRIGGERS = ("schedule", "manual")


class DecisionRepository(TenantRepository[AgriDecision]):
    """Irrigation decisions of one organisation."""

    model = AgriDecision
    noun = "irrigation decision"


class IrrigationScheduler:
    """Decides, per field and day, whether and how much to irrigate, and commands the field's valve."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # deciding ------------------------------------------------------------------------
    async def decide(
        self, caller: Principal, field_id: str, day: date | None = None, trigger: str = "manual"
    ) -> AgriDecision:
        """The field's decision for ``day`` (default: the station's newest complete day); made once."""
        caller.require_scope(Scope.WRITE)
        if trigger not in TRIGGERS:
            raise InvalidInput(f"trigger must be one of {', '.join(TRIGGERS)}")
        setup = await field_setup(self.ctx, caller, field_id)
        if setup.station_id is None:
            raise InvalidInput(
                "the field's farm has no weather station",
                errors=[f"/farm/{setup.farm.id}/links: link a device with a solar_radiation property"],
            )
        days = await station_days(self.ctx.telemetry, caller.org_id, setup.station_id)
        chosen = pick_day(days, day)
        existing = await self._of_day(caller, field_id, chosen)
        if existing is not None:
            return existing
        decision = await self._compute(caller, setup, chosen, days[chosen], next_start(days, chosen))
        decision.trigger = trigger
        try:
            async with self.ctx.db.transaction() as s:
                await DecisionRepository(s, caller.org_id).add(decision)
        except Conflict:
            # decided meanwhile (the daily schedule and a person at once): the first one stands
            found = await self._of_day(caller, field_id, chosen)
            if found is None:
                raise
            return found
        if decision.irrigate:
            await self._command(caller, decision)
        self.ctx.bus.publish(
            caller.org_id,
            {
                "type": "agri_decision",
                "id": decision.id,
                "field_id": field_id,
                "day": decision.day,
                "irrigate": decision.irrigate,
                "command_id": decision.command_id,
            },
        )
        return decision

    async def decide_due(self, caller: Principal) -> list[AgriDecision]:
        """Each field's decision for its station's newest complete day; made once per day, so this may be
        called as often as wanted (the demo calls it at the end of every replayed day)."""
        made = []
        for thing in await self.fields(caller):
            try:
                made.append(await self.decide(caller, thing.id, trigger="schedule"))
            except InvalidInput as exc:
                log.warning("no irrigation decision for %s (%s): %s", thing.title, thing.id, exc.detail)
        return made

    async def _compute(
        self,
        caller: Principal,
        setup: FieldSetup,
        day: date,
        hours: list[HourObs],
        day_end: datetime | None,
    ) -> AgriDecision:
        weather = daily(hours)
        et0_in = et0_inputs(
            weather, latitude=setup.latitude, altitude=setup.altitude, wind_height=TMY3_WIND_HEIGHT
        )
        et0_run = self.ctx.algorithms.invoke(ET0, et0_in)
        et0 = et0_run.outputs["et0"]
        start, source = await self._depletion_before(caller, setup, day, weather.first_ts)
        delivered = await self._delivered(caller, setup, weather.first_ts, day_end)
        params = setup.params
        inputs: dict[str, Any] = {
            **params.balance_inputs(),
            # a negative daily ET0 (dew on a cold, cloudy day) takes no water from the root zone
            "et0": max(0.0, et0),
            "depletion_previous": min(max(0.0, start), params.taw),
            "precipitation": weather.precipitation,
            "irrigation": delivered * params.efficiency,
        }
        balance_run = self.ctx.algorithms.invoke(BALANCE, inputs)
        balance = balance_run.outputs
        net = float(balance["net_irrigation"]) if balance["irrigate"] else 0.0
        gross = round(net / params.efficiency, 1) if net > 0 else 0.0
        return AgriDecision(
            field_id=setup.field.id,
            day=day.isoformat(),
            irrigate=bool(balance["irrigate"]) and gross > 0,
            net_irrigation=net,
            gross_irrigation=gross,
            duration_min=gross / params.application_rate * 60 if gross else 0.0,
            weather={**weather.as_dict(), "station_id": setup.station_id, "wind_height": TMY3_WIND_HEIGHT},
            inputs={
                **inputs,
                "depletion_source": source,
                "irrigation_delivered": delivered,
                "efficiency": params.efficiency,
                "application_rate": params.application_rate,
                "algorithms": {ET0: et0_run.version, BALANCE: balance_run.version},
            },
            et0={**et0_in, **et0_run.outputs},
            balance=balance,
            valve_id=setup.valve_id,
        )

    async def _depletion_before(
        self, caller: Principal, setup: FieldSetup, day: date, first_ts: datetime
    ) -> tuple[float, dict[str, Any]]:
        """Dr,i-1: the previous day's decision, else the probe's last reading before the day began."""
        previous = await self._of_day(caller, setup.field.id, date.fromordinal(day.toordinal() - 1))
        if previous is not None:
            depletion = float(previous.balance["depletion"])
            return depletion, {"kind": "decision", "decision_id": previous.id, "depletion": depletion}
        if setup.probe_id is not None:
            sel = Selection(caller.org_id, [setup.probe_id], ["soil_moisture"], end=first_ts)
            rows = await self.ctx.telemetry.readings(sel, limit=1, newest_first=True)
            if not rows:  # nothing before the day: the oldest reading there is
                sel = Selection(caller.org_id, [setup.probe_id], ["soil_moisture"])
                rows = await self.ctx.telemetry.readings(sel, limit=1)
            if rows and isinstance(rows[0].value, float):
                theta = rows[0].value
                depletion = setup.params.depletion(theta)
                return depletion, {
                    "kind": "probe",
                    "device_id": setup.probe_id,
                    "theta": theta,
                    "ts": rows[0].ts.isoformat(),
                    "depletion": depletion,
                }
        return 0.0, {"kind": "assumed", "detail": "no earlier decision and no probe reading: field capacity"}

    async def _delivered(
        self, caller: Principal, setup: FieldSetup, start: datetime, end: datetime | None
    ) -> float:
        """Gross depth the field's valve reported delivering while the day's weather was observed."""
        if setup.valve_id is None:
            return 0.0
        sel = Selection(caller.org_id, [setup.valve_id], ["delivered"], start=start, end=end)
        rows = await self.ctx.telemetry.readings(sel, limit=10_000)
        return sum(r.value for r in rows if isinstance(r.value, float))

    async def _command(self, caller: Principal, decision: AgriDecision) -> None:
        """Open the field's valve for the gross depth; the outcome is kept on the decision."""
        error: str | None = None
        command: Command | None = None
        if decision.valve_id is None:
            error = "the field has no valve: irrigate by hand"
        else:
            try:
                command = await self.ctx.commands.send(
                    caller,
                    decision.valve_id,
                    VALVE_ACTION,
                    {"depth_mm": decision.gross_irrigation},
                    timeout_s=COMMAND_TIMEOUT_S,
                )
            except IplusError as exc:
                reasons = "; ".join(str(e) for e in exc.extra.get("errors", []))
                error = f"{exc.detail}: {reasons}" if reasons else exc.detail
        async with self.ctx.db.transaction() as s:
            row = await DecisionRepository(s, caller.org_id).get(decision.id)
            row.command_id = command.id if command is not None else None
            row.command_error = error[:2000] if error else None
        decision.command_id, decision.command_error = row.command_id, row.command_error

    # reading -------------------------------------------------------------------------
    async def _of_day(self, caller: Principal, field_id: str, day: date) -> AgriDecision | None:
        async with self.ctx.db.transaction() as s:
            stmt = (
                DecisionRepository(s, caller.org_id)
                ._select()
                .where(AgriDecision.field_id == field_id, AgriDecision.day == day.isoformat())
            )
            found: AgriDecision | None = await s.scalar(stmt)
            return found

    async def get(self, caller: Principal, decision_id: str) -> AgriDecision:
        """One decision of the organisation."""
        async with self.ctx.db.transaction() as s:
            return await DecisionRepository(s, caller.org_id).get(decision_id)

    async def decisions(
        self, caller: Principal, field_id: str | None = None, *, limit: int = 50
    ) -> list[AgriDecision]:
        """The newest decisions, of one field or of all."""
        async with self.ctx.db.transaction() as s:
            stmt = DecisionRepository(s, caller.org_id)._select()
            if field_id is not None:
                stmt = stmt.where(AgriDecision.field_id == field_id)
            stmt = stmt.order_by(AgriDecision.day.desc(), AgriDecision.id.desc()).limit(
                max(1, min(limit, 1000))
            )
            return list((await s.scalars(stmt)).all())

    async def command_of(self, caller: Principal, decision: AgriDecision) -> Command | None:
        """The valve command a decision sent, with its current status."""
        if decision.command_id is None:
            return None
        try:
            return await self.ctx.commands.get(caller, decision.command_id)
        except NotFound:
            return None

    async def fields(self, caller: Principal) -> list[VirtualThing]:
        """The organisation's fields (virtual things of type field), by title."""
        async with self.ctx.db.transaction() as s:
            stmt = (
                select(VirtualThing)
                .where(VirtualThing.org_id == caller.org_id, VirtualThing.type == FIELD_TYPE)
                .order_by(VirtualThing.title, VirtualThing.id)
                .limit(1000)
            )
            return list((await s.scalars(stmt)).all())


def decision_dict(decision: AgriDecision, command: Command | None) -> dict[str, Any]:
    """A decision as JSON, with its valve command's current status."""
    return {
        "id": decision.id,
        "field_id": decision.field_id,
        "day": decision.day,
        "trigger": decision.trigger,
        "irrigate": decision.irrigate,
        "net_irrigation": decision.net_irrigation,
        "gross_irrigation": decision.gross_irrigation,
        "duration_min": decision.duration_min,
        "weather": decision.weather,
        "inputs": decision.inputs,
        "et0": decision.et0,
        "balance": decision.balance,
        "valve_id": decision.valve_id,
        "command": None
        if command is None
        else {
            "id": command.id,
            "action": command.action,
            "input": command.input,
            "status": command.status,
            "detail": command.detail,
            "updated_at": command.updated_at.isoformat(),
        },
        "command_error": decision.command_error,
        "created_at": decision.created_at.isoformat(),
    }
