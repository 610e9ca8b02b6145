"""AI engine: metrics on a hand-labelled example, forecasting against closed forms, safe artifacts, detectors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from iplus.core.errors import InvalidInput
from iplus.engines.ai.artifacts import dump_skops, load_skops
from iplus.engines.ai.batch_anomaly import score_isolation_forest, train_isolation_forest
from iplus.engines.ai.forecast import forecast, lag_matrix, train_forecaster
from iplus.engines.ai.metrics import detection_metrics, runs
from iplus.engines.ai.online import online_detector, run_detector


class Untrusted:
    """A type no artifact may bring in."""

    def __init__(self) -> None:
        self.payload = "anything"


def test_detection_metrics_on_a_hand_labelled_example() -> None:
    labels = [0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0]
    flags = [0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    assert runs([bool(f) for f in flags]) == [(1, 2), (6, 6), (11, 11)]
    exact = detection_metrics([bool(f) for f in flags], [bool(v) for v in labels], tolerance=0)
    # by hand: alarm (1,2) meets window (2,4); (6,6) and (11,11) meet nothing; window (9,9) missed
    assert (exact.alarms, exact.alarms_matched, exact.windows, exact.windows_detected) == (3, 1, 2, 1)
    assert exact.event_precision == pytest.approx(1 / 3)
    assert exact.event_recall == pytest.approx(1 / 2)
    assert exact.event_f1 == pytest.approx(0.4)
    # points: flagged 1,2,6,11; labelled 2,3,4,9; only 2 is both
    assert (exact.point_precision, exact.point_recall, exact.point_f1) == (0.25, 0.25, 0.25)
    assert exact.delays == [0]
    near = detection_metrics([bool(f) for f in flags], [bool(v) for v in labels], tolerance=2)
    # with two readings of tolerance (6,6) is near (2,4) and (11,11) near (9,9)
    assert (near.event_precision, near.event_recall, near.event_f1) == (1.0, 1.0, 1.0)
    assert near.delays == [-1, 2]
    assert near.point_f1 == 0.25
    none = detection_metrics([False] * 12, [bool(v) for v in labels])
    assert (none.event_precision, none.event_recall, none.event_f1, none.alarms) == (0.0, 0.0, 0.0, 0)


def sinusoid(n: int, sigma: float, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, sigma, n)


def test_forecaster_beats_persistence_on_a_noisy_sinusoid() -> None:
    sigma = 0.3
    y = sinusoid(24 * 60, sigma)
    result = train_forecaster(
        np.arange(y.size, dtype=np.float64) * 3600.0, y, {"lags": 24, "season": 24, "model": "ridge"}
    )
    m = result["metrics"]
    assert result["params"]["model"] == "ridge" and m["n_test"] == round(y.size * 0.2)
    # seasonal naive on a pure period-24 signal leaves the difference of two noise draws:
    # E|e1 - e2| = 2 sigma / sqrt(pi)
    assert m["seasonal_naive"]["mae"] == pytest.approx(2 * sigma / math.sqrt(math.pi), rel=0.12)
    assert m["model"]["mae"] < 0.5 * m["persistence"]["mae"]
    assert m["model"]["mae"] < m["seasonal_naive"]["mae"]
    assert m["skill_vs_persistence"] > 0.5
    # recursive forecast from the stored tail continues the sinusoid
    ahead = forecast(result["artifact"], 24)
    t_next = np.arange(y.size, y.size + 24)
    truth = 10 * np.sin(2 * np.pi * t_next / 24)
    assert float(np.mean(np.abs(np.array(ahead) - truth))) < 1.0


def test_lags_recover_an_ar1_coefficient() -> None:
    phi, n = 0.7, 5000
    rng = np.random.default_rng(3)
    y = np.zeros(n)
    for i in range(1, n):
        y[i] = phi * y[i - 1] + rng.normal()
    result = train_forecaster(
        np.arange(n, dtype=float), y, {"lags": 1, "season": 1, "model": "ridge", "alpha": 0.0}
    )
    coef = load_skops(result["artifact"])["estimator"].coef_[0]
    # standard error of the least-squares estimate is sqrt((1 - phi^2) / n) ~ 0.011
    assert coef == pytest.approx(phi, abs=0.04)


def test_skops_round_trip_gives_identical_predictions() -> None:
    y = sinusoid(600, 0.5)
    result = train_forecaster(np.arange(600.0), y, {"lags": 12, "model": "hgb", "max_iter": 50})
    model = load_skops(result["artifact"])["estimator"]
    x, _ = lag_matrix(y, 12)
    rows = result["metrics"]["n_train"]
    np.testing.assert_array_equal(model.predict(x[rows:]), np.array(result["evaluation"]["predicted"]))
    again = load_skops(dump_skops({"estimator": model, "lags": 12, "tail": y[-12:]}))["estimator"]
    np.testing.assert_array_equal(again.predict(x), model.predict(x))


def test_artifacts_with_untrusted_types_or_pickle_are_refused() -> None:
    evil = dump_skops({"estimator": Untrusted(), "lags": 1})
    with pytest.raises(InvalidInput, match="not trusted"):
        load_skops(evil)
    import pickle

    with pytest.raises(InvalidInput, match="not a readable skops file"):
        load_skops(pickle.dumps({"a": 1}))


def test_isolation_forest_flags_spikes_and_round_trips() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(100, 1, 2000)
    spikes = [1500, 1700, 1900]
    y[spikes] += 25
    labels = [i in spikes for i in range(y.size)]
    result = train_isolation_forest(np.arange(2000.0), y, {"contamination": 0.005}, labels)
    d = result["metrics"]["detection"]
    assert d["windows"] == 3 and d["event_recall"] == 1.0
    scores, flags = score_isolation_forest(result["artifact"], y[1400:].tolist())
    assert all(flags[i - 1400] for i in spikes)
    assert max(scores) == pytest.approx(max(scores[i - 1400] for i in spikes))


def test_robust_zscore_matches_a_brute_force_rolling_median_and_iqr() -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(50, 4, 400)
    window, warmup = 30, 10
    scores = run_detector(online_detector("robust-zscore", {"window": window, "warmup": warmup}), x.tolist())
    for i in range(len(x)):
        if i < warmup:
            assert scores[i] == 0.0
            continue
        w = x[max(0, i - window) : i]  # the values learned before x[i]
        q1, med, q3 = np.quantile(w, [0.25, 0.5, 0.75])
        assert scores[i] == pytest.approx(abs(x[i] - med) / ((q3 - q1) / 1.349), rel=1e-9)


def test_online_detector_factory_checks_kind_and_parameters() -> None:
    hst = online_detector("half-space-trees", {"n_trees": 5, "height": 4, "window_size": 20})
    scores = run_detector(hst, [1.0, 2.0, 1.5] * 20)
    assert all(0.0 <= s <= 1.0 for s in scores)
    with pytest.raises(InvalidInput, match="unknown online detector"):
        online_detector("lstm", {})
    with pytest.raises(InvalidInput, match="unknown parameters"):
        online_detector("robust-zscore", {"windw": 5})
    with pytest.raises(InvalidInput, match="window"):
        online_detector("robust-zscore", {"window": 0})
