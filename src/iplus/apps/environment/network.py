"""The demo monitoring network as data rows: air and water stations and the enterprises' stacks, with places.

Coordinates lie around Hangzhou (the domain's standards are China's: HJ 633, GB 3838). The permit values of
the stacks are modelled on China's emission standards for their kind of plant (hourly means, mg/m³ at the
reference O2): coal power under the ultra-low emission policy (particulate 10, SO2 35, NOx 50), a cement
kiln per GB 4915-2013 (30, 200, 400) and a waste incinerator per GB 18485-2014's 1-hour limits (30, 100, 300).
"""

from __future__ import annotations

from dataclasses import dataclass

from iplus.apps.environment.models import AIR_STATION, EMISSION_MONITOR, WATER_STATION, DeviceKind

HOUR_S = 3600
DAY_S = 86_400


@dataclass(frozen=True)
class Site:
    """One monitoring point of the network: a device of a kind, with its name and place."""

    id: str
    kind: DeviceKind
    name: str
    latitude: float
    longitude: float
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class AirStation(Site):
    """An ambient air station; ``offset_days`` picks its part of the replayed year."""

    offset_days: int = 0


@dataclass(frozen=True)
class WaterStation(Site):
    """A surface-water station on a river or a lake, with the class its section should meet."""

    water_body: str = "river"
    target_class: str = "III"
    # typical levels (mg/L) its simulated readings vary around
    codmn: float = 4.0
    nh3n: float = 0.5
    tp: float = 0.1
    tn: float = 1.0


@dataclass(frozen=True)
class Permit:
    """An enterprise stack's permit: hourly-mean limits in mg/m³ and the platform's hold time."""

    so2: float
    nox: float
    dust: float
    hold_s: float = 60.0

    def as_attributes(self) -> dict[str, float]:
        """The shared attributes (twin desired values) that carry this permit."""
        return {
            "so2_limit": self.so2,
            "nox_limit": self.nox,
            "dust_limit": self.dust,
            "limit_hold_s": self.hold_s,
        }


@dataclass(frozen=True)
class Emitter(Site):
    """An enterprise's stack with its CEMS, its permit and typical operating values."""

    industry: str = ""
    permit: Permit = Permit(35, 50, 10)
    flow: float = 1.0e6  # m³/h at standard conditions
    o2: float = 6.0  # %
    flue_temperature: float = 50.0  # °C
    load: float = 0.6  # typical concentration as a share of the limit


AIR_STATIONS = (
    AirStation("env-aq-xixi", AIR_STATION, "Xixi Wetland", 30.2700, 120.0650, ("environment", "air"), 0),
    AirStation("env-aq-binjiang", AIR_STATION, "Binjiang", 30.2080, 120.2100, ("environment", "air"), 37),
    AirStation("env-aq-linping", AIR_STATION, "Linping", 30.4200, 120.3000, ("environment", "air"), 83),
)
WATER_STATIONS = (
    WaterStation(
        "env-wq-qiantang",
        WATER_STATION,
        "Qiantang River, Wenyan section",
        30.1500,
        120.1900,
        ("environment", "water"),
        water_body="river",
        target_class="III",
        codmn=3.6,
        nh3n=0.45,
        tp=0.12,
        tn=1.6,
    ),
    WaterStation(
        "env-wq-westlake",
        WATER_STATION,
        "West Lake, lake centre",
        30.2450,
        120.1450,
        ("environment", "water"),
        water_body="lake_reservoir",
        target_class="III",
        codmn=3.2,
        nh3n=0.25,
        tp=0.035,
        tn=0.95,
    ),
)
EMITTERS = (
    Emitter(
        "env-em-power",
        EMISSION_MONITOR,
        "Xiaoshan Power Plant, stack 1",
        30.1750,
        120.3300,
        ("environment", "emission", "power"),
        industry="coal-fired power (ultra-low emission)",
        permit=Permit(so2=35, nox=50, dust=10),
        flow=1.8e6,
        o2=6.0,
        flue_temperature=48.0,
        load=0.55,
    ),
    Emitter(
        "env-em-cement",
        EMISSION_MONITOR,
        "Fuyang Cement, kiln tail",
        30.0500,
        119.9600,
        ("environment", "emission", "cement"),
        industry="cement kiln (GB 4915-2013)",
        permit=Permit(so2=200, nox=400, dust=30),
        flow=4.5e5,
        o2=10.0,
        flue_temperature=110.0,
        load=0.6,
    ),
    Emitter(
        "env-em-incinerator",
        EMISSION_MONITOR,
        "Jiufeng Waste-to-Energy, line 2",
        30.3600,
        119.9800,
        ("environment", "emission", "waste"),
        industry="waste incineration (GB 18485-2014)",
        permit=Permit(so2=100, nox=300, dust=30),
        flow=1.6e5,
        o2=11.0,
        flue_temperature=150.0,
        load=0.5,
    ),
)
SITES: tuple[Site, ...] = (*AIR_STATIONS, *WATER_STATIONS, *EMITTERS)
