"""FAO-56 root-zone soil water balance (chapter 8): one daily step and the irrigation decision.

TAW = 1000 (θFC - θWP) Zr (Eq. 82); p = p_table + 0.04 (5 - ETc), 0.1 <= p <= 0.8 (Table 22 footnote);
RAW = p TAW (Eq. 83); Ks = (TAW - Dr) / ((1 - p) TAW) when Dr > RAW, else 1 (Eq. 84); ETc adj = Ks Kc ET0
(Eq. 80); Dr,i = Dr,i-1 - (P - RO)i - Ii - CRi + ETc,i + DPi (Eq. 85) with 0 <= Dr,i <= TAW (Eq. 86);
DPi = (P - RO)i + Ii - ETc,i - Dr,i-1 >= 0 (Eq. 88). Irrigate when Dr,i >= RAW; the net depth refills the
root zone to field capacity (Dr,i).

Choices where the paper leaves one open, stated so a specialist can check them: Ks uses the depletion at
the start of the day, Dr,i-1; capillary rise joins the water input of Eq. 88 so that Dr never falls
below zero (Eq. 86); if the day's ETc adj would deplete beyond TAW it is cut to what the root zone holds.
"""

from __future__ import annotations

from typing import Any

from iplus.core.errors import InvalidInput

P_MIN, P_MAX = 0.1, 0.8


def adjusted_p(p_table: float, etc: float) -> float:
    """Table 22 footnote: the depletion fraction corrected for the day's ETc (mm/day), kept in 0.1-0.8."""
    return min(P_MAX, max(P_MIN, p_table + 0.04 * (5 - etc)))


def step(
    *,
    theta_fc: float,
    theta_wp: float,
    root_depth: float,
    p_table: float,
    et0: float,
    kc: float,
    depletion_previous: float,
    precipitation: float = 0.0,
    runoff: float = 0.0,
    irrigation: float = 0.0,
    capillary_rise: float = 0.0,
) -> dict[str, Any]:
    """One day of the root-zone balance: depletion, stress, deep percolation and whether to irrigate."""
    problems = []
    if theta_wp >= theta_fc:
        problems.append("/theta_wp: must be below theta_fc")
    if runoff > precipitation:
        problems.append("/runoff: cannot exceed the precipitation")
    taw = 1000 * (theta_fc - theta_wp) * root_depth
    if not problems and depletion_previous > taw:
        problems.append(f"/depletion_previous: above the total available water TAW = {taw:.2f} mm")
    if problems:
        raise InvalidInput("the soil water balance cannot be computed", errors=problems)
    etc = kc * et0
    p = adjusted_p(p_table, etc)
    raw = p * taw
    if depletion_previous > raw:
        ks = (taw - depletion_previous) / ((1 - p) * taw)
    else:
        ks = 1.0
    etc_adj = ks * etc
    water_in = precipitation - runoff + irrigation + capillary_rise
    deep_percolation = max(0.0, water_in - etc_adj - depletion_previous)
    # Eq. 86 bounds Dr below by 0; when water drains (DP > 0) the sum cancels to 0 only up to rounding,
    # and a -1e-15 carried into the next day would be refused as a negative depletion
    depletion = max(0.0, depletion_previous - water_in + etc_adj + deep_percolation)
    if depletion > taw:
        # the root zone cannot give more than it holds: the day's actual ET is what was left
        etc_adj -= depletion - taw
        depletion = taw
    irrigate = depletion >= raw
    return {
        "taw": taw,
        "p": p,
        "raw": raw,
        "etc": etc,
        "ks": ks,
        "etc_adj": etc_adj,
        "effective_precipitation": precipitation - runoff,
        "deep_percolation": deep_percolation,
        "depletion": depletion,
        "water_stress": ks < 1,
        "irrigate": irrigate,
        "net_irrigation": depletion if irrigate else 0.0,
    }
