"""CGM metrics against hand calculations and an independent computation on the real series."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest

from iplus.apps.health import cgm
from iplus.apps.registry import register_algorithms
from iplus.core.errors import InvalidInput
from iplus.platform.knowledge.algorithms import AlgorithmRegistry


def test_six_readings_by_hand() -> None:
    # one reading in each range and one more in range: 50 | 60 | 100, 150 | 200 | 300
    m = cgm.metrics([50, 60, 100, 150, 200, 300])
    mean = 860 / 6  # 143.333...
    assert m["mean_glucose"] == pytest.approx(143.33333333333334, rel=1e-15)
    # sample SD: squared deviations 8711.11, 6944.44, 1877.78, 44.44, 3211.11, 24544.44 -> sum 45333.33 / 5
    assert m["sd"] == pytest.approx((45333.333333333336 / 5) ** 0.5, rel=1e-12)
    assert m["sd"] == pytest.approx(95.21904571390466, rel=1e-12)
    assert m["cv"] == pytest.approx(100 * 95.21904571390466 / mean, rel=1e-12)
    assert m["gmi"] == pytest.approx(3.31 + 0.02392 * mean, rel=1e-15)  # 6.738533...
    assert m["gmi"] == pytest.approx(6.7385333, abs=1e-6)
    assert m["time_below_54"] == pytest.approx(100 / 6)
    assert m["time_54_69"] == pytest.approx(100 / 6)
    assert m["time_in_range"] == pytest.approx(200 / 6)
    assert m["time_181_250"] == pytest.approx(100 / 6)
    assert m["time_above_250"] == pytest.approx(100 / 6)
    assert m["time_below_70"] == pytest.approx(200 / 6) and m["time_above_180"] == pytest.approx(200 / 6)


@pytest.mark.parametrize(
    ("glucose", "band"),
    [
        (53, "below_54"),
        (54, "from_54_to_69"),
        (69, "from_54_to_69"),
        (70, "in_range"),
        (180, "in_range"),
        (181, "from_181_to_250"),
        (250, "from_181_to_250"),
        (251, "above_250"),
        (69.9, "from_54_to_69"),
        (180.1, "from_181_to_250"),
    ],
)
def test_consensus_range_edges(glucose: float, band: str) -> None:
    assert cgm.band(glucose) == band


def test_gmi_published_points() -> None:
    # Bergenstal 2018, Table 1: mean glucose 100 mg/dL -> GMI 5.7 %; 150 -> 6.9 %; 200 -> 8.1 %; 250 -> 9.3 %
    for mean, published in ((100, 5.7), (150, 6.9), (200, 8.1), (250, 9.3)):
        assert round(cgm.gmi(mean), 1) == published


def test_targets_standard_and_older() -> None:
    in_range = [120.0] * 96 + [60.0] * 3 + [50.0] * 1  # TIR 96 %, TBR 4 %, TBR<54 1 %
    standard = cgm.metrics(in_range)["meets"]
    assert standard["time_in_range"] and not standard["time_below_70"] and not standard["time_below_54"]
    older = cgm.metrics(in_range, "older_high_risk")["meets"]
    assert older["time_in_range"] and not older["time_below_70"]
    assert cgm.metrics([100.0, 120.0] * 10, "older_high_risk")["meets"] == {
        "time_in_range": True,
        "time_below_70": True,
        "time_above_250": True,
        "cv": True,
    }


def test_bad_input_lists_every_problem() -> None:
    with pytest.raises(ValueError, match=r"at least 2.*targets"):
        cgm.metrics([100], "nonsense")


def test_registered_algorithm_gives_the_pure_function() -> None:
    registry = AlgorithmRegistry()
    register_algorithms(registry)
    values = [55, 70, 180, 181, 251, 99.5]
    out = registry.invoke("health.cgm_metrics", {"glucose": values, "targets": "standard"}).outputs
    assert out == cgm.metrics(values)
    with pytest.raises(InvalidInput) as exc:
        registry.invoke("health.cgm_metrics", {"glucose": [0, -3], "targets": "x"})
    assert any("/glucose" in str(e) for e in exc.value.extra["errors"])


def test_real_series_per_day_matches_an_independent_computation() -> None:
    series = cgm.sample_series()
    assert len(series) == 52281
    days = cgm.periods(series, "day")
    assert len(days) == 200
    by_day: dict[str, list[float]] = {}
    for ts, g in series:
        by_day.setdefault(ts.date().isoformat(), []).append(g)
    for d in days[::17]:
        values = by_day[d["start"]]
        mean = statistics.fmean(values)
        assert d["readings"] == len(values)
        assert d["mean_glucose"] == pytest.approx(mean, rel=1e-12)
        assert d["sd"] == pytest.approx(statistics.stdev(values), rel=1e-9)
        assert d["gmi"] == pytest.approx(3.31 + 0.02392 * mean, rel=1e-12)
        assert d["time_in_range"] == pytest.approx(100 * sum(70 <= v <= 180 for v in values) / len(values))
        assert d["time_below_54"] == pytest.approx(100 * sum(v < 54 for v in values) / len(values))
        assert d["time_above_250"] == pytest.approx(100 * sum(v > 250 for v in values) / len(values))
    full = next(d for d in days if d["start"] == "2010-03-25")  # 288 readings, one every 5 minutes
    assert full["readings"] == 288 and full["coverage"] == 1.0 and full["sufficient"]
    overlap = next(d for d in days if d["start"] == "2010-05-29")  # two sensors at once: slots count once
    assert overlap["readings"] == 407 and overlap["coverage"] <= 1.0


def test_weeks_start_on_monday_and_coverage_counts_slots() -> None:
    start = datetime(2026, 3, 4, tzinfo=UTC)  # a Wednesday
    series = [(start + timedelta(minutes=5 * i), 100.0 + (i % 3)) for i in range(288 * 2)]
    weeks = cgm.periods(series, "week")
    assert [w["start"] for w in weeks] == ["2026-03-02"]
    assert weeks[0]["coverage"] == pytest.approx(2 / 7)
    assert not weeks[0]["sufficient"]


def test_trend_is_the_least_squares_slope_of_sufficient_days() -> None:
    start = datetime(2026, 1, 5, tzinfo=UTC)
    series = []
    for day in range(10):
        # the day's readings average 120 + 3 * day; every 5-minute slot is filled
        for i in range(288):
            series.append(
                (start + timedelta(days=day, minutes=5 * i), 120.0 + 3 * day + (10 if i % 2 else -10))
            )
    # one sparse day (10 readings) far off the line: not sufficient, so left out of the trend
    series += [(start + timedelta(days=10, minutes=5 * i), 400.0) for i in range(10)]
    daily = cgm.periods(series, "day")
    assert [d["sufficient"] for d in daily] == [True] * 10 + [False]
    t = cgm.trend(daily)
    assert t["days"] == 10 and t["mean_glucose_per_day"] == pytest.approx(3.0, rel=1e-12)
    assert t["time_in_range_per_week"] == pytest.approx(0.0, abs=1e-9) and t["direction"] == "stable"
    assert cgm.trend([])["direction"] == "unknown"
    assert cgm.slope([(0, 1), (1, 3), (2, 5)]) == pytest.approx(2.0)
    assert cgm.slope([(1, 1), (1, 2)]) is None
