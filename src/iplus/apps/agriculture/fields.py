"""Farms and fields as virtual things: soil and crop parameters as attributes, devices as grounding links.

A field is a virtual resource of type ``field`` (FIWARE AgriParcel) whose attributes carry the FAO-56
parameters (θFC, θWP, Zr, p, Kc) and the irrigation system's efficiency and application rate; its links
name the soil probe and the valve that ground it. A farm (``farm``, AgriFarm) carries the altitude and
links the weather station and the machinery. A field's ``farm`` attribute names its farm's thing id.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from iplus.apps.agriculture.models import PROBE_PROPERTY, STATION_PROPERTY, VALVE_ACTION
from iplus.core.errors import InvalidInput
from iplus.virtual.spec import LinkSpec, ThingSpec

if TYPE_CHECKING:  # the field parameters are used by simulation workers, which need not load the platform
    from iplus.infra.db.models_virtual import VirtualThing
    from iplus.platform.context import Context
    from iplus.security.principal import Principal

FIELD_TYPE = "field"
FARM_TYPE = "farm"

# attribute: (description, low, high, low inclusive, high inclusive, default or None when required)
NUMBERS: dict[str, tuple[str, float, float, bool, bool, float | None]] = {
    "theta_fc": ("θFC, volumetric water content at field capacity (m3/m3)", 0, 1, False, True, None),
    "theta_wp": ("θWP, volumetric water content at wilting point (m3/m3)", 0, 1, True, False, None),
    "root_depth": ("Zr, rooting depth (m)", 0, 10, False, True, None),
    "p_table": ("p, FAO-56 Table 22 depletion fraction", 0, 1, True, True, None),
    "kc": ("Kc, crop coefficient", 0, 2, True, True, None),
    "efficiency": ("application efficiency of the irrigation system", 0, 1, False, True, 1.0),
    "application_rate": ("gross application rate while the valve is open (mm/h)", 0, 200, False, True, 10.0),
}


@dataclass(frozen=True)
class FieldParams:
    """A field's soil, crop and irrigation-system parameters."""

    theta_fc: float
    theta_wp: float
    root_depth: float
    p_table: float
    kc: float
    efficiency: float = 1.0
    application_rate: float = 10.0
    crop: str = ""

    @property
    def taw(self) -> float:
        """TAW = 1000 (θFC - θWP) Zr, mm (FAO-56 Eq. 82)."""
        return 1000 * (self.theta_fc - self.theta_wp) * self.root_depth

    def theta(self, depletion: float) -> float:
        """The volumetric water content of a root-zone depletion Dr (mm)."""
        return self.theta_fc - depletion / (1000 * self.root_depth)

    def depletion(self, theta: float) -> float:
        """The root-zone depletion (mm) of a measured water content, kept within 0..TAW."""
        return min(self.taw, max(0.0, 1000 * (self.theta_fc - theta) * self.root_depth))

    def balance_inputs(self) -> dict[str, float]:
        """The soil and crop inputs of ``agriculture.irrigation_fao56``."""
        return {
            "theta_fc": self.theta_fc,
            "theta_wp": self.theta_wp,
            "root_depth": self.root_depth,
            "p_table": self.p_table,
            "kc": self.kc,
        }

    def attributes(self) -> dict[str, Any]:
        """The parameters as virtual-thing attributes."""
        out: dict[str, Any] = {name: getattr(self, name) for name in NUMBERS}
        if self.crop:
            out["crop"] = self.crop
        return out


def field_params(attributes: Mapping[str, Any], where: str = "/attributes") -> FieldParams:
    """The parameters in a field's attributes; every problem is listed with its JSON path."""
    problems: list[str] = []
    values: dict[str, float] = {}
    for name, (what, low, high, low_in, high_in, default) in NUMBERS.items():
        raw = attributes.get(name)
        if raw is None:
            if default is None:
                problems.append(f"{where}/{name}: required ({what})")
            else:
                values[name] = default
            continue
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            problems.append(f"{where}/{name}: must be a finite number ({what})")
            continue
        above = raw >= low if low_in else raw > low
        below = raw <= high if high_in else raw < high
        if not (above and below):
            bounds = f"{'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"
            problems.append(f"{where}/{name}: {raw:g} is outside {bounds} ({what})")
            continue
        values[name] = float(raw)
    if "theta_fc" in values and "theta_wp" in values and values["theta_wp"] >= values["theta_fc"]:
        problems.append(f"{where}/theta_wp: must be below theta_fc")
    crop = attributes.get("crop", "")
    if not isinstance(crop, str):
        problems.append(f"{where}/crop: must be text")
    if problems:
        raise InvalidInput("the field's parameters are not valid", errors=problems)
    return FieldParams(**values, crop=str(crop))


