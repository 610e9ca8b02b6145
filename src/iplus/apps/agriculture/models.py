"""The agriculture domain's device types as W3C WoT Thing Models: data rows, not classes.

Soil probe (FIWARE AgriSoil), weather station (WeatherObserved), irrigation valve and tractor. The
scheduler finds a field's devices by what their models offer (a ``soil_moisture`` property, an ``open``
action, a ``solar_radiation`` property), not by type name, so any device type with those affordances
serves.
"""

from __future__ import annotations

from typing import Any

CONTEXT = "https://www.w3.org/2022/wot/td/v1.1"

SOIL_PROBE = "agri-soil-probe"
WEATHER_STATION = "agri-weather-station"
IRRIGATION_VALVE = "agri-irrigation-valve"
TRACTOR = "agri-tractor"

# the affordances the scheduler looks for
PROBE_PROPERTY = "soil_moisture"
STATION_PROPERTY = "solar_radiation"
VALVE_ACTION = "open"
VALVE_STATES = ("open", "closed")


def _num(unit: str, title: str, **bounds: float) -> dict[str, Any]:
    return {"type": "number", "unit": unit, "title": title, "readOnly": True, **bounds}


THING_MODELS: dict[str, dict[str, Any]] = {
    SOIL_PROBE: {
        "@context": CONTEXT,
        "@type": "tm:ThingModel",
        "title": "Soil moisture and temperature probe",
        "description": "Volumetric soil water content and soil temperature in the root zone "
        "(FIWARE AgriSoil).",
        "properties": {
            "soil_moisture": _num("m3/m3", "volumetric water content θ", minimum=0, maximum=1),
            "soil_temperature": _num("Cel", "soil temperature", minimum=-40, maximum=70),
        },
    },
    WEATHER_STATION: {
        "@context": CONTEXT,
        "@type": "tm:ThingModel",
        "title": "Agricultural weather station",
        "description": "Hourly air temperature, humidity, wind, global solar radiation and rain "
        "(FIWARE WeatherObserved); 'observed' is the start of the observation hour in local standard time.",
        "properties": {
            "t_air": _num("Cel", "air temperature", minimum=-60, maximum=60),
            "rh": _num("%", "relative humidity", minimum=0, maximum=100),
            "wind_speed": _num("m/s", "wind speed at the station's wind height", minimum=0, maximum=80),
            "solar_radiation": _num(
                "W/m2", "global horizontal irradiance, hourly mean", minimum=0, maximum=1500
            ),
            "rain": _num("mm", "liquid precipitation in the hour", minimum=0, maximum=300),
            "observed": {
                "type": "string",
                "title": "start of the observation hour (ISO 8601, local standard time with offset)",
                "readOnly": True,
            },
        },
    },
    IRRIGATION_VALVE: {
        "@context": CONTEXT,
        "@type": "tm:ThingModel",
        "title": "Irrigation valve",
        "description": "Opens for a depth (mm over its field) or a duration and reports, while open and "
        "when it closes, the depth delivered since its previous report.",
        "properties": {
            "state": {"type": "string", "enum": list(VALVE_STATES), "title": "valve state", "readOnly": True},
            "delivered": _num("mm", "gross depth delivered since the valve's previous report", minimum=0),
            "flow_rate": _num("mm/h", "application rate while open", minimum=0, maximum=200),
        },
        "actions": {
            "open": {
                "title": "Open for a depth or a duration",
                "input": {
                    "type": "object",
                    "properties": {
                        "depth_mm": {"type": "number", "unit": "mm", "minimum": 0.1, "maximum": 300},
                        "duration_min": {"type": "number", "unit": "min", "minimum": 1, "maximum": 1440},
                    },
                    "oneOf": [{"required": ["depth_mm"]}, {"required": ["duration_min"]}],
                    "additionalProperties": False,
                },
            },
            "close": {"title": "Close now"},
        },
    },
    TRACTOR: {
        "@context": CONTEXT,
        "@type": "tm:ThingModel",
        "title": "Tractor with GNSS",
        "description": "Position, speed and heading from the machine's GNSS receiver.",
        "properties": {
            "lat": _num("deg", "latitude (WGS 84)", minimum=-90, maximum=90),
            "lon": _num("deg", "longitude (WGS 84)", minimum=-180, maximum=180),
            "speed": _num("m/s", "ground speed", minimum=0, maximum=20),
            "heading": _num("deg", "course over ground, clockwise from north", minimum=0, maximum=360),
        },
    },
}
