"""The irrigation advisory's order: the offer's input and output schemas, and the parameters checked.

Enumerations come from the package's tables (``crops``): crops (FAO-56 Tables 11, 12, 22), soils (Table 19)
and irrigation methods with their typical application efficiencies. The field's state is a soil moisture
or a root-zone depletion, exactly one: the schema says so (an order with both or neither is refused when
placed) and ``parse_request`` checks it again with the tables (an unknown crop fails the order with the
reason).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iplus.apps.agriculture.crops import CROPS, METHODS, SOILS, Crop, Soil, kc_of
from iplus.core.errors import InvalidInput
from iplus.infra.db.models_catalog import OfferVersion
from iplus.platform.catalog.auto import ServiceFailed

MARK = "x-iplus-service"  # the offer's outputs schema names the service that fulfils its orders
FARM_MARK = "x-iplus-farm"  # ... and the provider's farm whose weather station it reads
SERVICE = "agriculture.irrigation_advisory"
CAPABILITY = "irrigation"


def _names(table: Mapping[str, Any]) -> str:
    return "; ".join(f"{k} = {v.title}" for k, v in table.items())


INPUTS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "crop": {"type": "string", "enum": list(CROPS), "description": "the crop: " + _names(CROPS)},
        "season_day": {
            "type": "integer",
            "unit": "d",
            "minimum": 1,
            "maximum": 366,
            "description": "day of the growing season on the advice's day (1 = sowing or planting): "
            "gives the stage and Kc (FAO-56 Tables 11 and 12)",
        },
        "soil": {"type": "string", "enum": list(SOILS), "description": "soil texture: " + _names(SOILS)},
        "root_depth": {
            "type": "number",
            "unit": "m",
            "exclusiveMinimum": 0,
            "maximum": 3,
            "description": "Zr, the effective rooting depth now",
        },
        "area_ha": {"type": "number", "unit": "ha", "exclusiveMinimum": 0, "maximum": 100_000},
        "method": {
            "type": "string",
            "enum": list(METHODS),
            "description": "irrigation method: "
            + "; ".join(f"{k} ({round(v * 100)} % application efficiency)" for k, v in METHODS.items()),
        },
        "efficiency": {
            "type": "number",
            "unit": "1",
            "exclusiveMinimum": 0,
            "maximum": 1,
            "description": "the system's own application efficiency, instead of the method's typical one",
        },
        "soil_moisture": {
            "type": "number",
            "unit": "m3/m3",
            "minimum": 0,
            "maximum": 1,
            "description": "θ, the root zone's volumetric water content now (give this or depletion)",
        },
        "depletion": {
            "type": "number",
            "unit": "mm",
            "minimum": 0,
            "maximum": 3000,
            "description": "Dr, the root-zone depletion now (give this or soil_moisture)",
        },
        "date": {
            "type": "string",
            "pattern": r"^\d{4}-\d{2}-\d{2}$",
            "description": "the day whose weather gives ET0 (default: the station's last complete day)",
        },
    },
    "required": ["crop", "season_day", "soil", "root_depth", "area_ha", "method"],
    "oneOf": [{"required": ["soil_moisture"]}, {"required": ["depletion"]}],
    "additionalProperties": False,
}


def outputs(farm_id: str) -> dict[str, Any]:
    """The offer's outputs schema, naming the service and the farm it reads."""
    return {
        "type": "object",
        MARK: SERVICE,
        FARM_MARK: farm_id,
        "properties": {
            "et0": {"type": "number", "unit": "mm/d", "description": "ET0 of the day"},
            "kc": {"type": "number", "unit": "1"},
            "taw": {"type": "number", "unit": "mm"},
            "raw": {"type": "number", "unit": "mm"},
            "ks": {"type": "number", "unit": "1"},
            "irrigate": {"type": "boolean"},
            "net_mm": {"type": "number", "unit": "mm"},
            "gross_mm": {"type": "number", "unit": "mm"},
            "volume_m3": {"type": "number", "unit": "m3"},
            "projection": {"type": "array", "description": "the next days' depletion with and without"},
        },
    }


