"""National Early Warning Score 2 (Royal College of Physicians, 2017): scores, aggregate, risk, response.

Chart 1 (the NEWS2 scoring system):

| parameter | 3 | 2 | 1 | 0 | 1 | 2 | 3 |
|---|---|---|---|---|---|---|---|
| respiration rate /min | <= 8 | | 9-11 | 12-20 | | 21-24 | >= 25 |
| SpO2 scale 1 % | <= 91 | 92-93 | 94-95 | >= 96 | | | |
| SpO2 scale 2 % | <= 83 | 84-85 | 86-87 | 88-92, >= 93 on air | 93-94 on O2 | 95-96 on O2 | >= 97 on O2 |
| air or oxygen? | | oxygen | | air | | | |
| systolic BP mmHg | <= 90 | 91-100 | 101-110 | 111-219 | | | >= 220 |
| pulse /min | <= 40 | | 41-50 | 51-90 | 91-110 | 111-130 | >= 131 |
| consciousness | | | | alert | | | new confusion, voice, pain, unresponsive |
| temperature °C | <= 35.0 | | 35.1-36.0 | 36.1-38.0 | 38.1-39.0 | >= 39.1 | |

Temperature is charted to 0.1 °C; a value between two printed bands (35.05) falls in the upper band, i.e.
the bands are read as <= 35.0, (35.0, 36.0], (36.0, 38.0], (38.0, 39.0], > 39.0.
Clinical risk (Chart 2/3): aggregate 0-4 low; 3 in any single parameter low-medium; 5-6 medium; 7 or
more high. The medium and high thresholds decide whatever the single scores.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from iplus.core.errors import InvalidInput

CONSCIOUSNESS = ("alert", "new_confusion", "voice", "pain", "unresponsive")
AIR_OR_OXYGEN = ("air", "oxygen")

# (clinical risk, response, minimum monitoring frequency, frequency code), RCP NEWS2 Charts 3 and 4
RESPONSES = {
    "none": ("low", "continue routine NEWS monitoring", "minimum 12-hourly", "12h"),
    "low": (
        "low",
        "ward-based response: inform the registered nurse, who must assess the patient and decide whether "
        "increased monitoring frequency and/or escalation of care is required",
        "minimum 4-6-hourly",
        "4-6h",
    ),
    "low-medium": (
        "low-medium",
        "urgent ward-based response: the registered nurse informs the medical team caring for the patient, "
        "who will review and decide whether escalation of care is necessary",
        "minimum 1-hourly",
        "1h",
    ),
    "medium": (
        "medium",
        "key threshold for urgent response: the registered nurse immediately informs the medical team; "
        "urgent assessment by a clinician or team with core competencies in the care of acutely ill "
        "patients; "
        "clinical care in an environment with monitoring facilities",
        "minimum 1-hourly",
        "1h",
    ),
    "high": (
        "high",
        "urgent or emergency response: the registered nurse immediately informs the medical team, at least "
        "at specialist registrar level; emergency assessment by a team with critical care competencies, "
        "including advanced airway management; consider transfer to a level 2 or 3 clinical care facility",
        "continuous monitoring of vital signs",
        "continuous",
    ),
}


def score_respiration(rate: int) -> int:
    """Respiration rate per minute: <=8 3, 9-11 1, 12-20 0, 21-24 2, >=25 3."""
    if rate <= 8:
        return 3
    if rate <= 11:
        return 1
    if rate <= 20:
        return 0
    if rate <= 24:
        return 2
    return 3


def score_spo2(spo2: int, scale: int, on_oxygen: bool) -> int:
    """SpO2 on scale 1 (<=91 3, 92-93 2, 94-95 1, >=96 0) or scale 2 (hypercapnic respiratory failure)."""
    if scale == 1:
        return 3 if spo2 <= 91 else 2 if spo2 <= 93 else 1 if spo2 <= 95 else 0
    if spo2 <= 83:
        return 3
    if spo2 <= 85:
        return 2
    if spo2 <= 87:
        return 1
    if spo2 <= 92 or not on_oxygen:
        return 0  # 88-92, or 93 and above breathing air
    return 1 if spo2 <= 94 else 2 if spo2 <= 96 else 3


def score_systolic(bp: int) -> int:
    """Systolic blood pressure mmHg: <=90 3, 91-100 2, 101-110 1, 111-219 0, >=220 3."""
    if bp <= 90:
        return 3
    if bp <= 100:
        return 2
    if bp <= 110:
        return 1
    if bp <= 219:
        return 0
    return 3


def score_pulse(pulse: int) -> int:
    """Pulse per minute: <=40 3, 41-50 1, 51-90 0, 91-110 1, 111-130 2, >=131 3."""
    if pulse <= 40:
        return 3
    if pulse <= 50:
        return 1
    if pulse <= 90:
        return 0
    if pulse <= 110:
        return 1
    if pulse <= 130:
        return 2
    return 3


def score_temperature(celsius: float) -> int:
    """Temperature °C: <=35.0 3, 35.1-36.0 1, 36.1-38.0 0, 38.1-39.0 1, >=39.1 2 (exact decimal bands)."""
    t = Decimal(repr(celsius)) if isinstance(celsius, float) else Decimal(celsius)
    if t <= Decimal("35.0"):
        return 3
    if t <= Decimal("36.0"):
        return 1
    if t <= Decimal("38.0"):
        return 0
    if t <= Decimal("39.0"):
        return 1
    return 2


def _whole(value: float) -> bool:
    return float(value).is_integer()


def assess(
    *,
    respiration_rate: int,
    spo2: int,
    systolic_bp: int,
    pulse: int,
    consciousness: str,
    temperature: float,
    air_or_oxygen: str = "air",
    spo2_scale: int = 1,
) -> dict[str, Any]:
    """Score every parameter, add them up, and give the clinical risk, response and monitoring frequency."""
    problems = [
        f"/{name}: charted in whole numbers"
        for name, value in (
            ("respiration_rate", respiration_rate),
            ("spo2", spo2),
            ("systolic_bp", systolic_bp),
            ("pulse", pulse),
        )
        if not _whole(value)
    ]
    if consciousness not in CONSCIOUSNESS:
        problems.append(f"/consciousness: use one of {list(CONSCIOUSNESS)} (ACVPU)")
    if air_or_oxygen not in AIR_OR_OXYGEN:
        problems.append("/air_or_oxygen: use air or oxygen")
    if spo2_scale not in (1, 2):
        problems.append("/spo2_scale: 1, or 2 for hypercapnic respiratory failure with a target of 88-92 %")
    if not 0 <= spo2 <= 100:
        problems.append("/spo2: a saturation lies between 0 and 100 %")
    if problems:
        raise InvalidInput("NEWS2 cannot be scored", errors=problems)
    on_oxygen = air_or_oxygen == "oxygen"
    scores = {
        "respiration_rate": score_respiration(int(respiration_rate)),
        "spo2": score_spo2(int(spo2), spo2_scale, on_oxygen),
        "air_or_oxygen": 2 if on_oxygen else 0,
        "systolic_bp": score_systolic(int(systolic_bp)),
        "pulse": score_pulse(int(pulse)),
        "consciousness": 0 if consciousness == "alert" else 3,
        "temperature": score_temperature(temperature),
    }
    total = sum(scores.values())
    red = sorted(k for k, v in scores.items() if v == 3)
    if total >= 7:
        band = "high"
    elif total >= 5:
        band = "medium"
    elif red:
        band = "low-medium"
    elif total >= 1:
        band = "low"
    else:
        band = "none"
    risk, response, monitoring, code = RESPONSES[band]
    return {
        "scores": scores,
        "aggregate": total,
        "red_score_parameters": red,
        "spo2_scale": spo2_scale,
        "clinical_risk": risk,
        "response": response,
        "monitoring": monitoring,
        "monitoring_frequency": code,
    }
