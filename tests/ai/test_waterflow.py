"""The online robust z-score detector on river's labelled water-flow series (numbers are in docs/ai.md)."""

from __future__ import annotations

from iplus.engines.ai.waterflow import WINDOWS, evaluate, load_series


def test_labels_cover_the_four_documented_segments() -> None:
    epochs, values, labels = load_series()
    assert values.size == 1268 and epochs.size == 1268
    assert len(WINDOWS) == 4 and int(labels.sum()) == 45
    # the low segments sit far below the normal band, the peak is the series' maximum
    assert values[labels].min() < 30 and values.argmax() in labels.nonzero()[0]


def test_robust_zscore_raises_alarms_on_the_water_flow_series() -> None:
    report = evaluate("robust-zscore")  # threshold 3.5, fixed a priori (Iglewicz & Hoaglin)
    m = report["metrics"]
    assert report["threshold"] == 3.5
    # measured: event precision 0.50, recall 1.00, F1 0.67; point precision 0.74, recall 1.00
    assert m["windows"] == 4 and m["event_recall"] >= 0.75
    assert m["event_precision"] >= 0.4 and m["event_f1"] >= 0.55
    assert m["point_recall"] >= 0.9 and m["point_precision"] >= 0.6
    assert all(abs(d) <= 2 for d in m["delays"])


def test_threshold_chosen_on_the_first_half_is_reported_on_the_second() -> None:
    report = evaluate("robust-zscore", calibrate=True)
    m = report["metrics"]
    assert m["readings"] == 1268 - 634 and m["windows"] == 1
    assert m["event_recall"] == 1.0 and m["point_recall"] >= 0.9
