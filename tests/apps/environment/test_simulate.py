"""The demo network's simulated readings: replayed series in the right units and rows, published DO values.

Oracles: the shipped files read here with pandas (independently of the module's csv reading), APHA 4500-O's
table of oxygen solubility, and brute-force checks of the stacks' exceedance schedule.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from iplus.apps.environment import simulate
from iplus.apps.environment.network import AIR_STATIONS, EMITTERS, WATER_STATIONS
from iplus.apps.environment.simulate import CST

PVLIB = Path(pd.__file__).parents[1] / "pvlib" / "data" / "soiling_hsu_example_inputs.csv"


def _file() -> pd.DataFrame:
    frame = pd.read_csv(PVLIB, parse_dates=["TimeStamp"])
    assert len(frame) == 8760
    return frame


def test_pm_is_the_file_value_in_micrograms_at_the_same_hour_of_the_year() -> None:
    frame = _file()
    station = AIR_STATIONS[0]
    for when in ("2026-01-01T00:10", "2026-03-01T13:59", "2026-07-04T08:30", "2026-12-31T23:00"):
        local = dt.datetime.fromisoformat(when).replace(tzinfo=CST)
        row = frame[frame.TimeStamp == pd.Timestamp(local.replace(year=2015, minute=0, tzinfo=None))].iloc[0]
        values = simulate.air_values(station, local.timestamp())
        # pvlib's Hsu model takes g/m3: the station reports ug/m3
        assert values["pm2_5"] == pytest.approx(row.PM2_5 * 1e6, abs=1e-9)
        assert values["pm10"] == pytest.approx(row.PM10 * 1e6, abs=1e-9)


def test_a_station_offset_replays_a_later_part_of_the_year() -> None:
    frame = _file()
    station = next(s for s in AIR_STATIONS if s.offset_days)
    local = dt.datetime(2026, 5, 10, 14, 20, tzinfo=CST)
    later = local.replace(year=2015, minute=0, tzinfo=None) + dt.timedelta(days=station.offset_days)
    row = frame[frame.TimeStamp == pd.Timestamp(later)].iloc[0]
    assert simulate.air_values(station, local.timestamp())["pm2_5"] == pytest.approx(row.PM2_5 * 1e6)


def test_the_29th_of_february_replays_the_28th_and_the_year_wraps() -> None:
    leap = dt.datetime(2028, 2, 29, 5, 0, tzinfo=CST).timestamp()
    before = dt.datetime(2027, 2, 28, 5, 0, tzinfo=CST).timestamp()
    assert simulate.pm_row(leap) == simulate.pm_row(before) == (31 + 27) * 24 + 5
    last = dt.datetime(2026, 12, 31, 23, 0, tzinfo=CST).timestamp()
    assert simulate.pm_row(last) == 8759
    assert simulate.pm_row(last, offset_days=1) == 23  # on into the start of the year


def test_the_hourly_value_holds_for_the_whole_hour() -> None:
    station = AIR_STATIONS[1]
    start = dt.datetime(2026, 8, 1, 9, 0, tzinfo=CST).timestamp()
    first = simulate.air_values(station, start)
    for minute in (1, 17, 59):
        assert simulate.air_values(station, start + minute * 60) == first


@pytest.mark.parametrize(("temp", "published"), [(0, 14.621), (10, 11.288), (20, 9.092), (30, 7.559)])
def test_oxygen_saturation_matches_the_apha_table(temp: float, published: float) -> None:
    # APHA 4500-O Table 4500-O:I, fresh water at 101.325 kPa, three decimals
    assert simulate.do_saturation(temp) == pytest.approx(published, abs=0.0015)


def test_water_temperature_replays_the_buoy_at_the_same_time_of_year() -> None:
    sst = pd.read_csv(
        Path(pd.__file__).parents[1] / "bokeh_sampledata" / "_data" / "sea_surface_temperature.csv.gz",
        parse_dates=["time (UTC)"],
    )
    first = sst.iloc[0]
    assert first["time (UTC)"] == pd.Timestamp("2016-02-15T00:00:00Z")
    at = dt.datetime(2026, 2, 15, 0, 40, tzinfo=dt.UTC).timestamp()  # the row of 00:30 is in force
    assert simulate.water_temperature(at) == pytest.approx(sst.iloc[1]["temperature (celsius)"])
    january = dt.datetime(2027, 1, 10, 12, 0, tzinfo=dt.UTC).timestamp()  # before 15 February: from 2017
    row = sst[sst["time (UTC)"] == pd.Timestamp("2017-01-10T12:00:00Z")].iloc[0]
    assert simulate.water_temperature(january) == pytest.approx(row["temperature (celsius)"])
    station = WATER_STATIONS[0]
    values = simulate.water_values(station, january)
    ratio = values["dissolved_oxygen"] / simulate.do_saturation(values["water_temperature"])
    assert 0.7 < ratio < 1.05  # below saturation, with a daily photosynthesis cycle


def test_stacks_exceed_in_turn_and_only_during_their_episode() -> None:
    ids = [e.id for e in EMITTERS]
    start = 1_800_000_000 - 1_800_000_000 % simulate.EPISODE_EVERY_S
    seen = set()
    for slot in range(len(ids) * 3):
        base = start + slot * simulate.EPISODE_EVERY_S
        assert simulate.episode(ids, base + simulate.EPISODE_AT_S - 1) is None
        assert simulate.episode(ids, base + simulate.EPISODE_AT_S + simulate.EPISODE_S) is None
        hot = simulate.episode(ids, base + simulate.EPISODE_AT_S)
        assert hot is not None
        seen.add(hot)
    assert seen == {(e, p) for e in ids for p in ("so2", "nox", "dust")}  # every stack, every pollutant
    for emitter in EMITTERS:
        limits = emitter.permit.as_attributes()
        for t in range(start, start + 6 * 3600, 97):  # every 97 s over six hours
            hot = simulate.episode(ids, t)
            values = simulate.emitter_values(
                emitter, limits, t, hot[1] if hot and hot[0] == emitter.id else None
            )
            for key in ("so2", "nox", "dust"):
                above = values[key] > limits[f"{key}_limit"]
                assert above == (hot == (emitter.id, key)), (emitter.id, key, t)