def field_spec(
    *,
    title: str,
    farm_id: str,
    params: FieldParams,
    latitude: float | None = None,
    longitude: float | None = None,
    probe_id: str | None = None,
    valve_id: str | None = None,
    area_ha: float | None = None,
    description: str = "",
) -> ThingSpec:
    """A field's virtual thing: its parameters as attributes, grounded on its probe and valve."""
    attributes: dict[str, Any] = {**params.attributes(), "farm": farm_id}
    if area_ha is not None:
        attributes["area_ha"] = area_ha
    properties: dict[str, dict[str, Any]] = {}
    actions: dict[str, dict[str, Any]] = {}
    links = []
    if probe_id:
        properties["soil_moisture"] = {"type": "number", "unit": "m3/m3", "readOnly": True}
        properties["soil_temperature"] = {"type": "number", "unit": "Cel", "readOnly": True}
        links.append(
            LinkSpec(probe_id, {"soil_moisture": PROBE_PROPERTY, "soil_temperature": "soil_temperature"})
        )
    if valve_id:
        properties["valve_state"] = {"type": "string", "enum": ["open", "closed"], "readOnly": True}
        actions = {VALVE_ACTION: {"title": "Open the field's valve"}, "close": {"title": "Close the valve"}}
        links.append(LinkSpec(valve_id, {"valve_state": "state"}))
    return ThingSpec(
        kind="resource",
        type=FIELD_TYPE,
        title=title,
        description=description,
        attributes=attributes,
        latitude=latitude,
        longitude=longitude,
        properties=properties,
        actions=actions,
        links=tuple(links),
    )


def farm_spec(
    *,
    title: str,
    latitude: float,
    longitude: float,
    altitude: float,
    station_id: str | None = None,
    machinery: tuple[str, ...] = (),
    description: str = "",
) -> ThingSpec:
    """A farm's virtual thing: altitude as an attribute, grounded on its weather station and machines."""
    properties: dict[str, dict[str, Any]] = {}
    links = []
    if station_id:
        for name, unit in (("t_air", "Cel"), ("rh", "%"), ("wind_speed", "m/s"), (STATION_PROPERTY, "W/m2")):
            properties[name] = {"type": "number", "unit": unit, "readOnly": True}
        properties["rain"] = {"type": "number", "unit": "mm", "readOnly": True}
        links.append(LinkSpec(station_id, {p: p for p in properties}))
    links += [LinkSpec(device_id) for device_id in machinery]
    return ThingSpec(
        kind="resource",
        type=FARM_TYPE,
        title=title,
        description=description,
        attributes={"altitude": altitude},
        latitude=latitude,
        longitude=longitude,
        properties=properties,
        links=tuple(links),
    )


@dataclass(frozen=True)
class FieldSetup:
    """A field resolved for a decision: parameters, farm, site, and the devices found by affordance."""

    field: VirtualThing
    params: FieldParams
    farm: VirtualThing
    latitude: float
    altitude: float
    probe_id: str | None
    valve_id: str | None
    station_id: str | None
    machinery: tuple[str, ...]


async def linked_devices(ctx: Context, caller: Principal, thing_id: str) -> list[tuple[str, Any]]:
    """The devices grounding a thing, each with its type's Thing Model."""
    detail = await ctx.virtual.detail(caller, thing_id)
    out = []
    for link in detail.links:
        identity = await ctx.registry.owned(caller.org_id, link.device_id)
        out.append((link.device_id, identity.model))
    return out


async def field_setup(ctx: Context, caller: Principal, field_id: str) -> FieldSetup:
    """Read a field, its farm and their devices; a field whose parameters are wrong is ``InvalidInput``."""
    field = await ctx.virtual.get_own(caller, field_id)
    if field.type != FIELD_TYPE:
        raise InvalidInput(f"virtual thing {field_id} is a {field.type!r}, not a field")
    params = field_params(field.attributes)
    farm_id = field.attributes.get("farm")
    if not isinstance(farm_id, str):
        raise InvalidInput("the field has no farm", errors=["/attributes/farm: the farm's thing id"])
    farm = await ctx.virtual.get_own(caller, farm_id)
    problems = []
    if farm.type != FARM_TYPE:
        problems.append(f"/attributes/farm: {farm_id} is a {farm.type!r}, not a farm")
    latitude = field.latitude if field.latitude is not None else farm.latitude
    if latitude is None:
        problems.append("/latitude: neither the field nor its farm has a location")
    altitude = farm.attributes.get("altitude")
    if isinstance(altitude, bool) or not isinstance(altitude, int | float):
        problems.append("/farm/attributes/altitude: the farm's elevation above sea level (m) is needed")
    if problems:
        raise InvalidInput("the field cannot be scheduled", errors=problems)
    assert latitude is not None and isinstance(altitude, int | float)
    probe = valve = station = None
    for device_id, model in await linked_devices(ctx, caller, field.id):
        if probe is None and PROBE_PROPERTY in model.properties:
            probe = device_id
        elif valve is None and VALVE_ACTION in model.actions:
            valve = device_id
    machinery = []
    for device_id, model in await linked_devices(ctx, caller, farm.id):
        if station is None and STATION_PROPERTY in model.properties:
            station = device_id
        else:
            machinery.append(device_id)
    return FieldSetup(field, params, farm, latitude, float(altitude), probe, valve, station, tuple(machinery))
