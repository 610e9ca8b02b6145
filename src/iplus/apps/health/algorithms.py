"""The health domain's registered algorithms: NEWS2 and the consensus CGM metrics."""

from __future__ import annotations

from typing import Any

from iplus.apps.health import cgm, news2
from iplus.platform.knowledge.algorithms import Algorithm


def _count(unit: str, description: str, **bounds: Any) -> dict[str, Any]:
    return {"type": "integer", "unit": unit, "description": description, **bounds}


def _score(description: str) -> dict[str, Any]:
    return _count("1", description, minimum=0, maximum=3)


def _text(description: str, **more: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **more}


NEWS2_INPUTS = {
    "type": "object",
    "properties": {
        "respiration_rate": _count("/min", "respiration rate, breaths per minute", minimum=0, maximum=100),
        "spo2": _count("%", "oxygen saturation SpO2", minimum=0, maximum=100),
        "spo2_scale": _count(
            "1",
            "SpO2 scale: 1, or 2 only in hypercapnic respiratory failure with a target of 88-92 %",
            enum=[1, 2],
            default=1,
        ),
        "air_or_oxygen": _text(
            "breathing air or on supplemental oxygen", enum=list(news2.AIR_OR_OXYGEN), default="air"
        ),
        "systolic_bp": _count("mm[Hg]", "systolic blood pressure", minimum=0, maximum=400),
        "pulse": _count("/min", "pulse, beats per minute", minimum=0, maximum=300),
        "consciousness": _text(
            "ACVPU: alert, new confusion, voice, pain or unresponsive", enum=list(news2.CONSCIOUSNESS)
        ),
        "temperature": {
            "type": "number",
            "unit": "Cel",
            "description": "temperature",
            "minimum": 20,
            "maximum": 45,
        },
    },
    "required": ["respiration_rate", "spo2", "systolic_bp", "pulse", "consciousness", "temperature"],
    "additionalProperties": False,
}

NEWS2_OUTPUTS = {
    "type": "object",
    "properties": {
        "scores": {
            "type": "object",
            "description": "score of each parameter, 0-3",
            "properties": {
                "respiration_rate": _score("respiration rate score"),
                "spo2": _score("SpO2 score on the scale used"),
                "air_or_oxygen": _count("1", "2 on supplemental oxygen, else 0", minimum=0, maximum=2),
                "systolic_bp": _score("systolic blood pressure score"),
                "pulse": _score("pulse score"),
                "consciousness": _score("consciousness score (3 unless alert)"),
                "temperature": _score("temperature score"),
            },
            "required": [
                "respiration_rate",
                "spo2",
                "air_or_oxygen",
                "systolic_bp",
                "pulse",
                "consciousness",
                "temperature",
            ],
            "additionalProperties": False,
        },
        "aggregate": _count("1", "NEWS2 aggregate score, 0-20", minimum=0, maximum=20),
        "red_score_parameters": {
            "type": "array",
            "items": {"type": "string"},
            "description": "parameters scoring 3 (a red score)",
        },
        "spo2_scale": _count("1", "SpO2 scale used", enum=[1, 2]),
        "clinical_risk": _text("clinical risk", enum=["low", "low-medium", "medium", "high"]),
        "response": _text("clinical response the RCP chart sets for this score"),
        "monitoring": _text("minimum monitoring frequency"),
        "monitoring_frequency": _text("monitoring frequency code", enum=["12h", "4-6h", "1h", "continuous"]),
    },
    "required": [
        "scores",
        "aggregate",
        "red_score_parameters",
        "spo2_scale",
        "clinical_risk",
        "response",
        "monitoring",
        "monitoring_frequency",
    ],
    "additionalProperties": False,
}


def _pct(description: str) -> dict[str, Any]:
    return {"type": "number", "unit": "%", "description": description, "minimum": 0, "maximum": 100}


