"""The health domain's device types as data: W3C WoT Thing Models of a vital-signs wearable and a CGM.

The wearable reports what NEWS2 scores (RCP 2017, Chart 1): pulse (heart rate), SpO2, respiration rate,
systolic blood pressure, temperature, level of consciousness (ACVPU) and whether the wearer is on
supplemental oxygen, plus the SpO2 scale the clinician set for the wearer (2 only in hypercapnic
respiratory failure). Units are UCUM codes; bounds are what a sensor can physically report, not
clinical limits (NEWS2 decides what is abnormal).
"""

from __future__ import annotations

from typing import Any

from iplus.apps.health.news2 import CONSCIOUSNESS

WEARABLE_TYPE = "health.wearable"
CGM_TYPE = "health.cgm"

# the wearable's property -> the NEWS2 input it feeds
NEWS2_INPUT = {
    "respiration_rate": "respiration_rate",
    "spo2": "spo2",
    "systolic_bp": "systolic_bp",
    "heart_rate": "pulse",
    "consciousness": "consciousness",
    "temperature": "temperature",
}
VITALS = (*NEWS2_INPUT, "on_oxygen", "spo2_scale")


def _reading(kind: str, unit: str, title: str, low: float, high: float) -> dict[str, Any]:
    return {"type": kind, "unit": unit, "title": title, "minimum": low, "maximum": high, "readOnly": True}


WEARABLE_MODEL: dict[str, Any] = {
    "@context": "https://www.w3.org/2022/wot/td/v1.1",
    "@type": "tm:ThingModel",
    "title": "Vital-signs wearable",
    "description": "Wrist or chest wearable of a resident: the vital signs NEWS2 scores.",
    "properties": {
        "heart_rate": _reading("integer", "/min", "Heart rate (pulse)", 0, 300),
        "spo2": _reading("integer", "%", "Oxygen saturation SpO2", 0, 100),
        "respiration_rate": _reading("integer", "/min", "Respiration rate", 0, 100),
        "systolic_bp": _reading("integer", "mm[Hg]", "Systolic blood pressure", 0, 400),
        "temperature": _reading("number", "Cel", "Body temperature", 20, 45),
        "consciousness": {
            "type": "string",
            "title": "Level of consciousness (ACVPU)",
            "enum": list(CONSCIOUSNESS),
            "readOnly": True,
        },
        "on_oxygen": {"type": "boolean", "title": "On supplemental oxygen", "readOnly": True},
        "spo2_scale": {
            "type": "integer",
            "unit": "1",
            "title": "SpO2 scale set for the wearer (2: hypercapnic respiratory failure, target 88-92 %)",
            "enum": [1, 2],
            "readOnly": True,
        },
        "battery": _reading("number", "%", "Battery", 0, 100),
    },
}

CGM_MODEL: dict[str, Any] = {
    "@context": "https://www.w3.org/2022/wot/td/v1.1",
    "@type": "tm:ThingModel",
    "title": "Continuous glucose monitor",
    "description": "Interstitial glucose every 5 minutes (sensor range 40-400 mg/dL).",
    "properties": {
        "glucose": _reading("number", "mg/dL", "Sensor glucose", 20, 600),
    },
}

DEVICE_TYPES: tuple[tuple[str, dict[str, Any]], ...] = (
    (WEARABLE_TYPE, WEARABLE_MODEL),
    (CGM_TYPE, CGM_MODEL),
)
