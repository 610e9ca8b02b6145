"""Daily aggregates of a station's hours, the ET0 inputs they make, and the TMY3 typical year as replayed."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from iplus.access.sim.replay import TMY3_FILE, package_file
from iplus.apps.agriculture.station import complete_days, group_days, pick_day
from iplus.apps.agriculture.weather import HourObs, daily, et0_inputs, typical_year
from iplus.core.errors import InvalidInput
from iplus.infra.telemetry import Reading

EST = timezone(timedelta(hours=-5))


def hour(h: int, day: int = 6, **values: float) -> HourObs:
    base = {"t_air": 20.0, "rh": 60.0, "wind_speed": 2.0, "solar_radiation": 0.0, "rain": 0.0} | values
    observed = datetime(2026, 7, day, h, tzinfo=EST)
    return HourObs(observed, observed.astimezone(UTC), **base)


def test_daily_aggregates_against_brute_force() -> None:
    hours = [
        hour(
            h,
            t_air=10 + h,
            rh=90 - 2 * h,
            wind_speed=h / 10,
            solar_radiation=max(0.0, 800 - 60 * abs(h - 12)),
            rain=0.2 * (h % 3 == 0),
        )
        for h in range(24)
    ]
    d = daily(hours)
    assert (d.day, d.hours, d.t_max, d.t_min, d.rh_max, d.rh_min) == (date(2026, 7, 6), 24, 33, 10, 90, 44)
    assert d.wind_speed == pytest.approx(sum(h / 10 for h in range(24)) / 24)
    # Rs: each hour's mean irradiance (W m-2) for 3600 s, summed, in MJ m-2
    energy = sum(max(0.0, 800 - 60 * abs(h - 12)) * 3600 for h in range(24)) / 1e6
    assert d.solar_radiation == pytest.approx(energy)
    assert d.precipitation == pytest.approx(0.2 * 8)
    assert d.first_ts == hours[0].ts and d.last_ts == hours[-1].ts
    # a constant 500 W m-2 all day is 43.2 MJ m-2; a missing hour does not shrink the day's mean
    assert daily([hour(h, solar_radiation=500) for h in range(24)]).solar_radiation == pytest.approx(43.2)
    assert daily([hour(h, solar_radiation=500) for h in range(21)]).solar_radiation == pytest.approx(43.2)


def test_daily_refuses_short_or_mixed_days() -> None:
    with pytest.raises(InvalidInput, match="has 19 hourly observations; at least 20"):
        daily([hour(h) for h in range(19)])
    with pytest.raises(InvalidInput, match="exactly one date"):
        daily([hour(h) for h in range(24)] + [hour(0, day=7)])


def test_et0_inputs_of_a_day() -> None:
    d = daily([hour(h, t_air=12.3 if h < 12 else 21.5, rh=84 if h < 12 else 63) for h in range(24)])
    inputs = et0_inputs(d, latitude=50.8, altitude=100, wind_height=10)
    assert inputs == {
        "mode": "daily",
        "latitude": 50.8,
        "altitude": 100,
        "day_of_year": 187,
        "t_max": 21.5,
        "t_min": 12.3,
        "rh_max": 84,
        "rh_min": 63,
        "wind_speed": 2.0,
        "wind_height": 10,
        "solar_radiation": 0.0,
    }


def readings(obs: list[HourObs], *, drop: str | None = None) -> list[Reading]:
    out = []
    for o in obs:
        values = {
            "t_air": o.t_air,
            "rh": o.rh,
            "wind_speed": o.wind_speed,
            "solar_radiation": o.solar_radiation,
            "rain": o.rain,
            "observed": o.observed.isoformat(),
        }
        out += [Reading("st", k, o.ts, v) for k, v in values.items() if k != drop]
    return out


def test_station_readings_grouped_by_local_date_resends_once_incomplete_messages_skipped() -> None:
    day6 = [hour(h) for h in range(24)]
    day7 = [hour(h, day=7) for h in range(21)]
    resent = HourObs(day6[5].observed, day6[5].ts + timedelta(hours=3, seconds=17), 30.0, 50.0, 1.0, 0.0, 0.0)
    rows = readings(day6 + day7) + readings([resent]) + readings([hour(22, day=7)], drop="rain")
    days = group_days(rows)
    assert sorted(days) == [date(2026, 7, 6), date(2026, 7, 7)]
    assert len(days[date(2026, 7, 6)]) == 24 and days[date(2026, 7, 6)][5].t_air == 30.0  # the later arrival
    assert len(days[date(2026, 7, 7)]) == 21  # the message without rain is not an observation
    # the 7th is the newest and has 21 of 24 hours: still coming in
    assert complete_days(days) == [date(2026, 7, 6)] and pick_day(days) == date(2026, 7, 6)
    assert pick_day(days, date(2026, 7, 7)) == date(2026, 7, 7)  # asked for explicitly: 21 >= 20 is enough
    days[date(2026, 7, 8)] = [hour(0, day=8)]
    assert complete_days(days) == [date(2026, 7, 6), date(2026, 7, 7)]
    with pytest.raises(InvalidInput) as err:
        pick_day(days, date(2026, 7, 8))
    assert err.value.extra["errors"] == ["/day: 2026-07-08 is not covered by the station's stored hours"]
    with pytest.raises(InvalidInput, match="no complete day"):
        pick_day({date(2026, 7, 8): [hour(0, day=8)]})


def test_the_typical_year_as_replayed_against_the_file_read_directly() -> None:
    path = package_file("pvlib", "data", TMY3_FILE)
    with path.open(newline="") as handle:
        lines = list(csv.reader(handle))
    header, rows = lines[1], lines[2:]
    col = {name: i for i, name in enumerate(header)}
    year = typical_year()
    assert len(year.rows) == len(rows) == 8760
    assert (year.latitude, year.longitude, year.altitude, year.utc_offset_h) == (36.1, -79.95, 273.0, -5.0)
    first, last = year.rows[0], year.rows[-1]
    assert rows[0][col["Date (MM/DD/YYYY)"]].startswith("01/01/") and rows[0][col["Time (HH:MM)"]] == "01:00"
    assert (first.month, first.day, first.hour) == (1, 1, 0)  # the hour ending 01:00 starts at 00:00
    assert (last.month, last.day, last.hour) == (12, 31, 23)  # the hour ending 24:00 is still the 31st
    assert first.t_air == float(rows[0][col["Dry-bulb (C)"]]) and first.ghi == float(
        rows[0][col["GHI (W/m^2)"]]
    )
    # rain: the file's column in tenths of a millimetre
    tenths = [float(r[col["Lprecip depth (mm)"]]) for r in rows]
    assert sum(r.rain for r in year.rows) == pytest.approx(sum(tenths) / 10)
    assert sum(tenths) / 10 == pytest.approx(834.5)
    july1 = year.index_of(7, 1)
    assert [year.rows[july1 + h].hour for h in range(24)] == list(range(24))
    assert year.observed(july1, 2026) == datetime(2026, 7, 1, 0, tzinfo=EST)
    assert year.observed(8760 + july1, 2026) == datetime(2027, 7, 1, 0, tzinfo=EST)
