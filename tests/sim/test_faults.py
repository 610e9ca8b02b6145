"""Faults land exactly in their windows; Poisson faults and dropouts happen at their rates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from iplus.access.sim.faults import Dropout, Gap, Offset, OutOfRange, Spike, Stuck, When

ORIGIN = 1_700_000_000.0
T = ORIGIN + np.arange(0, 1000, 10.0)  # a sample every 10 s, elapsed 0..990
X = np.arange(100, dtype=float)  # value = index, so every change is visible


def apply(
    fault: Stuck | Spike | Offset | OutOfRange, t: np.ndarray = T, x: np.ndarray = X, seed: int = 0
) -> np.ndarray:
    return fault.start(np.random.default_rng(seed), ORIGIN)(t, x)


def changed(y: np.ndarray) -> list[int]:
    return np.flatnonzero(y != X).tolist()


def test_stuck_holds_the_last_value_before_its_window() -> None:
    y = apply(Stuck(start_s=100, duration_s=50))
    assert changed(y) == [10, 11, 12, 13, 14]  # elapsed 100..140 s
    assert y[10:15].tolist() == [9.0] * 5


def test_stuck_at_a_given_value() -> None:
    y = apply(Stuck(start_s=100, duration_s=50, value=42.0))
    assert changed(y) == [10, 11, 12, 13, 14]
    assert y[10:15].tolist() == [42.0] * 5


def test_zero_length_spike_hits_exactly_the_first_sample_at_or_after_its_start() -> None:
    y = apply(Spike(start_s=205, magnitude=100.0))
    assert changed(y) == [21]
    assert y[21] == 121.0


def test_offset_step_covers_its_window() -> None:
    y = apply(Offset(start_s=300, duration_s=100, magnitude=5.0))
    assert changed(y) == list(range(30, 40))
    np.testing.assert_array_equal(y[30:40] - X[30:40], 5.0)


def test_out_of_range_values() -> None:
    y = apply(OutOfRange(start_s=500, duration_s=20, value=-999.0))
    assert np.flatnonzero(y == -999.0).tolist() == [50, 51]
    assert changed(y) == [50, 51]


def test_stuck_window_across_chunks_equals_one_shot() -> None:
    whole = apply(Stuck(start_s=100, duration_s=200))
    step = Stuck(start_s=100, duration_s=200).start(np.random.default_rng(0), ORIGIN)
    parts = np.concatenate([step(T[:15], X[:15]), step(T[15:16], X[15:16]), step(T[16:], X[16:])])
    np.testing.assert_array_equal(parts, whole)
    assert np.flatnonzero(whole == 9.0).tolist() == list(range(9, 30))


def test_poisson_spikes_at_their_rate() -> None:
    hours, rate = 200, 6.0
    t = ORIGIN + np.arange(0, hours * 3600, 1.0)
    y = Spike(rate_per_h=rate, magnitude=1.0).start(np.random.default_rng(4), ORIGIN)(t, np.zeros(t.size))
    expected = hours * rate
    assert abs(int(y.sum()) - expected) < 5 * math.sqrt(expected)


def test_poisson_windows_chunked_equal_one_shot() -> None:
    fault = OutOfRange(rate_per_h=20.0, duration_s=120.0, value=1.0)
    t = ORIGIN + np.arange(0, 36_000, 7.0)
    x = np.zeros(t.size)
    whole = fault.start(np.random.default_rng(8), ORIGIN)(t, x)
    step = fault.start(np.random.default_rng(8), ORIGIN)
    parts = np.concatenate([step(t[i : i + 97], x[i : i + 97]) for i in range(0, t.size, 97)])
    np.testing.assert_array_equal(parts, whole)
    assert 0 < whole.sum() < t.size


def test_dropout_fraction_within_binomial_tolerance() -> None:
    n, p = 100_000, 0.1
    keep = Dropout(fraction=p).start(np.random.default_rng(12), ORIGIN)(ORIGIN + np.arange(n, dtype=float))
    dropped = int((~keep).sum())
    assert abs(dropped - n * p) < 5 * math.sqrt(n * p * (1 - p))


def test_dropout_gap_of_given_length() -> None:
    keep = Dropout(gaps=(Gap(start_s=100, duration_s=60),)).start(np.random.default_rng(0), ORIGIN)(T)
    assert np.flatnonzero(~keep).tolist() == list(range(10, 16))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"start_s": 1.0, "rate_per_h": 1.0}, {"rate_per_h": 0.0}, {"start_s": 0.0, "duration_s": -1.0}],
)
def test_when_needs_exactly_one_valid_schedule(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        When(**kwargs)


def test_dropout_fraction_must_be_a_probability() -> None:
    with pytest.raises(ValueError):
        Dropout(fraction=1.0)
