"""Rules and alarms as a platform service: rules stored per organisation, run by the stream engine.

A change of a rule through the API or CLI reloads that organisation's compiled rules at once (no
restart); rules whose id and version did not change keep their window and hysteresis state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import func, select

from iplus.access.commands import Commands
from iplus.core.roles import Scope
from iplus.engines.stream.actions import ActionRunner
from iplus.engines.stream.alarms import AlarmFilter, Change, RuleInfo
from iplus.engines.stream.engine import Derived, LoadedRule, StreamEngine
from iplus.engines.stream.evaluators import Signal
from iplus.engines.stream.model import (
    DerivedRule,
    Rule,
    rule_from_stored,
)
from iplus.infra.bus import EventBus
from iplus.infra.db.engine import Database
from iplus.infra.db.models import Device, DeviceType
from iplus.infra.db.models_stream import StreamRule
from iplus.infra.telemetry import Message, from_us
from iplus.platform.rule_catalogue import RuleCatalogue
from iplus.security.principal import Principal

log = logging.getLogger(__name__)
# messages held per organisation while its device directory is read; past this they run at once
MAX_HELD = 100_000


class RuleService(RuleCatalogue):
    """Stores rules, keeps the engine loaded with them, turns signals into alarms and actions."""

    def __init__(self, db: Database, bus: EventBus, engine: StreamEngine, runner: ActionRunner) -> None:
        super().__init__(db, engine, runner)
        self.bus = bus
        self._info: dict[tuple[str, str], RuleInfo] = {}
        self._rules: dict[tuple[str, str], Rule] = {}
        self._queue: asyncio.Queue[list[Signal]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._refreshing: set[str] = set()
        # organisation -> messages waiting for the device directory to be read again
        self._held: dict[str, list[Message]] = {}
        self._loaded: set[str] = set()
        self._stamps: dict[str, tuple[int, int, str]] = {}
        self._watcher: asyncio.Task[None] | None = None
        # one reload of an organisation at a time: an older one finishing last would run stale rules
        self._reloading: dict[str, asyncio.Lock] = {}

    @staticmethod
    def commands_sender(commands: Commands) -> Any:
        """A ``send_command`` for the action runner that acts for the alarm's organisation."""

        async def send(org_id: str, device_id: str, action: str, payload: Any, timeout_s: float) -> str:
            acting = Principal(org_id=org_id, roles=frozenset(), scopes=frozenset({Scope.READ, Scope.WRITE}))
            command = await commands.send(acting, device_id, action, payload, timeout_s)
            return command.status

        return send

    # life cycle ----------------------------------------------------------------------
    async def start(self, listeners: list[Any]) -> None:
        """Load every organisation's rules and its active alarms, then listen to ingest."""
        async with self.db.transaction() as s:
            orgs = set((await s.scalars(select(StreamRule.org_id).distinct())).all())
        for org_id in orgs:
            await self.reload(org_id)
        if self.on_messages not in listeners:
            listeners.append(self.on_messages)
        self._worker = asyncio.create_task(self._work(), name="iplus-alarms")
        self._stamps = await self._read_stamps()
        self._watcher = asyncio.create_task(self._watch(), name="iplus-rules-watch")

    async def stop(self) -> None:
        """Stop the alarm worker and any action still running."""
        background = [t for t in (self._worker, self._watcher) if t is not None]
        for task in [*self._tasks, *background]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._worker = self._watcher = None

    async def drain(self) -> None:
        """Wait until every signal so far became alarms and their actions ran (tests, shutdown)."""
        await self._queue.join()
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._queue.join()  # held messages released by a task may have raised alarms

    async def _watch(self, seconds: float = 2.0) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await self.sync()
            except Exception:  # the watcher must outlive a failed round (e.g. the store restarting)
                log.exception("could not check the stored rules for changes")

    async def _read_stamps(self) -> dict[str, tuple[int, int, str]]:
        async with self.db.transaction() as s:
            rows = await s.execute(
                select(
                    StreamRule.org_id,
                    func.count(),
                    func.sum(StreamRule.version),
                    func.max(StreamRule.updated_at),
                ).group_by(StreamRule.org_id)
            )
            return {org: (int(n), int(total or 0), str(ts)) for org, n, total, ts in rows.all()}

    async def sync(self) -> list[str]:
        """Reload the organisations whose stored rules changed elsewhere (the CLI, another worker)."""
        stamps = await self._read_stamps()
        changed = sorted(o for o in set(stamps) | set(self._stamps) if stamps.get(o) != self._stamps.get(o))
        for org_id in changed:
            await self.reload(org_id)
        self._stamps = stamps
        return changed

    # data path -----------------------------------------------------------------------
    def on_messages(self, messages: list[Message]) -> None:
        """Ingest listener: run the rules synchronously, hand alarms and actions to the worker.

        A device the engine does not know yet (created since the directory was read) holds its
        organisation's messages back until the directory is read again: otherwise rules that select
        devices by type or tag would skip a new device's first readings. Held messages keep their order.
        """
        devices = self.engine.devices
        ready: list[Message] = []
        for m in messages:
            held = self._held.get(m.org_id)
            if held is None and m.device_id not in devices and m.org_id in self._loaded:
                held = self._held[m.org_id] = []
                self._refreshing.add(m.org_id)
                self._spawn(self._refresh_then_release(m.org_id))
            if held is not None and len(held) < MAX_HELD:
                held.append(m)
            else:
                ready.append(m)
        self._run(ready)

    def _run(self, messages: list[Message]) -> None:
        if not messages:
            return
        derived: list[Derived] = []
        signals = self.engine.process(messages, derived)
        for d in derived:
            if self.bus.listening(d.org_id):
                self.bus.publish(
                    d.org_id,
                    {
                        "type": "derived",
                        "device_id": d.device_id,
                        "key": d.key,
                        "value": d.value,
                        "ts": from_us(d.ts).isoformat(),
                    },
                )
        if signals:
            self._queue.put_nowait(signals)

    async def _refresh_then_release(self, org_id: str) -> None:
        try:
            await self._refresh_devices(org_id)
        finally:
            held = self._held.pop(org_id, [])
            try:
                self._run(held)
            except Exception:  # like any listener failure: logged, ingest goes on
                log.exception("rules could not process %d held messages", len(held))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                changes = await self.book.apply([s for b in batch for s in b], self._info)
                for change in changes:
                    self._after(change)
            except Exception:  # the worker must outlive one failed round
                log.exception("could not apply %d alarm signals", sum(len(b) for b in batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _after(self, change: Change) -> None:
        alarm = change.alarm
        org_id = self._org_of(alarm["rule_id"])
        if org_id is None:
            return
        self._publish(org_id, change)
        rule = self._rules.get((org_id, alarm["rule_id"]))
        if rule is None or isinstance(rule, DerivedRule):
            return
        on = {"raised": "raise", "cleared": "clear"}.get(change.change)
        for action in rule.actions:
            if action.on == on:
                self._spawn(self._act(org_id, action, alarm))

    def _org_of(self, rule_id: str) -> str | None:
        for org_id, rid in self._info:
            if rid == rule_id:
                return org_id
        return None

    async def _act(self, org_id: str, action: Any, alarm: dict[str, Any]) -> None:
        outcome = await self.runner.run(org_id, action, alarm)
        self.bus.publish(
            org_id,
            {
                "type": "action",
                "alarm_id": alarm["id"],
                "device_id": alarm["subject"],
                "action": action.type,
                "ok": outcome.ok,
                "detail": outcome.detail,
            },
        )

    def _publish(self, org_id: str, change: Change) -> None:
        alarm = change.alarm
        self.bus.publish(
            org_id, {"type": "alarm", "change": change.change, "device_id": alarm["subject"], **alarm}
        )

    async def _refresh_devices(self, org_id: str) -> None:
        try:
            async with self.db.transaction() as s:
                rows = await s.execute(
                    select(Device.id, Device.type_id, DeviceType.name, Device.tags)
                    .join(DeviceType, DeviceType.id == Device.type_id)
                    .where(Device.org_id == org_id)
                )
                found = {d: (t, n, frozenset(tags or ())) for d, t, n, tags in rows.all()}
            self.engine.set_devices(found)
        finally:
            self._refreshing.discard(org_id)

    # rules ---------------------------------------------------------------------------
    async def reload(self, org_id: str) -> None:
        """Compile the organisation's stored rules into the engine (state of unchanged rules kept)."""
        async with self._reloading.setdefault(org_id, asyncio.Lock()):
            await self._reload(org_id)

    async def _reload(self, org_id: str) -> None:
        async with self.db.transaction() as s:
            rows = list((await s.scalars(select(StreamRule).where(StreamRule.org_id == org_id))).all())
        loaded = [LoadedRule(r.id, r.version, rule_from_stored(r.definition)) for r in rows]
        for key in [k for k in self._info if k[0] == org_id]:
            del self._info[key], self._rules[key]
        for key in [k for k in self._errors if k[0] == org_id]:
            del self._errors[key]
        for item in loaded:
            severity = getattr(item.rule, "severity", "indeterminate")
            self._info[(org_id, item.rule_id)] = RuleInfo(item.rule.name, severity)
            self._rules[(org_id, item.rule_id)] = item.rule
        await self._refresh_devices(org_id)
        for rule_id, error in self.engine.load(org_id, loaded):
            self._errors[(org_id, rule_id)] = error
        # a new version (or a restart) starts from what is still alarmed, so it can clear it
        for org, rule_id, subject in await self.book.active(org_id):
            self.engine.set_active(org, rule_id, subject, True)
        self._loaded.add(org_id)

    async def announce_cleared(self, changes: list[Change]) -> None:
        """Publish alarms cleared because their rule was deleted or disabled."""
        for change in changes:
            org_id = self._org_of(change.alarm["rule_id"])
            if org_id is not None:
                self._publish(org_id, change)

    # alarms --------------------------------------------------------------------------
    async def alarms(
        self, caller: Principal, where: AlarmFilter, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the organisation's alarms, newest first, and the total."""
        caller.require_scope(Scope.READ)
        return await self.book.page(caller.org_id, where, offset=offset, limit=limit)

    async def alarm(self, caller: Principal, alarm_id: str) -> dict[str, Any]:
        """One alarm."""
        caller.require_scope(Scope.READ)
        return await self.book.get(caller.org_id, alarm_id)

    async def acknowledge(self, caller: Principal, alarm_id: str) -> dict[str, Any]:
        """Acknowledge an alarm."""
        caller.require_scope(Scope.WRITE)
        change = await self.book.acknowledge(caller.org_id, alarm_id, caller.user_id or caller.api_key_id)
        self._publish(caller.org_id, change)
        return change.alarm

    async def clear(self, caller: Principal, alarm_id: str) -> dict[str, Any]:
        """Clear an alarm by hand; its rule may raise a new one when the condition comes back."""
        caller.require_scope(Scope.WRITE)
        change = await self.book.clear(caller.org_id, alarm_id, caller.user_id or caller.api_key_id)
        self.engine.set_active(caller.org_id, change.alarm["rule_id"], change.alarm["subject"], False)
        self._publish(caller.org_id, change)
        self._after_manual_clear(caller.org_id, change)
        return change.alarm

    def _after_manual_clear(self, org_id: str, change: Change) -> None:
        rule = self._rules.get((org_id, change.alarm["rule_id"]))
        if rule is None or isinstance(rule, DerivedRule):
            return
        for action in rule.actions:
            if action.on == "clear":
                self._spawn(self._act(org_id, action, change.alarm))