def serves(version: OfferVersion) -> bool:
    """Whether an offer version is the advisory's."""
    return (version.outputs or {}).get(MARK) == SERVICE


# inputs ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    """An order's parameters, checked against the tables."""

    crop_key: str
    crop: Crop
    soil_key: str
    soil: Soil
    season_day: int
    root_depth: float
    area_ha: float
    method: str
    efficiency: float
    soil_moisture: float | None
    depletion: float | None
    date: dt.date | None

    @property
    def taw(self) -> float:
        """TAW = 1000 (θFC - θWP) Zr (FAO-56 Eq. 82), mm."""
        return 1000 * (self.soil.theta_fc - self.soil.theta_wp) * self.root_depth

    def start_depletion(self) -> float:
        """Dr now: given, or from θ (Dr = 1000 (θFC - θ) Zr; wetter than field capacity drains to 0)."""
        if self.depletion is not None:
            if self.depletion > self.taw:
                raise ServiceFailed(
                    f"a depletion of {self.depletion:g} mm is more than the root zone holds "
                    f"(TAW = {self.taw:.1f} mm for {self.soil.title.lower()} at Zr = {self.root_depth:g} m)"
                )
            return self.depletion
        assert self.soil_moisture is not None
        if self.soil_moisture < self.soil.theta_wp:
            raise ServiceFailed(
                f"a soil moisture of {self.soil_moisture:g} m3/m3 is below the wilting point of "
                f"{self.soil.title.lower()} ({self.soil.theta_wp:.3f} m3/m3): check the soil or the reading"
            )
        return max(0.0, 1000 * (self.soil.theta_fc - self.soil_moisture) * self.root_depth)


def parse_request(p: Mapping[str, Any]) -> Request:
    """The order's parameters, every problem at once (the offer's schema has checked the types)."""
    problems: list[str] = []
    crop, soil = CROPS.get(str(p.get("crop"))), SOILS.get(str(p.get("soil")))
    if crop is None:
        problems.append(f"/crop: {p.get('crop')!r} is not one of {', '.join(CROPS)}")
    if soil is None:
        problems.append(f"/soil: {p.get('soil')!r} is not one of {', '.join(SOILS)}")
    method = str(p.get("method"))
    if method not in METHODS:
        problems.append(f"/method: {p.get('method')!r} is not one of {', '.join(METHODS)}")
    given = [k for k in ("soil_moisture", "depletion") if p.get(k) is not None]
    if len(given) != 1:
        problems.append("/soil_moisture, /depletion: give exactly one of them (the field's state now)")
    numbers: dict[str, float] = {}
    for key in ("season_day", "root_depth", "area_ha"):
        value = p.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            problems.append(f"/{key}: a positive number")
        else:
            numbers[key] = float(value)
    day = None
    if p.get("date") is not None:
        try:
            day = dt.date.fromisoformat(str(p["date"]))
        except ValueError:
            problems.append(f"/date: {p['date']!r} is not a YYYY-MM-DD date")
    if crop is not None and "season_day" in numbers:
        try:
            kc_of(crop, int(numbers["season_day"]))
        except InvalidInput as exc:
            problems += exc.extra.get("errors", [])
    if problems or crop is None or soil is None:
        raise InvalidInput("the irrigation advisory cannot be given", errors=problems)
    efficiency = p.get("efficiency")
    return Request(
        crop_key=str(p["crop"]),
        crop=crop,
        soil_key=str(p["soil"]),
        soil=soil,
        season_day=int(numbers["season_day"]),
        root_depth=numbers["root_depth"],
        area_ha=numbers["area_ha"],
        method=method,
        efficiency=float(efficiency) if isinstance(efficiency, int | float) else METHODS[method],
        soil_moisture=float(p["soil_moisture"]) if p.get("soil_moisture") is not None else None,
        depletion=float(p["depletion"]) if p.get("depletion") is not None else None,
        date=day,
    )
