"""Commands to devices: pending -> delivered -> acknowledged | failed | timed_out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from iplus.access.registry import Registry
from iplus.core.clock import as_utc, utcnow
from iplus.core.errors import InvalidInput, NotReady
from iplus.core.roles import Scope
from iplus.infra.bus import EventBus
from iplus.infra.db.engine import Database
from iplus.infra.db.models import Command
from iplus.infra.db.repos import CommandLookup, CommandRepository
from iplus.security.principal import Principal

Deliver = Callable[[str, dict[str, Any]], Awaitable[None]]
FINAL = ("acknowledged", "failed", "timed_out")


def command_topic(device_id: str) -> str:
    """Where a device receives its commands."""
    return f"iplus/v1/devices/{device_id}/commands"


class Commands:
    """Sends commands through the broker and follows their status."""

    def __init__(
        self, db: Database, registry: Registry, bus: EventBus, deliver: Deliver | None = None
    ) -> None:
        self.db = db
        self.registry = registry
        self.bus = bus
        self.deliver = deliver

    async def send(
        self, caller: Principal, device_id: str, action: str, payload: Any = None, timeout_s: float = 30.0
    ) -> Command:
        """Validate the action and its input against the thing model, store it, deliver it."""
        caller.require_scope(Scope.WRITE)
        device = await self.registry.get_device(caller, device_id)
        identity = await self.registry.owned(caller.org_id, device.id)
        affordance = identity.model.actions.get(action)
        if affordance is None:
            known = ", ".join(sorted(identity.model.actions)) or "none"
            raise InvalidInput(f"the device has no action {action!r} (its actions: {known})")
        schema = affordance.get("input")
        if schema is not None:
            import jsonschema

            errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(payload)]
            if errors:
                raise InvalidInput(f"input of {action!r} is not valid", errors=errors)
        if not 1 <= timeout_s <= 86_400:
            raise InvalidInput("timeout_s must be between 1 and 86,400 seconds")
        async with self.db.transaction() as s:
            command = await CommandRepository(s, caller.org_id).add(
                Command(
                    device_id=device.id,
                    action=action,
                    input=payload,
                    expires_at=utcnow() + timedelta(seconds=timeout_s),
                )
            )
        self._announce(command)
        if self.deliver is None:
            return await self._set(command.id, "failed", detail="no broker connection to deliver commands")
        try:
            await self.deliver(device.id, {"id": command.id, "action": action, "input": payload})
        except Exception as exc:  # a delivery failure is the command's outcome, not a server error
            return await self._set(command.id, "failed", detail=f"delivery failed: {exc}")
        return await self._set(command.id, "delivered", only_from=("pending",))

    async def acknowledge(self, device_id: str, answer: Any) -> Command | None:
        """Apply a device's answer ``{"id", "status": acknowledged|failed, "output"?, "detail"?}``."""
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
            raise InvalidInput("a command answer is a JSON object with the command's id")
        status = answer.get("status", "acknowledged")
        if status not in ("acknowledged", "failed"):
            raise InvalidInput("status must be acknowledged or failed")
        async with self.db.transaction() as s:
            found = await CommandLookup(s).by_id(answer["id"])
        if found is None or found.device_id != device_id:
            raise InvalidInput(f"device {device_id} has no command {answer['id']}")
        detail = answer.get("detail")
        return await self._set(
            found.id,
            status,
            detail=str(detail)[:2000] if detail is not None else None,
            output=answer.get("output"),
            only_from=("pending", "delivered"),
        )

    async def expire(self) -> int:
        """Mark commands whose device did not answer in time as timed out."""
        async with self.db.transaction() as s:
            overdue = [c.id for c in await CommandLookup(s).overdue(utcnow())]
        for command_id in overdue:
            await self._set(
                command_id,
                "timed_out",
                detail="the device did not answer in time",
                only_from=("pending", "delivered"),
            )
        return len(overdue)

    async def get(self, caller: Principal, command_id: str) -> Command:
        """One command of the organisation."""
        async with self.db.transaction() as s:
            return await CommandRepository(s, caller.org_id).get(command_id)

    async def of_device(self, caller: Principal, device_id: str, limit: int = 50) -> list[Command]:
        """A device's newest commands."""
        device = await self.registry.get_device(caller, device_id)
        async with self.db.transaction() as s:
            return await CommandRepository(s, caller.org_id).of_device(device.id, limit=limit)

    async def _set(
        self,
        command_id: str,
        status: str,
        *,
        detail: str | None = None,
        output: Any = None,
        only_from: tuple[str, ...] | None = None,
    ) -> Command:
        async with self.db.transaction() as s:
            command = await CommandLookup(s).by_id(command_id)
            if command is None:
                raise NotReady(f"command {command_id} vanished")
            # an answer racing the timeout: whichever lands first wins, later ones are ignored
            if only_from is None or command.status in only_from:
                command.status, command.updated_at = status, utcnow()
                if detail is not None:
                    command.detail = detail
                if output is not None:
                    command.output = output
                changed = True
            else:
                changed = False
        if changed:
            self._announce(command)
        return command

    def _announce(self, command: Command) -> None:
        self.bus.publish(
            command.org_id,
            {
                "type": "command",
                "device_id": command.device_id,
                "id": command.id,
                "action": command.action,
                "status": command.status,
                "detail": command.detail,
                "updated_at": as_utc(command.updated_at).isoformat(),
            },
        )
