"""SenML resolution against the worked examples of RFC 8428, section 5."""

from __future__ import annotations

import pytest

from iplus.core.errors import InvalidInput
from iplus.standards.senml import Record, resolve

NOW = 1_700_000_000.0


def test_5_1_1_single_datapoint() -> None:
    pack = [{"n": "urn:dev:ow:10e2073a01080063", "u": "Cel", "v": 23.1}]
    assert resolve(pack, now=NOW) == [Record("urn:dev:ow:10e2073a01080063", NOW, "Cel", 23.1)]


def test_5_1_2_multiple_datapoints() -> None:
    pack = [
        {"bn": "urn:dev:ow:10e2073a01080063:", "n": "voltage", "u": "V", "v": 120.1},
        {"n": "current", "u": "A", "v": 1.2},
    ]
    assert resolve(pack, now=NOW) == [
        Record("urn:dev:ow:10e2073a01080063:voltage", NOW, "V", 120.1),
        Record("urn:dev:ow:10e2073a01080063:current", NOW, "A", 1.2),
    ]


def test_5_1_3_multiple_measurements_with_base_time_and_unit() -> None:
    pack = [
        {
            "bn": "urn:dev:ow:10e2073a0108006:",
            "bt": 1.276020076001e09,
            "bu": "A",
            "bver": 5,
            "n": "voltage",
            "u": "V",
            "v": 120.1,
        },
        {"n": "current", "t": -5, "v": 1.2},
        {"n": "current", "t": -4, "v": 1.3},
        {"n": "current", "t": -3, "v": 1.4},
        {"n": "current", "t": -2, "v": 1.5},
        {"n": "current", "t": -1, "v": 1.6},
        {"n": "current", "v": 1.7},
    ]
    records = resolve(pack, now=NOW)
    assert records[0] == Record("urn:dev:ow:10e2073a0108006:voltage", 1.276020076001e09, "V", 120.1)
    currents = records[1:]
    assert [r.value for r in currents] == [1.2, 1.3, 1.4, 1.5, 1.6, 1.7]
    assert all(r.unit == "A" and r.name.endswith(":current") for r in currents)
    assert [round(r.time - 1.276020076001e09, 6) for r in currents] == [-5, -4, -3, -2, -1, 0]


def test_collection_example_with_string_boolean_and_data_values() -> None:
    pack = [
        {"bn": "urn:dev:ow:10e2073a01080063:", "n": "temp", "u": "Cel", "v": 23.1},
        {"n": "label", "vs": "Machine Room"},
        {"n": "open", "vb": False},
        {"n": "nfc-reader", "vd": "aGkgCg"},
    ]
    values = [r.value for r in resolve(pack, now=NOW)]
    assert values == [23.1, "Machine Room", False, "aGkgCg"]


def test_base_value_and_sum_are_added() -> None:
    (r,) = resolve([{"bn": "m", "bv": 100, "v": 5, "bs": 10, "s": 2}], now=NOW)
    assert r.value == 105 and r.sum == 12


@pytest.mark.parametrize(
    "pack, reason",
    [
        ({"n": "x", "v": 1}, "non-empty JSON array"),
        ([], "non-empty JSON array"),
        ([{"v": 1}], "no name"),
        ([{"n": "x"}], "neither a value nor a sum"),
        ([{"n": "x", "v": "hot"}], "v must be a finite number"),
        ([{"n": "x", "v": 1, "vs": "a"}], "at most one"),
        ([{"n": "x", "v": 1, "colour_": "red"}], "unknown must-understand SenML fields colour_"),
        ([{"n": "x", "vb": 1}], "vb must be true or false"),
    ],
)
def test_bad_packs_are_refused_with_the_reason(pack: object, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        resolve(pack, now=NOW)


def test_unknown_field_without_underscore_is_ignored() -> None:
    assert resolve([{"n": "x", "v": 1, "vendor": 2}], now=NOW)[0].value == 1
