"""Regression tests from the security review of the AI slice: bounded training, JSON-safe scores."""

from __future__ import annotations

import time

import numpy as np
import pytest

from iplus.core.errors import InvalidInput
from iplus.engines.ai.batch_anomaly import train_isolation_forest
from iplus.engines.ai.forecast import train_forecaster
from iplus.engines.ai.online import detector_params, online_detector
from iplus.engines.ai.train import train_job
from tests.access.conftest import Platform
from tests.api.helpers import assert_problem

T0 = 1_780_000_000


def test_half_space_trees_size_is_bounded() -> None:
    # river builds every tree complete: 500 trees of height 20 are 5e8 leaves (hours, hundreds of GB)
    started = time.perf_counter()
    with pytest.raises(InvalidInput, match="n_trees x 2"):
        online_detector("half-space-trees", {"n_trees": 500, "height": 20})
    with pytest.raises(InvalidInput, match="n_trees x 2"):
        detector_params("half-space-trees", {"n_trees": 2, "height": 15})
    assert time.perf_counter() - started < 1.0
    assert detector_params("half-space-trees", {"n_trees": 1, "height": 15})["height"] == 15


def test_training_work_is_bounded() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(60_000, dtype=np.float64) * 60
    y = rng.normal(20, 1, t.size)
    started = time.perf_counter()
    # 60,000 x 512 lags = a 246 MB lag matrix, then 2,000 boosting rounds over it: hours
    with pytest.raises(InvalidInput, match="values x lags"):
        train_forecaster(t, y, {"lags": 512, "season": 24, "max_iter": 2000})
    with pytest.raises(InvalidInput, match="values x lags x max_iter"):
        train_forecaster(t, y, {"lags": 48, "max_iter": 2000})
    with pytest.raises(InvalidInput, match="values x n_estimators"):
        train_isolation_forest(np.tile(t, 5), np.tile(y, 5), {"n_estimators": 2000})
    # half-space-trees replays every value through every tree in Python (~150,000 tree steps/s)
    with pytest.raises(InvalidInput, match="values x n_trees x height"):
        train_job("half-space-trees", t.tolist(), y.tolist(), {})
    assert time.perf_counter() - started < 30.0  # imports included; unbounded, these ran for hours


async def test_predict_scores_stay_json_and_bounded(platform: Platform) -> None:
    c, a = platform.client, platform.a
    await platform.device(a, "room-1")
    msgs = [{"device_id": "room-1", "ts": T0 + 3600 * i, "values": {"temp": 20.0}} for i in range(60)]
    r = await c.post("/api/v1/telemetry", headers=a.auth, json={"messages": msgs})
    assert r.json()["stored"] == 60, r.text
    body = {
        "name": "zs",
        "kind": "robust-zscore",
        "devices": ["room-1"],
        "key": "temp",
        "params": {"warmup": 3},
    }
    assert (await c.post("/api/v1/models/train", headers=a.auth, json=body)).status_code == 201
    # a flat history then a huge value: |x - median| / min_scale overflows to infinity (was a 500)
    r = await c.post(
        "/api/v1/models/zs/versions/1/predict", headers=a.auth, json={"values": [1, 1, 1, 1, 1e308]}
    )
    assert r.status_code == 200, r.text
    assert r.json()["scores"][-1] is None and r.json()["anomalous"][-1] is True
    hst = {**body, "name": "hst", "kind": "half-space-trees", "params": {}}
    assert (await c.post("/api/v1/models/train", headers=a.auth, json=hst)).status_code == 201
    r = await c.post("/api/v1/models/hst/versions/1/predict", headers=a.auth, json={"values": [1.0] * 60_000})
    assert_problem(r, 422)
