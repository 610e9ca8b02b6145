"""Replayed series hold exactly the files' own values, read independently here with the csv module."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import numpy as np
import pytest

from iplus.access.sim import RunOptions, generate_devices, load_profile, simulate
from iplus.access.sim.replay import load, package_file

from .conftest import Recorder

TMY3_COLUMNS = {
    "ghi": "GHI (W/m^2)",
    "dni": "DNI (W/m^2)",
    "dhi": "DHI (W/m^2)",
    "temp_air": "Dry-bulb (C)",
    "relative_humidity": "RHum (%)",
    "wind_speed": "Wspd (m/s)",
    "pressure": "Pressure (mbar)",
}


def tmy3_rows() -> list[dict[str, str]]:
    with package_file("pvlib", "data", "723170TYA.CSV").open(newline="") as handle:
        next(handle)  # the site line comes before the header
        return list(csv.DictReader(handle))


def water_rows() -> list[dict[str, str]]:
    with package_file("river", "datasets", "water-flow.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_tmy3_has_8760_rows_equal_to_the_file() -> None:
    series, rows = load("tmy3"), tmy3_rows()
    assert len(series) == len(rows) == 8760
    assert series.step_s == 3600.0 and series.period_s == 8760 * 3600.0
    for i in (0, 1, 12, 4000, 4380, 8759):
        for name, column in TMY3_COLUMNS.items():
            assert series.columns[name][i] == float(rows[i][column]), (i, name)
    # original times: TMY3 says hour 01:00 local standard time (UTC-5) for the first row
    assert datetime.fromtimestamp(series.epochs[0], UTC) == datetime(1988, 1, 1, 6, tzinfo=UTC)


def test_water_flow_rows_equal_to_the_file() -> None:
    series, rows = load("water-flow"), water_rows()
    assert len(series) == len(rows) == 1268
    np.testing.assert_array_equal(
        series.columns["Water flow [l/s]"], [float(r["Water flow [l/s]"]) for r in rows]
    )
    np.testing.assert_array_equal(
        series.epochs, [datetime.fromisoformat(r["Time"]).timestamp() for r in rows]
    )


def test_sample_and_hold_and_loop() -> None:
    series = load("water-flow")
    flow = series.columns["Water flow [l/s]"]
    assert series.values("Water flow [l/s]", [0.0, 3599.0, 3600.0]).tolist() == [flow[0], flow[0], flow[1]]
    rows, loops = series.rows([series.period_s, series.period_s + 3600.0])
    assert rows.tolist() == [0, 1] and loops.tolist() == [1, 1]
    assert series.row_elapsed([len(series) + 1]).tolist() == [series.period_s + series.offsets[1]]


async def test_row_pace_replays_rows_in_order_with_original_times_and_device_offsets(
    recorder: Recorder,
) -> None:
    rows = water_rows()
    options = RunOptions(rate=2000, count=2 * 30, timestamps="original", offset_s=10 * 3600.0, seed=1)
    stats = await simulate(generate_devices(2), load_profile("water-flow"), recorder, options)
    assert stats.sent == 60 and stats.failed == stats.dropped == 0
    for device, first_row in (("sim-0001", 0), ("sim-0002", 10)):
        mine = [m for m in recorder.messages if m.device_id == device]
        assert [m.values["flow"] for m in mine] == [
            float(r["Water flow [l/s]"]) for r in rows[first_row : first_row + 30]
        ]
        stamps = [
            datetime.fromisoformat(r["Time"]).astimezone(UTC).isoformat(timespec="milliseconds")
            for r in rows[first_row : first_row + 30]
        ]
        assert [m.iso_ts for m in mine] == stamps
        assert len({m.msg_id for m in mine}) == 30


async def test_weather_replay_sends_the_tmy3_rows(recorder: Recorder) -> None:
    rows = tmy3_rows()
    await simulate(generate_devices(1), load_profile("weather"), recorder, RunOptions(rate=5000, count=48))
    for i, message in enumerate(recorder.messages):
        assert message.values["ghi"] == float(rows[i]["GHI (W/m^2)"])
        assert message.values["temp_air"] == float(rows[i]["Dry-bulb (C)"])
        assert message.values["pressure"] == pytest.approx(100 * float(rows[i]["Pressure (mbar)"]))
        assert set(message.values) == set(TMY3_COLUMNS)


async def test_time_pace_samples_the_series_at_simulated_time(recorder: Recorder) -> None:
    rows = water_rows()
    # one device at 100 msg/s and speed 36000: each message is 360 simulated seconds on, ten per hourly row
    options = RunOptions(rate=100, count=40, speed=36_000.0, timestamps="original")
    await simulate(generate_devices(1), load_profile("water-flow"), recorder, options)
    got = [m.values["flow"] for m in recorder.messages]
    expected = [float(rows[(j * 360) // 3600]["Water flow [l/s]"]) for j in range(40)]
    assert got == expected
