"""Error metrics of forecasts and detection metrics of alarms against labelled anomaly windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Run = tuple[int, int]  # first and last index, both inclusive


def forecast_errors(actual: FloatArray, predicted: FloatArray) -> dict[str, float | None]:
    """MAE, RMSE and MAPE (in percent, over non-zero actuals; None when every actual is zero)."""
    err = predicted - actual
    nonzero = actual != 0
    mape = float(np.mean(np.abs(err[nonzero] / actual[nonzero])) * 100) if nonzero.any() else None
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mape": mape,
    }


def runs(flags: Sequence[bool] | npt.NDArray[np.bool_]) -> list[Run]:
    """Contiguous runs of True as (first, last) indices: each run of above-threshold readings is one alarm."""
    out: list[Run] = []
    start: int | None = None
    for i, flag in enumerate(flags):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(flags) - 1))
    return out


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class Detection:
    """Point- and event-level precision, recall and F1 of alarms against labelled windows."""

    readings: int
    labelled_points: int
    flagged_points: int
    point_tp: int
    point_precision: float
    point_recall: float
    point_f1: float
    windows: int
    windows_detected: int
    alarms: int
    alarms_matched: int
    event_precision: float
    event_recall: float
    event_f1: float
    tolerance: int
    # readings from each detected window's start to its first alarm reading (negative: early, in tolerance)
    delays: list[int]

    def as_dict(self) -> dict[str, object]:
        """Plain dict for JSON."""
        return asdict(self)


def detection_metrics(flags: Sequence[bool], labels: Sequence[bool], tolerance: int = 0) -> Detection:
    """Score alarms (runs of flagged readings) against labelled windows (runs of labelled readings).

    Event level: an alarm is a true positive when it overlaps a labelled window widened by
    ``tolerance`` readings on each side; a window is detected when some alarm overlaps it so widened.
    Point level: each reading is one flagged/labelled decision. With no alarms precision is 0.
    """
    if len(flags) != len(labels):
        raise ValueError("flags and labels must have the same length")
    if tolerance < 0:
        raise ValueError("tolerance must not be negative")
    f = np.asarray(flags, dtype=bool)
    lab = np.asarray(labels, dtype=bool)
    tp = int(np.sum(f & lab))
    p_prec, p_rec = _ratio(tp, int(f.sum())), _ratio(tp, int(lab.sum()))
    alarms, windows = runs(f), runs(lab)

    def overlaps(a: Run, w: Run) -> bool:
        return a[0] <= w[1] + tolerance and a[1] >= w[0] - tolerance

    matched = sum(1 for a in alarms if any(overlaps(a, w) for w in windows))
    # delay: first flagged reading at or after the widened window start, relative to the window start
    delays: list[int] = []
    for w in windows:
        inside = [i for a in alarms if overlaps(a, w) for i in range(a[0], a[1] + 1) if i >= w[0] - tolerance]
        if inside:
            delays.append(min(inside) - w[0])
    e_prec, e_rec = _ratio(matched, len(alarms)), _ratio(len(delays), len(windows))
    return Detection(
        readings=len(f),
        labelled_points=int(lab.sum()),
        flagged_points=int(f.sum()),
        point_tp=tp,
        point_precision=p_prec,
        point_recall=p_rec,
        point_f1=_f1(p_prec, p_rec),
        windows=len(windows),
        windows_detected=len(delays),
        alarms=len(alarms),
        alarms_matched=matched,
        event_precision=e_prec,
        event_recall=e_rec,
        event_f1=_f1(e_prec, e_rec),
        tolerance=tolerance,
        delays=delays,
    )
