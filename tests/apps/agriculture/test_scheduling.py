"""Irrigation decisions on a started platform: station telemetry -> ET0 -> balance -> a valve command.

Oracles: FAO-56 Example 18 (ET0 3.9 mm/day from its daily weather) and the chapter 8 equations worked by
hand in the test on the decision's own ET0.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from iplus.apps.agriculture.fields import FieldParams
from iplus.core.errors import InvalidInput
from tests.apps.agriculture.conftest import (
    EXAMPLE_18,
    T0,
    Farmland,
    example_18_hours,
    make_farm,
    station_day,
    until,
    valve_on_the_wire,
)

PARAMS = FieldParams(0.30, 0.12, 0.5, 0.5, 1.1, efficiency=0.8, application_rate=10.0, crop="maize")
DAY = date(2026, 7, 6)  # J = 187, as in Example 18


def by_hand(
    et0: float, kc: float, dr_prev: float, p_table: float, taw: float, water: float
) -> dict[str, float]:
    """FAO-56 Eqs. 80-88 and Table 22's p adjustment, worked step by step."""
    etc = kc * et0
    p = min(0.8, max(0.1, p_table + 0.04 * (5 - etc)))
    raw = p * taw
    ks = (taw - dr_prev) / ((1 - p) * taw) if dr_prev > raw else 1.0
    etc_adj = ks * etc
    dp = max(0.0, water - etc_adj - dr_prev)
    dr = max(0.0, dr_prev - water + etc_adj + dp)
    return {"p": p, "raw": raw, "ks": ks, "etc_adj": etc_adj, "dp": dp, "dr": dr}


async def test_a_day_of_station_weather_gives_example_18_et0_and_commands_the_valve(land: Farmland) -> None:
    _, field_id = await make_farm(land, PARAMS)
    await land.write("probe-1", {"soil_moisture": 0.19, "soil_temperature": 18.0}, T0 - timedelta(minutes=5))
    await land.write(
        "probe-1", {"soil_moisture": 0.30}, T0 + timedelta(hours=2)
    )  # after the day began: unused
    await station_day(land, DAY, example_18_hours(), T0)
    seen: list[dict[str, Any]] = []

    async def valve(command: dict[str, Any]) -> dict[str, Any]:
        seen.append(command)
        return {"opened": True}

    async with valve_on_the_wire(land, valve):
        decision = await land.agri.scheduler.decide(land.p, field_id)

        async def answered() -> bool:
            command = await land.agri.scheduler.command_of(land.p, decision)
            return command is not None and command.status == "acknowledged"

        await until(answered)
    w = decision.weather
    assert (decision.day, w["hours"], w["t_max"], w["t_min"], w["rh_max"], w["rh_min"]) == (
        "2026-07-06",
        24,
        21.5,
        12.3,
        84.0,
        63.0,
    )
    assert w["wind_speed"] == pytest.approx(10 / 3.6) and w["solar_radiation"] == pytest.approx(
        EXAMPLE_18["rs"]
    )
    et0 = decision.et0
    assert et0["day_of_year"] == 187 and et0["wind_height"] == 10.0
    assert et0["u2"] == pytest.approx(2.078, abs=0.001)  # Example 18: 2.078 m/s at 2 m
    assert et0["rso"] == pytest.approx(30.90, abs=0.01) and et0["rnl"] == pytest.approx(3.71, abs=0.01)
    assert et0["et0"] == pytest.approx(3.9, abs=0.05)
    # Dr,i-1 from the probe's last reading before the day: 1000 (0.30 - 0.19) 0.5 = 55 mm
    source = decision.inputs["depletion_source"]
    assert source["kind"] == "probe" and source["theta"] == 0.19
    assert decision.inputs["depletion_previous"] == pytest.approx(55.0)
    taw = 1000 * (0.30 - 0.12) * 0.5
    hand = by_hand(et0["et0"], 1.1, 55.0, 0.5, taw, 0.0)
    b = decision.balance
    assert b["taw"] == pytest.approx(taw) and b["raw"] == pytest.approx(hand["raw"])
    assert b["ks"] == pytest.approx(hand["ks"]) and b["ks"] < 1
    assert b["depletion"] == pytest.approx(hand["dr"]) and hand["dr"] >= hand["raw"]
    assert decision.irrigate and decision.net_irrigation == pytest.approx(hand["dr"])
    assert decision.gross_irrigation == pytest.approx(round(hand["dr"] / 0.8, 1))
    assert decision.duration_min == pytest.approx(decision.gross_irrigation / 10 * 60)
    assert decision.inputs["algorithms"] == {
        "agriculture.et0_fao56": "1.0.0",
        "agriculture.irrigation_fao56": "1.0.0",
    }
    [command] = seen
    assert command["action"] == "open" and command["input"] == {"depth_mm": decision.gross_irrigation}
    # asked again: the same decision, no second command
    again = await land.agri.scheduler.decide(land.p, field_id, DAY)
    assert again.id == decision.id and len(seen) == 1


