"""Crop, soil and irrigation-method tables for advice without field measurements of the parameters.

Crops: FAO-56 Table 12 (single crop coefficients Kc ini, Kc mid, Kc end for a sub-humid climate, RHmin
about 45 %, u2 about 2 m/s), Table 11 (lengths of the four growth stages, one planting period and region
per crop, named in ``season``) and Table 22 (range of the maximum effective rooting depth, and the depletion
fraction p at ETc 5 mm/day). Where Table 12 gives a range for Kc end the middle is taken. Kc through the
season follows FAO-56 Eq. 66: constant in the initial and mid-season stages, a straight line between them
in the development stage and from Kc mid to Kc end in the late-season stage.

Soils: FAO-56 Table 19 (typical θFC and θWP ranges per texture class); the middle of each range is used.

Irrigation methods: the typical field application efficiencies of FAO's Irrigation Water Management
Training Manual No. 4 (Brouwer, Prins, Heibloem, 1989): surface 60 %, sprinkler 75 %, drip 90 %.
"""

from __future__ import annotations

from dataclasses import dataclass

from iplus.core.errors import InvalidInput

STAGES = ("initial", "development", "mid_season", "late_season")


@dataclass(frozen=True)
class Crop:
    """A crop's FAO-56 coefficients, stage lengths (days), rooting depth range (m) and p."""

    title: str
    kc_ini: float
    kc_mid: float
    kc_end: float
    stages: tuple[int, int, int, int]  # Lini, Ldev, Lmid, Llate (Table 11)
    season: str  # the Table 11 row the lengths come from
    root_depth: tuple[float, float]  # Table 22 maximum effective rooting depth range
    p: float  # Table 22 depletion fraction at ETc = 5 mm/day

    @property
    def length(self) -> int:
        """Days of the whole growing season."""
        return sum(self.stages)


@dataclass(frozen=True)
class Soil:
    """A soil texture class with its typical water contents at field capacity and wilting point."""

    title: str
    theta_fc_range: tuple[float, float]
    theta_wp_range: tuple[float, float]

    @property
    def theta_fc(self) -> float:
        """θFC (m3/m3): the middle of the Table 19 range."""
        return (self.theta_fc_range[0] + self.theta_fc_range[1]) / 2

    @property
    def theta_wp(self) -> float:
        """θWP (m3/m3): the middle of the Table 19 range."""
        return (self.theta_wp_range[0] + self.theta_wp_range[1]) / 2


CROPS: dict[str, Crop] = {
    "maize": Crop(
        "Maize (field, grain)",
        0.30,
        1.20,
        0.35,
        (30, 40, 50, 30),
        "April, Spain and California",
        (1.0, 1.7),
        0.55,
    ),
    "tomato": Crop("Tomato", 0.60, 1.15, 0.80, (35, 40, 50, 30), "April/May, California", (0.7, 1.5), 0.40),
    "potato": Crop("Potato", 0.50, 1.15, 0.75, (30, 35, 50, 30), "April, Europe", (0.4, 0.6), 0.35),
    "spring_wheat": Crop(
        "Spring wheat", 0.30, 1.15, 0.25, (20, 25, 60, 30), "March/April, 35-45° latitude", (1.0, 1.5), 0.55
    ),
    "cotton": Crop("Cotton", 0.35, 1.17, 0.60, (30, 50, 55, 45), "April, Texas", (1.0, 1.7), 0.65),
    "sugar_beet": Crop("Sugar beet", 0.35, 1.20, 0.70, (50, 40, 50, 40), "April, Idaho", (0.7, 1.2), 0.55),
    "cabbage": Crop(
        "Cabbage", 0.70, 1.05, 0.95, (40, 60, 50, 15), "September, California desert", (0.5, 0.8), 0.45
    ),
}

SOILS: dict[str, Soil] = {
    "sand": Soil("Sand", (0.07, 0.17), (0.02, 0.07)),
    "loamy_sand": Soil("Loamy sand", (0.11, 0.19), (0.03, 0.10)),
    "sandy_loam": Soil("Sandy loam", (0.18, 0.28), (0.06, 0.16)),
    "loam": Soil("Loam", (0.20, 0.30), (0.07, 0.17)),
    "silt_loam": Soil("Silt loam", (0.22, 0.36), (0.09, 0.21)),
    "silt": Soil("Silt", (0.28, 0.36), (0.12, 0.22)),
    "silty_clay_loam": Soil("Silty clay loam", (0.30, 0.37), (0.17, 0.24)),
    "silty_clay": Soil("Silty clay", (0.30, 0.42), (0.17, 0.29)),
    "clay": Soil("Clay", (0.32, 0.40), (0.20, 0.24)),
}

METHODS: dict[str, float] = {"surface": 0.60, "sprinkler": 0.75, "drip": 0.90}


def kc_of(crop: Crop, season_day: int) -> tuple[str, float]:
    """The growth stage and Kc on a day of the season (1 = sowing or planting), FAO-56 Eq. 66."""
    ini, dev, mid, late = crop.stages
    if not 1 <= season_day <= crop.length:
        raise InvalidInput(
            f"day {season_day} is outside the season of {crop.title.lower()} (days 1 to {crop.length})",
            errors=[
                f"/season_day: day {season_day} is outside the season of {crop.title.lower()} "
                f"(days 1 to {crop.length}, FAO-56 Table 11)"
            ],
        )
    if season_day <= ini:
        return STAGES[0], crop.kc_ini
    if season_day <= ini + dev:
        return STAGES[1], crop.kc_ini + (season_day - ini) / dev * (crop.kc_mid - crop.kc_ini)
    if season_day <= ini + dev + mid:
        return STAGES[2], crop.kc_mid
    return STAGES[3], crop.kc_mid + (season_day - ini - dev - mid) / late * (crop.kc_end - crop.kc_mid)
