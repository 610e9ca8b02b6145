"""Evaluation of online detectors on river's labelled water-flow series (shipped in the river package).

river documents four anomalous segments (``river.datasets.WaterFlow``): three "low value moments"
(water losses or maintenance) and a small peak after the first two (pumping). The CSV carries no
label column, so the windows below were placed by hand from that description: each low segment
runs from the first hour the flow leaves its normal band (below 95 l/s) to the last hour before it
is back above 95 l/s; the peak is the single hour at 109.68 l/s, the series' maximum.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np

from iplus.core.errors import InvalidInput
from iplus.engines.ai.metrics import FloatArray, detection_metrics
from iplus.engines.ai.online import online_detector, run_detector, threshold_of

COLUMN = "Water flow [l/s]"
# (first, last) labelled hour of each anomalous segment, both inclusive, local time as in the file
WINDOWS = (
    ("2022-03-24T09:00:00+01:00", "2022-03-25T01:00:00+01:00"),  # low: flow lost for ~17 h
    ("2022-03-29T09:00:00+02:00", "2022-03-29T20:00:00+02:00"),  # low: ~12 h
    ("2022-04-03T06:00:00+02:00", "2022-04-03T06:00:00+02:00"),  # peak: pumping into the main pipeline
    ("2022-04-27T15:00:00+02:00", "2022-04-28T05:00:00+02:00"),  # low: ~15 h
)
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]
TOLERANCE = 2  # readings (hours) either side of a window within which an alarm still counts
CALIBRATION_FRACTION = 0.5  # thresholds chosen on the first half are reported on the second


def load_series() -> tuple[FloatArray, FloatArray, BoolArray]:
    """Epoch seconds, flow values and per-reading anomaly labels of the water-flow series."""
    from iplus.access.sim.replay import read_water_flow

    data = read_water_flow()
    epochs = data.epochs
    labels = np.zeros(epochs.size, dtype=bool)
    for first, last in WINDOWS:
        lo, hi = datetime.fromisoformat(first).timestamp(), datetime.fromisoformat(last).timestamp()
        inside = (epochs >= lo) & (epochs <= hi)
        if not inside.any():
            raise InvalidInput(f"water-flow label {first}..{last} matches no reading")
        labels |= inside
    return epochs, data.columns[COLUMN], labels


def choose_threshold(scores: FloatArray, labels: BoolArray, tolerance: int) -> float:
    """The score threshold that maximises event-level F1 (ties: the higher threshold) on calibration data."""
    candidates = np.unique(np.quantile(scores, np.linspace(0.5, 0.999, 200)))
    best, best_f1 = float(candidates[-1]), -1.0
    for c in candidates[::-1]:
        f1 = detection_metrics(list(scores > c), list(labels), tolerance).event_f1
        if f1 > best_f1:
            best, best_f1 = float(c), f1
    return best


def evaluate(kind: str, params: Mapping[str, Any] | None = None, calibrate: bool = False) -> dict[str, Any]:
    """Run detector ``kind`` over the whole series (score, then learn) and score its alarms.

    Without ``calibrate`` the threshold is the detector's a-priori one (or ``params["threshold"]``)
    and metrics cover the whole series. With it, the threshold that maximises event F1 on the first
    half is chosen there and metrics are reported on the second half only.
    """
    epochs, values, labels = load_series()
    detector = online_detector(kind, params)
    scores = np.asarray(run_detector(detector, values.tolist()), dtype=np.float64)
    report: dict[str, Any] = {"detector": kind, "params": dict(params or {}), "tolerance": TOLERANCE}
    if calibrate:
        cut = int(values.size * CALIBRATION_FRACTION)
        threshold = choose_threshold(scores[:cut], labels[:cut], TOLERANCE)
        part = slice(cut, None)
        report["reported_on"] = f"readings {cut}..{values.size - 1} (threshold chosen on 0..{cut - 1})"
    else:
        threshold = threshold_of(kind, params)
        part = slice(0, None)
        report["reported_on"] = f"readings 0..{values.size - 1} (threshold fixed a priori)"
    flags = scores[part] > threshold
    report["threshold"] = threshold
    report["metrics"] = detection_metrics(list(flags), list(labels[part]), TOLERANCE).as_dict()
    report["series"] = {"t": epochs.tolist(), "value": values.tolist(), "score": scores.tolist()}
    report["labels"] = labels.tolist()
    return report
