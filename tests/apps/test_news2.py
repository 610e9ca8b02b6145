"""NEWS2 against the RCP chart, transcribed here as bands independently of the module: every band edge of
every parameter, and the RCP's thresholds for clinical risk, response and monitoring frequency."""

from __future__ import annotations

from decimal import Decimal

import pytest

from iplus.apps.health.news2 import assess
from iplus.core.errors import InvalidInput

# (lowest, highest, score) per band, inclusive, as printed on Chart 1
BANDS = {
    "respiration_rate": [(0, 8, 3), (9, 11, 1), (12, 20, 0), (21, 24, 2), (25, 60, 3)],
    "systolic_bp": [(0, 90, 3), (91, 100, 2), (101, 110, 1), (111, 219, 0), (220, 300, 3)],
    "pulse": [(0, 40, 3), (41, 50, 1), (51, 90, 0), (91, 110, 1), (111, 130, 2), (131, 250, 3)],
    "spo2_scale1": [(50, 91, 3), (92, 93, 2), (94, 95, 1), (96, 100, 0)],
    "spo2_scale2_air": [(50, 83, 3), (84, 85, 2), (86, 87, 1), (88, 92, 0), (93, 100, 0)],
    "spo2_scale2_oxygen": [
        (50, 83, 3),
        (84, 85, 2),
        (86, 87, 1),
        (88, 92, 0),
        (93, 94, 1),
        (95, 96, 2),
        (97, 100, 3),
    ],
    "temperature": [
        ("30.0", "35.0", 3),
        ("35.1", "36.0", 1),
        ("36.1", "38.0", 0),
        ("38.1", "39.0", 1),
        ("39.1", "42.0", 2),
    ],
}
NORMAL = {
    "respiration_rate": 16,
    "spo2": 97,
    "systolic_bp": 120,
    "pulse": 70,
    "consciousness": "alert",
    "temperature": 37.0,
}


def edges(name: str) -> list[tuple[str, int]]:
    return [(str(v), score) for lo, hi, score in BANDS[name] for v in (lo, hi)]


@pytest.mark.parametrize("name", ["respiration_rate", "systolic_bp", "pulse"])
def test_every_band_edge_of_the_whole_number_parameters(name: str) -> None:
    for value, score in edges(name):
        out = assess(**(NORMAL | {name: int(value)}))
        assert out["scores"][name] == score, (name, value)
        assert out["aggregate"] == score


@pytest.mark.parametrize(
    ("band", "scale", "air_or_oxygen"),
    [("spo2_scale1", 1, "air"), ("spo2_scale2_air", 2, "air"), ("spo2_scale2_oxygen", 2, "oxygen")],
)
def test_every_band_edge_of_spo2(band: str, scale: int, air_or_oxygen: str) -> None:
    for value, score in edges(band):
        out = assess(**(NORMAL | {"spo2": int(value)}), spo2_scale=scale, air_or_oxygen=air_or_oxygen)
        assert out["scores"]["spo2"] == score, (band, value)
        assert out["scores"]["air_or_oxygen"] == (2 if air_or_oxygen == "oxygen" else 0)
        assert out["aggregate"] == score + out["scores"]["air_or_oxygen"]


def test_scale_1_on_oxygen_scores_saturation_and_oxygen_separately() -> None:
    out = assess(**(NORMAL | {"spo2": 99}), air_or_oxygen="oxygen")
    assert out["scores"]["spo2"] == 0 and out["aggregate"] == 2


def test_every_band_edge_of_temperature() -> None:
    for value, score in edges("temperature"):
        assert assess(**(NORMAL | {"temperature": float(value)}))["scores"]["temperature"] == score, value
    # between two printed tenths the upper band applies: 35.05 is above 35.0
    assert assess(**(NORMAL | {"temperature": 35.05}))["scores"]["temperature"] == 1
    assert assess(**(NORMAL | {"temperature": float(Decimal("39.05"))}))["scores"]["temperature"] == 2


@pytest.mark.parametrize("level", ["new_confusion", "voice", "pain", "unresponsive"])
def test_consciousness_other_than_alert_scores_3(level: str) -> None:
    out = assess(**(NORMAL | {"consciousness": level}))
    assert out["scores"]["consciousness"] == 3
    assert out["red_score_parameters"] == ["consciousness"]


# (changes from normal, aggregate, clinical risk, frequency code)
ESCALATION = [
    ({}, 0, "low", "12h"),  # 0: at least 12-hourly
    ({"pulse": 95}, 1, "low", "4-6h"),  # 1-4: at least 4-6-hourly
    ({"pulse": 95, "respiration_rate": 22, "temperature": 38.5}, 4, "low", "4-6h"),
    ({"respiration_rate": 26}, 3, "low-medium", "1h"),  # a single 3: urgent ward-based response, hourly
    ({"respiration_rate": 26, "pulse": 95}, 4, "low-medium", "1h"),
    ({"respiration_rate": 22, "pulse": 115, "temperature": 38.5}, 5, "medium", "1h"),  # 5-6: key threshold
    ({"respiration_rate": 26, "pulse": 115}, 5, "medium", "1h"),  # a 3 inside 5-6 is medium
    ({"respiration_rate": 22, "pulse": 115, "temperature": 39.5}, 6, "medium", "1h"),
    (
        {"respiration_rate": 26, "pulse": 115, "temperature": 35.5, "systolic_bp": 105},
        7,
        "high",
        "continuous",
    ),
]


@pytest.mark.parametrize(("change", "aggregate", "risk", "frequency"), ESCALATION)
def test_clinical_risk_and_monitoring(
    change: dict[str, float], aggregate: int, risk: str, frequency: str
) -> None:
    out = assess(**(NORMAL | change))
    assert out["aggregate"] == aggregate
    assert out["clinical_risk"] == risk
    assert out["monitoring_frequency"] == frequency


def test_the_worst_patient_scores_20() -> None:
    out = assess(
        respiration_rate=30,
        spo2=80,
        systolic_bp=80,
        pulse=140,
        consciousness="unresponsive",
        temperature=34.0,
        air_or_oxygen="oxygen",
    )
    assert out["aggregate"] == 20
    assert out["clinical_risk"] == "high"
    assert "emergency" in out["response"]


def test_bad_inputs_are_listed() -> None:
    with pytest.raises(InvalidInput) as err:
        assess(**(NORMAL | {"pulse": 70.5, "consciousness": "drowsy"}), spo2_scale=3, air_or_oxygen="mask")
    assert set(err.value.extra["errors"]) == {
        "/pulse: charted in whole numbers",
        "/consciousness: use one of ['alert', 'new_confusion', 'voice', 'pain', 'unresponsive'] (ACVPU)",
        "/air_or_oxygen: use air or oxygen",
        "/spo2_scale: 1, or 2 for hypercapnic respiratory failure with a target of 88-92 %",
    }
