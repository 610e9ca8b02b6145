"""Forecasting with lag features and scikit-learn, judged against persistence and seasonal-naive baselines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from iplus.core.errors import InvalidInput
from iplus.engines.ai.artifacts import SKOPS, dump_skops, load_skops
from iplus.engines.ai.metrics import FloatArray, forecast_errors
from iplus.engines.ai.params import Params, check_work, series

MAX_CHART_POINTS = 2000
# bounds on one training: the lag matrix (values x lags, 8 bytes each) and gradient boosting's work
MAX_LAG_CELLS = 20_000_000
MAX_BOOSTING_WORK = 2e9


def lag_matrix(y: FloatArray, lags: int) -> tuple[FloatArray, FloatArray]:
    """Rows of the ``lags`` previous values (oldest first) and the value that followed each row."""
    n = y.size - lags
    if n < 1:
        raise InvalidInput(f"forecast: needs more than {lags} values")
    cols = [y[i : i + n] for i in range(lags)]
    return np.column_stack(cols), y[lags:]


def _estimator(p: Params) -> Any:
    kind = p.choice("model", "hgb", ("hgb", "ridge"))
    if kind == "ridge":
        from sklearn.linear_model import Ridge

        return Ridge(alpha=p.float("alpha", 1.0, 0.0, 1e6))
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        max_iter=p.int("max_iter", 200, 1, 2000),
        learning_rate=p.float("learning_rate", 0.1, 1e-4, 1.0),
        random_state=p.int("seed", 0, 0, 2**31 - 1),
    )


def train_forecaster(
    times: Sequence[float] | FloatArray, values: Sequence[float] | FloatArray, params: Mapping[str, Any]
) -> dict[str, Any]:
    """Fit on the older part, test one step ahead on the newer part; baselines in the same call.

    ``times`` are epoch seconds of ``values`` in time order. Returns the skops artifact, the
    parameters used, metrics of the model and of persistence (y[t-1]) and seasonal-naive
    (y[t-season]) forecasts on the same test rows, and the test split for a chart.
    """
    p = Params(params, "forecast")
    lags = p.int("lags", 24, 1, 512)
    season = p.int("season", 24, 1, 10_000)
    test_fraction = p.float("test_fraction", 0.2, 0.05, 0.5)
    estimator = _estimator(p)
    used = p.done()
    y = series(values, "forecast", max(lags, season) + 20)
    check_work("forecast", y.size * lags, MAX_LAG_CELLS, "values x lags")
    if used["model"] == "hgb":
        check_work(
            "forecast", y.size * lags * used["max_iter"], MAX_BOOSTING_WORK, "values x lags x max_iter"
        )
    t = np.asarray(times, dtype=np.float64)
    if t.shape != y.shape:
        raise InvalidInput("forecast: times and values must have the same length")
    n_test = max(5, round(y.size * test_fraction))
    split = y.size - n_test  # first test target index
    if split < max(lags, season) + 10:
        raise InvalidInput("forecast: too few values before the test split for these lags and season")
    x_all, target = lag_matrix(y, lags)
    rows_train = split - lags  # rows whose target lies before the split
    estimator.fit(x_all[:rows_train], target[:rows_train])
    predicted = np.asarray(estimator.predict(x_all[rows_train:]), dtype=np.float64)
    actual = y[split:]
    idx = np.arange(split, y.size)
    persistence, seasonal = y[idx - 1], y[idx - season]

    def mae(forecast: FloatArray) -> float:
        return float(np.mean(np.abs(forecast - actual)))

    metrics: dict[str, Any] = {
        "n_train": int(rows_train),
        "n_test": int(n_test),
        "model": forecast_errors(actual, predicted),
        "persistence": forecast_errors(actual, persistence),
        "seasonal_naive": forecast_errors(actual, seasonal),
        # above 0: the model's absolute error is lower than persistence's
        "skill_vs_persistence": (1 - mae(predicted) / mae(persistence)) if mae(persistence) else None,
    }
    step = max(1, int(np.ceil(n_test / MAX_CHART_POINTS)))
    bundle = {"estimator": estimator, "lags": lags, "tail": y[-lags:].copy()}
    return {
        "artifact": dump_skops(bundle),
        "format": SKOPS,
        "params": used,
        "metrics": metrics,
        "evaluation": {
            "kind": "forecast",
            "t": t[split::step].tolist(),
            "actual": actual[::step].tolist(),
            "predicted": predicted[::step].tolist(),
        },
    }


def forecast(artifact: bytes, horizon: int, history: Sequence[float] | None = None) -> list[float]:
    """Forecast ``horizon`` steps recursively from ``history`` (or the training data's last values)."""
    bundle = load_skops(artifact)
    if not isinstance(bundle, dict) or "estimator" not in bundle:
        raise InvalidInput("artifact is not a forecasting model")
    lags = int(bundle["lags"])
    if not 1 <= horizon <= 10_000:
        raise InvalidInput("horizon must be from 1 to 10000")
    if history is None:
        window = list(np.asarray(bundle["tail"], dtype=np.float64))
    else:
        window = list(series(history, "forecast history", lags)[-lags:])
    out: list[float] = []
    for _ in range(horizon):
        nxt = float(bundle["estimator"].predict(np.asarray([window[-lags:]]))[0])
        out.append(nxt)
        window.append(nxt)
    return out
