"""Batch anomaly detection with scikit-learn's IsolationForest on value and step-change features."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from iplus.core.errors import InvalidInput
from iplus.engines.ai.artifacts import SKOPS, dump_skops, load_skops
from iplus.engines.ai.forecast import MAX_CHART_POINTS
from iplus.engines.ai.metrics import FloatArray, detection_metrics, runs
from iplus.engines.ai.params import Params, check_work, series

# scoring every value with every tree: about a minute at this size on one core
MAX_FOREST_WORK = 4e8


def features(y: FloatArray) -> FloatArray:
    """Per reading: the value and its change from the previous reading (0 for the first)."""
    diff = np.diff(y, prepend=y[:1])
    return np.column_stack([y, diff])


def train_isolation_forest(
    times: Sequence[float] | FloatArray,
    values: Sequence[float] | FloatArray,
    params: Mapping[str, Any],
    labels: Sequence[bool] | None = None,
) -> dict[str, Any]:
    """Fit on the older part, flag the newer part; with labels, precision/recall/F1 on that part."""
    p = Params(params, "isolation-forest")
    n_estimators = p.int("n_estimators", 100, 1, 2000)
    contamination = p.float("contamination", 0.01, 0.0001, 0.5)
    test_fraction = p.float("test_fraction", 0.3, 0.05, 0.9)
    seed = p.int("seed", 0, 0, 2**31 - 1)
    tolerance = p.int("tolerance", 2, 0, 10_000)
    used = p.done()
    y = series(values, "isolation-forest", 20)
    check_work("isolation-forest", y.size * n_estimators, MAX_FOREST_WORK, "values x n_estimators")
    t = np.asarray(times, dtype=np.float64)
    if t.shape != y.shape:
        raise InvalidInput("isolation-forest: times and values must have the same length")
    if labels is not None and len(labels) != y.size:
        raise InvalidInput("isolation-forest: labels and values must have the same length")
    from sklearn.ensemble import IsolationForest

    split = y.size - max(5, round(y.size * test_fraction))
    x = features(y)
    model = IsolationForest(n_estimators=n_estimators, contamination=contamination, random_state=seed)
    model.fit(x[:split])
    scores = -np.asarray(model.score_samples(x), dtype=np.float64)  # higher: more anomalous
    flags = np.asarray(model.predict(x), dtype=np.int64) == -1
    metrics: dict[str, Any] = {
        "n_train": int(split),
        "n_test": int(y.size - split),
        "alarms_test": len(runs(list(flags[split:]))),
        "flagged_fraction_test": float(flags[split:].mean()),
        "threshold": float(-model.offset_),
    }
    if labels is not None:
        lab = [bool(v) for v in labels[split:]]
        metrics["detection"] = detection_metrics(list(flags[split:]), lab, tolerance).as_dict()
    step = max(1, int(np.ceil(y.size / MAX_CHART_POINTS)))
    return {
        "artifact": dump_skops(model),
        "format": SKOPS,
        "params": used,
        "metrics": metrics,
        "evaluation": {
            "kind": "scores",
            "t": t[::step].tolist(),
            "value": y[::step].tolist(),
            "score": scores[::step].tolist(),
            "threshold": float(-model.offset_),
            "test_from": float(t[split]),
        },
    }


def score_isolation_forest(artifact: bytes, values: Sequence[float]) -> tuple[list[float], list[bool]]:
    """Scores (higher: more anomalous) and flags of ``values`` under a stored IsolationForest."""
    model = load_skops(artifact)
    if type(model).__name__ != "IsolationForest":
        raise InvalidInput("artifact is not an isolation-forest model")
    x = features(series(values, "score", 1))
    scores = -np.asarray(model.score_samples(x), dtype=np.float64)
    return scores.tolist(), (np.asarray(model.predict(x)) == -1).tolist()
