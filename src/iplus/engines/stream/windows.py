"""Event-time windows with a watermark: tumbling and sliding, incremental aggregates.

Lateness rule: each window group (a device, or a group of devices) has a watermark = the newest
event time it has seen minus the rule's allowed lateness. A window ``[start, start + size)``
closes, and its aggregate is emitted once, when the watermark reaches its end. A reading whose
every window has already closed is late: it is dropped and counted, never folded into a later
window, so out-of-order data cannot corrupt results. Windows without readings emit nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

# accumulator: [count, sum, min, max]
Acc = list[float]


def value_of(acc: Acc, aggregate: str) -> float:
    """The aggregate of a window's accumulator."""
    if aggregate == "count":
        return acc[0]
    if aggregate == "sum":
        return acc[1]
    if aggregate == "avg":
        return acc[1] / acc[0]
    if aggregate == "min":
        return acc[2]
    return acc[3]


class Windows:
    """Open windows of one rule and one group; ``add`` returns how the reading was taken."""

    __slots__ = ("due", "late", "lateness", "open", "size", "slide", "watermark")

    def __init__(self, size_us: int, slide_us: int, lateness_us: int) -> None:
        self.size = size_us
        self.slide = slide_us
        self.lateness = lateness_us
        self.open: dict[int, Acc] = {}
        self.watermark = -(1 << 62)
        self.late = 0
        self.due = 1 << 62  # end of the oldest open window: nothing closes before the watermark gets there

    def add(self, ts: int, value: float) -> None:
        """Fold one reading into every window it belongs to that is still open."""
        size, slide, watermark = self.size, self.slide, self.watermark
        start = ts - ts % slide
        taken = False
        open_ = self.open
        while start > ts - size:
            if start + size > watermark:
                acc = open_.get(start)
                if acc is None:
                    open_[start] = [1.0, value, value, value]
                    if start + size < self.due:
                        self.due = start + size
                else:
                    acc[0] += 1.0
                    acc[1] += value
                    if value < acc[2]:
                        acc[2] = value
                    if value > acc[3]:
                        acc[3] = value
                taken = True
            start -= slide
        if not taken:
            self.late += 1
        mark = ts - self.lateness
        if mark > watermark:
            self.watermark = mark

    def closed(self) -> Iterator[tuple[int, Acc]]:
        """Windows whose end the watermark has reached, oldest first; they are forgotten."""
        watermark, size = self.watermark, self.size
        ready = [s for s in self.open if s + size <= watermark]
        if not ready:
            self.due = min(self.open) + size if self.open else 1 << 62
            return
        ready.sort()
        closing = [(start, self.open.pop(start)) for start in ready]
        self.due = min(self.open) + size if self.open else 1 << 62
        yield from closing
