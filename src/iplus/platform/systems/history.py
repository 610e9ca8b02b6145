"""What an offer has actually delivered: observed durations, costs and outcomes of its executions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iplus.platform.systems.aggregate import Option


@dataclass(frozen=True)
class QosHistory:
    """Measured QoS of one offer: durations (hours) and costs per execution, successes and failures."""

    durations_h: tuple[float, ...] = ()
    successes: int = 0
    failures: int = 0
    costs: tuple[float, ...] = ()

    @property
    def executions(self) -> int:
        """Executions with a known outcome."""
        return self.successes + self.failures

    def success_rate(self, promised: float) -> float:
        """Posterior mean under a Beta(1, 1) prior, (s + 1) / (n + 2); the promise without evidence."""
        # with no outcome at all the prior's 0.5 would say less than the provider's declaration does
        if self.executions == 0:
            return promised
        return (self.successes + 1) / (self.executions + 2)

    def mean_duration_h(self, promised: float) -> float:
        """Mean observed duration; the promised time when nothing was observed."""
        return math.fsum(self.durations_h) / len(self.durations_h) if self.durations_h else promised

    def mean_cost(self, promised: float) -> float:
        """Mean observed cost per execution; the promised price when nothing was observed."""
        return math.fsum(self.costs) / len(self.costs) if self.costs else promised


def from_promise(option: Option) -> QosHistory:
    """The record of an offer never executed: no evidence, so every estimate falls back to ``option``."""
    del option  # the promise itself is read from the option wherever the history is used
    return QosHistory()


def _count(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= 0


def _amount(value: Any) -> bool:
    return (
        not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value) and value >= 0
    )


def history_problems(history: QosHistory, path: str) -> list[str]:
    """Every problem of one history, each with its path."""
    out = [
        f"{path}/{name}: a whole number >= 0"
        for name in ("successes", "failures")
        if not _count(getattr(history, name))
    ]
    for name in ("durations_h", "costs"):
        values = getattr(history, name)
        if not isinstance(values, tuple | list):
            out.append(f"{path}/{name}: a list of numbers")
            continue
        out += [f"{path}/{name}/{i}: a finite number >= 0" for i, v in enumerate(values) if not _amount(v)]
    return out