CGM_INPUTS = {
    "type": "object",
    "properties": {
        "glucose": {
            "type": "array",
            "description": "sensor glucose readings of the period, at a fixed sampling interval",
            "items": {"type": "number", "unit": "mg/dL", "exclusiveMinimum": 0, "maximum": 1000},
            "minItems": 2,
            "maxItems": 200_000,
        },
        "targets": _text(
            "which consensus targets to check: standard (type 1/2 diabetes) or older_high_risk",
            enum=list(cgm.TARGETS),
            default="standard",
        ),
    },
    "required": ["glucose"],
    "additionalProperties": False,
}

CGM_OUTPUTS = {
    "type": "object",
    "properties": {
        "readings": _count("1", "number of readings", minimum=2),
        "mean_glucose": {"type": "number", "unit": "mg/dL", "description": "mean glucose"},
        "sd": {"type": "number", "unit": "mg/dL", "description": "sample standard deviation"},
        "cv": {"type": "number", "unit": "%", "description": "coefficient of variation, SD / mean"},
        "gmi": {"type": "number", "unit": "%", "description": "glucose management indicator (Bergenstal)"},
        "time_below_54": _pct("time below 54 mg/dL (level 2 hypoglycaemia)"),
        "time_54_69": _pct("time 54-69 mg/dL (level 1 hypoglycaemia)"),
        "time_in_range": _pct("time in range 70-180 mg/dL"),
        "time_181_250": _pct("time 181-250 mg/dL (level 1 hyperglycaemia)"),
        "time_above_250": _pct("time above 250 mg/dL (level 2 hyperglycaemia)"),
        "time_below_70": _pct("time below range, both levels"),
        "time_above_180": _pct("time above range, both levels"),
        "targets": _text("the targets checked", enum=list(cgm.TARGETS)),
        "meets": {
            "type": "object",
            "description": "per consensus target: met or not",
            "additionalProperties": {"type": "boolean"},
        },
    },
    "required": [
        "readings",
        "mean_glucose",
        "sd",
        "cv",
        "gmi",
        "time_below_54",
        "time_54_69",
        "time_in_range",
        "time_181_250",
        "time_above_250",
        "time_below_70",
        "time_above_180",
        "targets",
        "meets",
    ],
    "additionalProperties": False,
}

ALGORITHMS = (
    Algorithm(
        id="health.news2",
        version="1.0.0",
        title="National Early Warning Score 2 (NEWS2)",
        description="Scores respiration rate, SpO2 (scale 1 or 2), air or oxygen, systolic blood "
        "pressure, pulse, consciousness (ACVPU) and temperature per the RCP NEWS2 chart; the "
        "aggregate, clinical risk, the response and the minimum monitoring frequency.",
        inputs=NEWS2_INPUTS,
        outputs=NEWS2_OUTPUTS,
        fn=news2.assess,
        tags=("health", "early-warning", "standard"),
        references=("Royal College of Physicians (2017) National Early Warning Score (NEWS) 2",),
    ),
    Algorithm(
        id="health.cgm_metrics",
        version="1.0.0",
        title="CGM metrics: time in ranges, mean glucose, CV and GMI",
        description="Standard continuous-glucose-monitoring metrics of a period's readings: time below "
        "54, 54-69, in range 70-180, 181-250 and above 250 mg/dL, mean glucose, SD, coefficient of "
        "variation and the glucose management indicator, checked against the consensus targets.",
        inputs=CGM_INPUTS,
        outputs=CGM_OUTPUTS,
        fn=cgm.metrics,
        tags=("health", "diabetes", "cgm", "standard"),
        references=(
            "Battelino T. et al. (2019) Clinical targets for continuous glucose monitoring data "
            "interpretation: recommendations from the international consensus on time in range. "
            "Diabetes Care 42(8):1593-1603",
            "Bergenstal R.M. et al. (2018) Glucose Management Indicator (GMI): a new term for estimating "
            "A1C from continuous glucose monitoring. Diabetes Care 41(11):2275-2280",
        ),
    ),
)
