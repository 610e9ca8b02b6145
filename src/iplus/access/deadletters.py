"""Dead letters: messages that could not be stored, kept with their reasons for the operator."""

from __future__ import annotations

from iplus.core.roles import Role
from iplus.infra.bus import EventBus
from iplus.infra.db.engine import Database
from iplus.infra.db.models import DeadLetter
from iplus.infra.db.repos import DeadLetterRepository, OperatorDeadLetters
from iplus.security.principal import Principal

MAX_PAYLOAD = 8000


class DeadLetters:
    """Records refused messages and lists them per organisation."""

    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus
        self.recorded = 0

    async def record(
        self,
        *,
        org_id: str | None,
        device_id: str | None,
        channel: str,
        topic: str,
        payload: bytes,
        reasons: list[str],
    ) -> None:
        """Keep one refused message (payload cut to 8,000 characters) with every reason."""
        text = payload.decode("utf-8", errors="replace")[:MAX_PAYLOAD].replace("\x00", "\\0")
        async with self.db.transaction() as s:
            s.add(
                DeadLetter(
                    org_id=org_id,
                    device_id=device_id[:64] if device_id else None,
                    channel=channel,
                    topic=topic[:500],
                    payload=text,
                    reasons=reasons[:50],
                )
            )
        self.recorded += 1
        if org_id is not None:
            self.bus.publish(org_id, {"type": "dead_letter", "device_id": device_id, "reasons": reasons[:5]})

    async def list(
        self, caller: Principal, *, device_id: str | None = None, offset: int = 0, limit: int = 100
    ) -> list[DeadLetter]:
        """The organisation's dead letters, newest first; operators also see unowned ones."""
        async with self.db.transaction() as s:
            if Role.OPERATOR in caller.roles and device_id is None:
                return await OperatorDeadLetters(s, caller.org_id).newest(offset=offset, limit=limit)
            return await DeadLetterRepository(s, caller.org_id).newest(
                device_id=device_id, offset=offset, limit=limit
            )
