"""The environment domain's device types as data rows: each quantity once, Thing Models built from them.

Names follow the FIWARE Smart Data Models (AirQualityObserved, WaterQualityObserved) where one exists; an
enterprise's continuous emission monitoring system (CEMS) has none, so its quantities are named after what
Chinese permits limit: stack concentrations in mg/m³ at standard conditions, converted to the reference
oxygen content, as the CEMS reports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TM_CONTEXT = "https://www.w3.org/2022/wot/td/v1.1"


@dataclass(frozen=True)
class Quantity:
    """One property of a device type: key, title, unit and the range a reading must lie in."""

    key: str
    title: str
    unit: str | None
    minimum: float | None = None
    maximum: float | None = None
    type: str = "number"
    read_only: bool = True
    description: str = ""

    def affordance(self) -> dict[str, Any]:
        """The WoT property affordance of this quantity."""
        out: dict[str, Any] = {"title": self.title, "type": self.type, "readOnly": self.read_only}
        if self.unit:
            out["unit"] = self.unit
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class DeviceKind:
    """A device type of the domain: its registered name, title, FIWARE entity and quantities."""

    name: str
    title: str
    fiware: str | None
    description: str
    quantities: tuple[Quantity, ...]

    def thing_model(self) -> dict[str, Any]:
        """The W3C WoT Thing Model (TM 1.1) registered for this kind."""
        model: dict[str, Any] = {
            "@context": TM_CONTEXT,
            "@type": "tm:ThingModel",
            "title": self.title,
            "description": self.description,
            "properties": {q.key: q.affordance() for q in self.quantities},
        }
        return model

    def keys(self, *, measured_only: bool = False) -> list[str]:
        """The property keys (``measured_only``: those the device itself measures)."""
        return [q.key for q in self.quantities if not (measured_only and q.key in COMPUTED)]

    def quantity(self, key: str) -> Quantity:
        """The quantity named ``key``."""
        for q in self.quantities:
            if q.key == key:
                return q
        raise KeyError(key)


_BY_PLATFORM = "computed by the platform from the station's hourly means (not measured)"

AIR_QUANTITIES = (
    Quantity("pm2_5", "PM2.5", "ug/m3", 0, 2000),
    Quantity("pm10", "PM10", "ug/m3", 0, 3000),
    Quantity("so2", "SO2", "ug/m3", 0, 5000),
    Quantity("no2", "NO2", "ug/m3", 0, 5000),
    Quantity("co", "CO", "mg/m3", 0, 200),
    Quantity("o3", "O3", "ug/m3", 0, 2000),
    Quantity("aqi", "AQI, hourly", "1", 0, 500, "integer", description=f"HJ 633 hourly AQI, {_BY_PLATFORM}"),
    Quantity("aqi_level", "AQI level, hourly", "1", 1, 6, "integer", description=_BY_PLATFORM),
    Quantity("aqi_primary", "primary pollutant, hourly", None, type="string", description=_BY_PLATFORM),
    Quantity(
        "aqi_daily", "AQI, daily", "1", 0, 500, "integer", description=f"HJ 633 daily AQI, {_BY_PLATFORM}"
    ),
    Quantity("aqi_daily_level", "AQI level, daily", "1", 1, 6, "integer", description=_BY_PLATFORM),
    Quantity("aqi_daily_primary", "primary pollutant, daily", None, type="string", description=_BY_PLATFORM),
)

WATER_QUANTITIES = (
    Quantity("water_temperature", "water temperature", "Cel", -5, 45),
    Quantity("ph", "pH", "[pH]", 0, 14),
    Quantity("dissolved_oxygen", "dissolved oxygen (DO)", "mg/L", 0, 25),
    Quantity("permanganate_index", "permanganate index (CODMn)", "mg/L", 0, 100),
    Quantity("ammonia_nitrogen", "ammonia nitrogen (NH3-N)", "mg/L", 0, 50),
    Quantity("total_phosphorus", "total phosphorus (TP)", "mg/L", 0, 10),
    Quantity("total_nitrogen", "total nitrogen (TN)", "mg/L", 0, 50),
    Quantity("turbidity", "turbidity", "NTU", 0, 4000),
    Quantity("conductivity", "conductivity", "uS/cm", 0, 20000),
    Quantity(
        "water_class_number",
        "GB 3838 class (6 = worse than V)",
        "1",
        1,
        6,
        "integer",
        description=_BY_PLATFORM,
    ),
    Quantity("water_class", "GB 3838 class", None, type="string", description=_BY_PLATFORM),
)

_LIMIT = "permit limit (hourly mean, mg/m3 at the reference O2), set by the platform as a shared attribute"
EMISSION_QUANTITIES = (
    Quantity("so2", "stack SO2", "mg/m3", 0, 10000),
    Quantity("nox", "stack NOx (as NO2)", "mg/m3", 0, 10000),
    Quantity("dust", "stack particulate matter", "mg/m3", 0, 5000),
    Quantity("flow", "flue gas flow (standard conditions, dry)", "m3/h", 0, 1e8),
    Quantity("o2", "flue gas O2", "%", 0, 21),
    Quantity("flue_temperature", "flue gas temperature", "Cel", -20, 600),
    Quantity("so2_limit", "SO2 permit limit", "mg/m3", 0, 10000, read_only=False, description=_LIMIT),
    Quantity("nox_limit", "NOx permit limit", "mg/m3", 0, 10000, read_only=False, description=_LIMIT),
    Quantity("dust_limit", "particulate permit limit", "mg/m3", 0, 5000, read_only=False, description=_LIMIT),
    Quantity(
        "limit_hold_s",
        "exceedance hold time",
        "s",
        0,
        86400,
        read_only=False,
        description="how long a concentration must stay above its limit before the platform alarms",
    ),
)

# properties the platform computes or sets; everything else the device measures
COMPUTED = frozenset(
    {
        "aqi",
        "aqi_level",
        "aqi_primary",
        "aqi_daily",
        "aqi_daily_level",
        "aqi_daily_primary",
        "water_class_number",
        "water_class",
        "so2_limit",
        "nox_limit",
        "dust_limit",
        "limit_hold_s",
    }
)

AIR_STATION = DeviceKind(
    name="env-air-quality-station",
    title="Air quality station",
    fiware="AirQualityObserved",
    description="Ambient air monitoring station: PM2.5, PM10, SO2, NO2, CO, O3 (GB 3095-2012 indicators); "
    "the platform adds the HJ 633 AQI.",
    quantities=AIR_QUANTITIES,
)
WATER_STATION = DeviceKind(
    name="env-water-quality-station",
    title="Water quality station",
    fiware="WaterQualityObserved",
    description="Automatic surface-water station: temperature, pH, DO, CODMn, NH3-N, TP, TN, turbidity, "
    "conductivity; the platform adds the GB 3838-2002 class.",
    quantities=WATER_QUANTITIES,
)
EMISSION_MONITOR = DeviceKind(
    name="env-emission-monitor",
    title="Emission monitor (CEMS)",
    fiware=None,
    description="Continuous emission monitoring system on an enterprise's stack: SO2, NOx, particulate "
    "matter, flow, O2, temperature; its permit limits are shared attributes set by the platform.",
    quantities=EMISSION_QUANTITIES,
)
KINDS = (AIR_STATION, WATER_STATION, EMISSION_MONITOR)
# the pollutants a permit limits, with the attribute holding each limit
LIMITED = (("so2", "so2_limit"), ("nox", "nox_limit"), ("dust", "dust_limit"))
