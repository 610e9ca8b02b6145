"""Profiles are data: built-ins load, files load, bad data is refused with where and why."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from iplus.access.sim import builtin_profiles, load_profile, parse_profile
from iplus.core.errors import InvalidInput

T = 1_700_000_000.0 + np.arange(0, 7200, 30.0)

ROOMISH = {
    "name": "roomish",
    "dropout": {"fraction": 0.2, "gaps": [{"rate_per_h": 1.0, "duration_s": 60}]},
    "properties": {
        "temperature": {
            "unit": "Cel",
            "decimals": 2,
            "clip": [-40, 85],
            "signal": [
                {"kind": "daily", "mean": 21, "amplitude": 2, "phase_h": 15},
                {"kind": "noise", "sigma": 0.1},
                {"kind": "random_walk", "sigma_h": 0.3},
                {"kind": "drift", "per_day": 0.5},
            ],
            "faults": [
                {"kind": "spike", "rate_per_h": 3, "magnitude": 10},
                {"kind": "stuck", "start_s": 600, "duration_s": 300},
            ],
        },
        "count": {
            "integer": True,
            "signal": [{"kind": "random_walk", "sigma_h": 3, "initial": 5, "low": 0, "high": 20}],
        },
        "door": {"states": ["closed", "open"], "dwell_s": [300, 30]},
        "alarm": {"states": [False, True], "dwell_s": [600, 60]},
    },
}


def test_builtin_profiles_load_with_their_units() -> None:
    assert builtin_profiles() == ["room", "water-flow", "weather"]
    assert load_profile("weather").units()["ghi"] == "W/m2"
    assert load_profile("water-flow").units() == {"flow": "l/s"}
    room = load_profile("room")
    assert room.replay() is None and room.units()["temperature"] == "Cel"


def test_values_have_the_declared_types_and_order() -> None:
    values = parse_profile(ROOMISH).sample(T, seed=1)
    assert list(values) == ["temperature", "count", "door", "alarm"]
    assert all(isinstance(v, float) and round(v, 2) == v for v in values["temperature"])
    assert all(type(v) is int and 0 <= v <= 20 for v in values["count"])
    assert set(values["door"]) <= {"closed", "open"}
    assert all(type(v) is bool for v in values["alarm"])
    stuck = values["temperature"][20:30]  # elapsed 600..870 s
    assert len(set(stuck)) == 1


def test_same_seed_same_series_other_device_other_series() -> None:
    profile = parse_profile(ROOMISH)
    first = profile.sample(T, seed=7, device=0)
    assert profile.sample(T, seed=7, device=0) == first
    assert profile.sample(T, seed=7, device=1)["temperature"] != first["temperature"]
    assert profile.sample(T, seed=8, device=0)["temperature"] != first["temperature"]


def test_chunked_device_signals_equal_one_shot() -> None:
    profile = parse_profile(ROOMISH)
    whole = profile.signals(3, 0, float(T[0]))
    chunked = profile.signals(3, 0, float(T[0]))
    expected, keep = whole.values(T), whole.keep(T)
    parts: dict[str, list[object]] = {k: [] for k in expected}
    kept: list[bool] = []
    for i in range(0, T.size, 17):
        for key, column in chunked.values(T[i : i + 17]).items():
            parts[key].extend(column)
        kept.extend(chunked.keep(T[i : i + 17]).tolist())
    assert parts == expected
    assert kept == keep.tolist()


def test_adding_a_property_leaves_the_other_streams_alone() -> None:
    more = json.loads(json.dumps(ROOMISH))
    more["properties"]["extra"] = {"signal": [{"kind": "noise", "sigma": 1}]}
    assert (
        parse_profile(more).sample(T, seed=2)["temperature"]
        == parse_profile(ROOMISH).sample(T, seed=2)["temperature"]
    )


def test_profile_files_in_toml_and_json(tmp_path: Path) -> None:
    (tmp_path / "series.csv").write_text(
        "Time,level\n2024-01-01T00:00:00+00:00,1.5\n2024-01-01T00:10:00+00:00,2.5\n"
    )
    (tmp_path / "tank.toml").write_text(
        'description = "a tank"\n[properties.level]\nunit = "m"\n'
        'signal = [{ kind = "replay", source = "csv", path = "series.csv", column = "level", scale = 2.0 }]\n'
    )
    profile = load_profile(tmp_path / "tank.toml")
    assert profile.name == "tank" and profile.description == "a tank"
    assert profile.sample([0.0, 599.0, 600.0, 1199.0], origin=0.0)["level"] == [3.0, 3.0, 5.0, 5.0]
    (tmp_path / "plain.json").write_text(json.dumps(ROOMISH))
    assert list(load_profile(str(tmp_path / "plain.json")).properties) == list(ROOMISH["properties"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"properties": {"x": {"signal": [{"kind": "sine"}]}}}, "properties.x"),
        ({"properties": {"x": {"signal": [{"kind": "noise", "sigma": 1, "mu": 0}]}}}, "mu"),
        ({"properties": {"ts": {"signal": [{"kind": "noise"}]}}}, "not be ts or msg_id"),
        ({"properties": {"x": {"signal": []}}}, "at least one signal"),
        (
            {"properties": {"x": {"signal": [{"kind": "noise"}], "faults": [{"kind": "spike"}]}}},
            "exactly one of start_s",
        ),
        ({"properties": {"x": {"states": ["a", "b"], "dwell_s": [1]}}}, "one dwell_s per state"),
        (
            {"properties": {"x": {"signal": [{"kind": "replay", "source": "water-flow", "column": "nope"}]}}},
            "Water flow [l/s]",
        ),
        ({"properties": {}}, "at least one property"),
    ],
)
def test_bad_profiles_are_refused_with_where_and_why(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_profile({"name": "bad", **change})
    assert message in caught.value.detail and caught.value.detail.startswith("profile bad")


def test_unknown_profile_name_lists_the_built_ins() -> None:
    with pytest.raises(InvalidInput, match="room, water-flow, weather"):
        load_profile("no-such-profile")