async def test_the_next_day_carries_the_depletion_and_counts_rain_and_delivered_water(land: Farmland) -> None:
    _, field_id = await make_farm(land, PARAMS)
    await land.write("probe-1", {"soil_moisture": 0.19}, T0 - timedelta(minutes=5))
    await station_day(land, DAY, example_18_hours(), T0)
    first = await land.agri.scheduler.decide(land.p, field_id, DAY, trigger="schedule")
    assert first.irrigate and first.trigger == "schedule"  # no valve answers here: the command times out
    rainy = example_18_hours()
    for h in range(5):
        rainy[h]["rain"] = 2.0
    second_start = T0 + timedelta(hours=1)
    await station_day(land, DAY + timedelta(days=1), rainy, second_start)
    # the valve delivered during the second day (and once before it, which belongs to the first)
    await land.write("valve-1", {"state": "open", "delivered": 30.0}, second_start + timedelta(minutes=2))
    await land.write("valve-1", {"state": "closed", "delivered": 12.5}, second_start + timedelta(minutes=9))
    await land.write("valve-1", {"delivered": 99.0}, second_start - timedelta(minutes=1))
    second = await land.agri.scheduler.decide(land.p, field_id, DAY + timedelta(days=1))
    assert second.inputs["depletion_source"] == {
        "kind": "decision",
        "decision_id": first.id,
        "depletion": first.balance["depletion"],
    }
    assert second.inputs["precipitation"] == pytest.approx(10.0)
    assert second.inputs["irrigation_delivered"] == pytest.approx(42.5)
    assert second.inputs["irrigation"] == pytest.approx(42.5 * 0.8)
    hand = by_hand(second.inputs["et0"], 1.1, first.balance["depletion"], 0.5, 90.0, 10.0 + 34.0)
    assert second.balance["depletion"] == pytest.approx(hand["dr"])
    assert second.balance["deep_percolation"] == pytest.approx(hand["dp"])
    assert not second.irrigate and second.command_id is None
    listed = await land.agri.scheduler.decisions(land.p, field_id)
    assert [d.day for d in listed] == ["2026-07-07", "2026-07-06"]


async def test_the_newest_complete_day_is_chosen_and_missing_days_are_refused(land: Farmland) -> None:
    _, field_id = await make_farm(land, PARAMS, valve=False)
    with pytest.raises(InvalidInput, match="no complete day"):
        await land.agri.scheduler.decide(land.p, field_id)
    await station_day(land, DAY, example_18_hours(), T0)
    await station_day(land, DAY + timedelta(days=1), example_18_hours()[:10], T0 + timedelta(hours=1))
    with pytest.raises(InvalidInput) as err:
        await land.agri.scheduler.decide(land.p, field_id, DAY + timedelta(days=1))
    assert err.value.extra["errors"] == ["/day: 2026-07-07 is not covered by the station's stored hours"]
    decision = await land.agri.scheduler.decide(land.p, field_id)  # the 7th is still coming in
    assert decision.day == "2026-07-06"
    # no probe and no earlier decision: the balance starts at field capacity; no valve: said so
    assert decision.inputs["depletion_source"]["kind"] == "assumed"
    assert decision.inputs["depletion_previous"] == 0 and not decision.irrigate


async def test_a_due_field_without_a_valve_keeps_the_reason(land: Farmland) -> None:
    _, field_id = await make_farm(land, PARAMS, valve=False)
    await land.write("probe-1", {"soil_moisture": 0.15}, T0 - timedelta(minutes=5))
    await station_day(land, DAY, example_18_hours(), T0)
    decision = await land.agri.scheduler.decide(land.p, field_id)
    assert decision.irrigate and decision.command_id is None
    assert decision.command_error == "the field has no valve: irrigate by hand"


async def test_wrong_field_parameters_and_a_farm_without_station_are_refused_with_paths(
    land: Farmland,
) -> None:
    farm_id, field_id = await make_farm(land, PARAMS, station=False)
    with pytest.raises(InvalidInput) as err:
        await land.agri.scheduler.decide(land.p, field_id)
    assert "weather station" in err.value.detail
    thing = await land.ctx.virtual.get_own(land.p, field_id)
    async with land.ctx.db.transaction() as s:
        row = await s.get(type(thing), field_id)
        assert row is not None
        row.attributes = {**row.attributes, "theta_wp": 0.4, "kc": "high"}
        row.attributes.pop("root_depth")
    with pytest.raises(InvalidInput) as err:
        await land.agri.scheduler.decide(land.p, field_id)
    assert err.value.extra["errors"] == [
        "/attributes/root_depth: required (Zr, rooting depth (m))",
        "/attributes/kc: must be a finite number (Kc, crop coefficient)",
        "/attributes/theta_wp: must be below theta_fc",
    ]
    with pytest.raises(InvalidInput, match="not a field"):
        await land.agri.scheduler.decide(land.p, farm_id)


async def test_the_platform_decides_every_organisations_due_fields_once_a_day(land: Farmland) -> None:
    from iplus.apps.agriculture import service

    _, field_id = await make_farm(land, PARAMS, valve=False)
    await station_day(land, DAY, example_18_hours(), T0)
    assert await service.decide_everywhere(land.ctx) == 1  # the demo-less platform's hourly round
    [decision] = await land.agri.scheduler.decisions(land.p, field_id, limit=5)
    assert decision.day == "2026-07-06" and decision.trigger == "schedule"
    assert (
        await service.decide_everywhere(land.ctx) == 1
        and len(await land.agri.scheduler.decisions(land.p, field_id, limit=5)) == 1
    )  # asked again the same day: the day's decision stands, none added
    await service.start(land.ctx)
    await service.start(land.ctx)  # idempotent: one decider
    await service.stop(land.ctx)
