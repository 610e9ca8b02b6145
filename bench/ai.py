"""AI engine: online detector throughput on the water-flow series against a raw numpy rolling baseline."""

from __future__ import annotations

import time

import numpy as np

from iplus.engines.ai.online import online_detector, run_detector
from iplus.engines.ai.waterflow import load_series

REPEAT = 8


def _raw_zscores(values: list[float], window: int = 168, warmup: int = 24) -> list[float]:
    # the same robust z-score with numpy quantiles over a window slice, one reading at a time
    x = np.asarray(values)
    out = []
    for i in range(x.size):
        if i < warmup:
            out.append(0.0)
            continue
        q1, med, q3 = np.quantile(x[max(0, i - window) : i], [0.25, 0.5, 0.75])
        out.append(abs(x[i] - med) / max((q3 - q1) / 1.349, 1e-6))
    return out


def main() -> None:
    """Print readings per second of each detector beside the raw numpy baseline, as ratios."""
    _, values, _ = load_series()
    series = values.tolist() * REPEAT
    t = time.perf_counter()
    raw = _raw_zscores(series)
    raw_rate = len(series) / (time.perf_counter() - t)
    print(f"AI engine, online detectors over {len(series)} water-flow readings")
    print(f"  raw numpy rolling quantiles   {raw_rate:>10,.0f} readings/s")
    for kind in ("robust-zscore", "half-space-trees"):
        t = time.perf_counter()
        scores = run_detector(online_detector(kind, {}), series)
        rate = len(series) / (time.perf_counter() - t)
        print(f"  {kind:<28}  {rate:>10,.0f} readings/s  ratio {rate / raw_rate:.2f}")
        if kind == "robust-zscore":
            assert np.allclose(scores, raw, rtol=1e-9), "detector and baseline disagree"


if __name__ == "__main__":
    main()
