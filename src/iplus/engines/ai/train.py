"""Training jobs: picklable top-level functions the compute backend runs; plain data in, plain data out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from iplus.core.errors import InvalidInput
from iplus.engines.ai.artifacts import JSON, dump_json
from iplus.engines.ai.batch_anomaly import train_isolation_forest
from iplus.engines.ai.forecast import MAX_CHART_POINTS, train_forecaster
from iplus.engines.ai.metrics import runs
from iplus.engines.ai.online import (
    HALF_SPACE_TREES,
    MAX_HST_REPLAY_WORK,
    detector_params,
    online_detector,
    run_detector,
)
from iplus.engines.ai.online import KINDS as ONLINE_KINDS
from iplus.engines.ai.params import check_work, series

FORECAST = "forecast"
ISOLATION_FOREST = "isolation-forest"
KINDS = (FORECAST, ISOLATION_FOREST, *ONLINE_KINDS)


def replay_online(
    kind: str, times: Sequence[float], values: Sequence[float], params: Mapping[str, Any]
) -> dict[str, Any]:
    """An online detector's 'training': check its parameters and replay the data to measure its alarms.

    The artifact is the detector's parameters as JSON: river models keep learning from the live
    stream, so a fresh detector from these parameters is what the stream engine runs.
    """
    full = detector_params(kind, params)
    y = series(values, kind, 2)
    if kind == HALF_SPACE_TREES:
        work = y.size * full["n_trees"] * full["height"]
        check_work(kind, work, MAX_HST_REPLAY_WORK, "values x n_trees x height")
    scores = np.asarray(run_detector(online_detector(kind, full), y.tolist()), dtype=np.float64)
    flags = scores > full["threshold"]
    t = np.asarray(times, dtype=np.float64)
    step = max(1, int(np.ceil(y.size / MAX_CHART_POINTS)))
    return {
        "artifact": dump_json({"detector": kind, "params": full}),
        "format": JSON,
        "params": full,
        "metrics": {
            "n": int(y.size),
            "alarms": len(runs(list(flags))),
            "flagged_fraction": float(flags.mean()),
            "threshold": float(full["threshold"]),
        },
        "evaluation": {
            "kind": "scores",
            "t": t[::step].tolist(),
            "value": y[::step].tolist(),
            "score": scores[::step].tolist(),
            "threshold": float(full["threshold"]),
        },
    }


def train_job(
    kind: str, times: Sequence[float], values: Sequence[float], params: Mapping[str, Any]
) -> dict[str, Any]:
    """Train a model of ``kind`` on a time-ordered series; returns artifact bytes, metrics and a chart."""
    if len(times) != len(values):
        raise InvalidInput("times and values must have the same length")
    if kind == FORECAST:
        return train_forecaster(times, values, params)
    if kind == ISOLATION_FOREST:
        return train_isolation_forest(times, values, params)
    if kind in ONLINE_KINDS:
        return replay_online(kind, times, values, params)
    raise InvalidInput(f"unknown model kind {kind!r}: use {', '.join(KINDS)}")
