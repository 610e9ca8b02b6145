"""In-process event bus: per-organisation fan-out to bounded subscriber queues (for live streams)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]


@dataclass(eq=False)
class Subscription:
    """A subscriber's queue; a slow reader loses its oldest events, never blocks the publisher."""

    org_id: str
    device_id: str | None
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(maxsize=2000))
    dropped: int = 0

    def offer(self, event: Event) -> None:
        """Queue ``event``, dropping the oldest one when full."""
        if self.device_id is not None and event.get("device_id") != self.device_id:
            return
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def events(self) -> AsyncIterator[Event]:
        """Events as they come."""
        while True:
            yield await self.queue.get()


class EventBus:
    """Publish events of an organisation to everyone who subscribed to it."""

    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = {}

    def subscribe(self, org_id: str, device_id: str | None = None) -> Subscription:
        """Start receiving an organisation's events (optionally one device's only)."""
        sub = Subscription(org_id, device_id)
        self._subs.setdefault(org_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop receiving."""
        subs = self._subs.get(sub.org_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.org_id]

    def listening(self, org_id: str) -> bool:
        """Whether anyone listens to this organisation (lets publishers skip building events)."""
        return org_id in self._subs

    def publish(self, org_id: str, event: Event) -> None:
        """Deliver ``event`` to the organisation's subscribers without waiting."""
        for sub in self._subs.get(org_id, ()):
            sub.offer(event)
