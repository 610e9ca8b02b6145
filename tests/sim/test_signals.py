"""Signal components against their analytical properties; same seed, same series."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from iplus.access.sim.signals import Constant, Daily, Drift, Markov, Noise, RandomWalk, sample

ORIGIN = 1_700_000_000.0  # 2023-11-14T22:13:20Z
MIDNIGHT = 1_699_920_000.0  # 2023-11-14T00:00:00Z


def test_daily_cycle_equals_closed_form_and_peaks_at_phase() -> None:
    t = MIDNIGHT + np.arange(0, 2 * 86_400, 60.0)
    x = sample(Daily(mean=20.0, amplitude=3.0, phase_h=15.0), t)
    expected = 20.0 + 3.0 * np.cos(2 * math.pi * (t - 15 * 3600) / 86_400)
    np.testing.assert_allclose(x, expected, atol=1e-9)
    peaks = t[x > 20.0 + 3.0 - 1e-9]
    assert {round((p % 86_400) / 3600, 6) for p in peaks} == {15.0}
    np.testing.assert_allclose(
        sample(Daily(mean=20.0, amplitude=3.0), t + 86_400), sample(Daily(mean=20.0, amplitude=3.0), t)
    )


def test_daily_cycle_fit_recovers_period_amplitude_and_phase_under_noise() -> None:
    t = ORIGIN + np.arange(0, 10 * 86_400, 3600.0)
    x = sample(Daily(mean=12.0, amplitude=4.0, phase_h=6.0), t) + sample(Noise(sigma=0.5), t, seed=3)
    # the dominant period, by FFT over whole days
    spectrum = np.abs(np.fft.rfft(x - x.mean()))
    freqs = np.fft.rfftfreq(t.size, d=3600.0)
    assert 1 / freqs[np.argmax(spectrum)] == pytest.approx(86_400.0)
    # least squares on [1, cos, sin] at 24 h gives mean, amplitude and the phase
    w = 2 * math.pi / 86_400
    design = np.column_stack([np.ones_like(t), np.cos(w * t), np.sin(w * t)])
    (mean, a, b), *_ = np.linalg.lstsq(design, x, rcond=None)
    assert mean == pytest.approx(12.0, abs=0.1)
    assert math.hypot(a, b) == pytest.approx(4.0, abs=0.15)
    assert (math.atan2(b, a) / w / 3600) % 24 == pytest.approx(6.0, abs=0.15)


def test_noise_sigma_and_mean_within_tolerance() -> None:
    n, sigma = 200_000, 2.5
    x = sample(Noise(sigma=sigma), np.arange(n, dtype=float), seed=11)
    se_std = sigma / math.sqrt(2 * n)
    assert abs(x.std(ddof=1) - sigma) < 5 * se_std
    assert abs(x.mean()) < 5 * sigma / math.sqrt(n)


def test_drift_is_linear_per_day_from_the_origin() -> None:
    t = ORIGIN + np.linspace(0, 5 * 86_400, 101)
    x = sample(Drift(per_day=-0.4), t, origin=ORIGIN)
    np.testing.assert_allclose(x, -0.4 * (t - ORIGIN) / 86_400)
    assert x[-1] == pytest.approx(-2.0)


def test_constant() -> None:
    assert sample(Constant(value=7.5), np.arange(3.0)).tolist() == [7.5, 7.5, 7.5]


def test_random_walk_increment_variance_scales_with_time_step() -> None:
    n, dt, sigma_h = 100_000, 60.0, 1.2
    x = sample(RandomWalk(sigma_h=sigma_h, initial=5.0), ORIGIN + np.arange(n) * dt, seed=5)
    assert x[0] == 5.0
    expected = sigma_h**2 * dt / 3600
    var = np.diff(x).var(ddof=1)
    assert abs(var - expected) < 5 * expected * math.sqrt(2 / n)


def test_bounded_random_walk_stays_in_its_band() -> None:
    x = sample(RandomWalk(sigma_h=5.0, low=-1.0, high=1.0), np.arange(20_000) * 60.0, seed=2)
    assert x.min() >= -1.0 and x.max() <= 1.0
    assert x.min() < -0.9 and x.max() > 0.9  # it does reach the edges


def test_markov_chain_time_fractions_and_dwell_times() -> None:
    chain = Markov(states=("closed", "open"), dwell_s=(600.0, 60.0))
    step_s = 5.0
    t = ORIGIN + np.arange(0, 60 * 86_400, step_s)
    values = chain.start(np.random.default_rng(9), ORIGIN)(t)
    is_open = np.array([v == "open" for v in values])
    assert set(values) == {"closed", "open"}
    assert is_open.mean() == pytest.approx(60 / 660, rel=0.1)
    edges = np.diff(np.concatenate(([0], is_open.astype(int), [0])))
    runs = (np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)) * step_s
    assert runs.mean() == pytest.approx(60.0, rel=0.1)


def test_markov_with_transition_matrix_and_typed_states() -> None:
    chain = Markov(
        states=(0, 1, 2), dwell_s=(10.0, 10.0, 10.0), transitions=((0, 1, 0), (0, 0, 1), (1, 0, 0))
    )
    values = chain.start(np.random.default_rng(1), 0.0)(np.arange(0, 3000, 0.05))
    assert set(values) == {0, 1, 2}
    changes = [(a, b) for a, b in itertools.pairwise(values) if a != b]
    allowed = [c for c in changes if c in {(0, 1), (1, 2), (2, 0)}]
    # the matrix allows only the cycle; two jumps between samples (rare at this sampling) look like skips
    assert len(changes) > 200 and len(allowed) / len(changes) > 0.98


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Noise(sigma=-1.0),
        lambda: RandomWalk(low=1.0, high=0.0),
        lambda: Markov(states=("a",), dwell_s=(1.0,)),
        lambda: Markov(states=("a", "b"), dwell_s=(1.0, 0.0)),
        lambda: Markov(states=("a", "b"), dwell_s=(1.0, 1.0), transitions=((0.5, 0.5), (1.0, 0.0))),
    ],
)
def test_invalid_components_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        bad()  # type: ignore[operator]


@pytest.mark.parametrize(
    "component", [Noise(sigma=1.0), RandomWalk(sigma_h=2.0), RandomWalk(sigma_h=2.0, low=-1.0, high=1.0)]
)
def test_same_seed_same_series_other_seed_other_series(component: Noise | RandomWalk) -> None:
    t = np.arange(1000) * 10.0
    assert np.array_equal(sample(component, t, seed=42), sample(component, t, seed=42))
    assert not np.array_equal(sample(component, t, seed=42), sample(component, t, seed=43))


@pytest.mark.parametrize(
    "component", [Noise(sigma=1.0), RandomWalk(sigma_h=2.0), RandomWalk(sigma_h=2.0, low=-1.0, high=1.0)]
)
def test_chunked_generation_equals_one_shot(component: Noise | RandomWalk) -> None:
    t = np.arange(1000, dtype=np.float64) * np.float64(10.0)
    whole = component.start(np.random.default_rng(7), 0.0)(t)
    step = component.start(np.random.default_rng(7), 0.0)
    parts = np.concatenate([step(t[:1]), step(t[1:333]), step(t[333:334]), step(t[334:])])
    np.testing.assert_allclose(parts, whole)
