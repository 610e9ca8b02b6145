"""Numeric readings handed to a store column by column, so it need not rebuild them reading by reading."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from iplus.infra.telemetry import Message


@dataclass(frozen=True, slots=True)
class ReadingColumns:
    """The readings of a list of messages, in message order: key, time (µs) and number per reading."""

    keys: Any  # pyarrow string array
    ts: Any  # numpy int64 array, µs since the epoch
    nums: Any  # numpy float64 array
    counts: Any  # numpy int64 array: readings per message

    def keep(self, fresh: Sequence[bool]) -> ReadingColumns:
        """The readings of the messages marked True only."""
        import numpy as np

        mask = np.repeat(np.asarray(fresh, dtype=bool), self.counts)
        return ReadingColumns(
            self.keys.filter(mask), self.ts[mask], self.nums[mask], self.counts[np.asarray(fresh, dtype=bool)]
        )

    @staticmethod
    def concat(parts: Iterable[ReadingColumns]) -> ReadingColumns:
        """Several lists' columns one after the other."""
        import numpy as np
        import pyarrow as pa

        parts = list(parts)
        return ReadingColumns(
            pa.concat_arrays([p.keys for p in parts]),
            np.concatenate([p.ts for p in parts]),
            np.concatenate([p.nums for p in parts]),
            np.concatenate([p.counts for p in parts]),
        )


class ColumnarMessages(list[Message]):
    """Messages whose readings (numbers only) also come as columns; each message keeps its readings too."""

    def __init__(self, messages: Iterable[Message], columns: ReadingColumns) -> None:
        super().__init__(messages)
        self.columns = columns


def merge(lists: Sequence[Sequence[Message]]) -> list[Message]:
    """Several callers' messages as one list, columnar when every part is."""
    messages = [m for msgs in lists for m in msgs]
    if lists and all(isinstance(msgs, ColumnarMessages) for msgs in lists):
        if len(lists) == 1:
            return ColumnarMessages(messages, lists[0].columns)  # type: ignore[attr-defined]
        return ColumnarMessages(messages, ReadingColumns.concat(m.columns for m in lists))  # type: ignore[attr-defined]
    return messages
