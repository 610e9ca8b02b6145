"""FAO-56 root-zone water balance: hand calculations from the chapter 8 equations, and the balance's
invariants (mass conservation, 0 <= Dr <= TAW) over random days."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iplus.apps.agriculture.water_balance import adjusted_p, step
from iplus.core.errors import InvalidInput

SOIL = {"theta_fc": 0.30, "theta_wp": 0.15, "root_depth": 0.5, "p_table": 0.5}


def test_taw_raw_and_no_stress_below_raw() -> None:
    # TAW = 1000 x 0.15 x 0.5 = 75 mm; ETc = 5 mm so p stays 0.5; RAW = 37.5 mm
    out = step(**SOIL, et0=5.0, kc=1.0, depletion_previous=20.0)
    assert out["taw"] == pytest.approx(75.0)
    assert out["p"] == pytest.approx(0.5)
    assert out["raw"] == pytest.approx(37.5)
    assert out["ks"] == 1.0
    assert out["etc_adj"] == pytest.approx(5.0)
    assert out["depletion"] == pytest.approx(25.0)
    assert not out["irrigate"] and out["net_irrigation"] == 0


def test_stress_above_raw_and_the_irrigation_decision() -> None:
    # Dr,i-1 = 45 > RAW: Ks = (75 - 45)/((1 - 0.5) 75) = 0.8; ETc adj = 4; Dr = 49 >= RAW: irrigate 49 mm
    out = step(**SOIL, et0=5.0, kc=1.0, depletion_previous=45.0)
    assert out["ks"] == pytest.approx(0.8)
    assert out["etc_adj"] == pytest.approx(4.0)
    assert out["depletion"] == pytest.approx(49.0)
    assert out["water_stress"] and out["irrigate"]
    assert out["net_irrigation"] == pytest.approx(49.0)


def test_p_is_adjusted_for_etc_within_its_limits() -> None:
    assert adjusted_p(0.5, 3.0) == pytest.approx(0.58)  # 0.5 + 0.04 (5 - 3)
    assert adjusted_p(0.5, 8.0) == pytest.approx(0.38)
    assert adjusted_p(0.78, 0.0) == 0.8
    assert adjusted_p(0.1, 10.0) == 0.1


def test_rain_beyond_field_capacity_percolates() -> None:
    # 30 mm rain, 2 mm runoff, ETc 4: DP = 28 - 4 - 10 = 14 mm, Dr = 0
    out = step(**SOIL, et0=4.0, kc=1.0, depletion_previous=10.0, precipitation=30.0, runoff=2.0)
    assert out["deep_percolation"] == pytest.approx(14.0)
    assert out["depletion"] == 0


def test_the_root_zone_cannot_give_more_than_it_holds() -> None:
    # a shallow root zone (TAW 7.5 mm) under ETc 12 mm: Ks = 0.5/((1 - 0.22) 7.5) = 0.085 would take 1.03 mm
    # though only 0.5 mm is left; the day ends at TAW having lost 0.5 mm
    out = step(**(SOIL | {"root_depth": 0.05}), et0=10.0, kc=1.2, depletion_previous=7.0)
    assert out["ks"] * out["etc"] == pytest.approx(0.5 / (0.78 * 7.5) * 12)
    assert out["depletion"] == pytest.approx(7.5)
    assert out["etc_adj"] == pytest.approx(0.5)


@settings(max_examples=200, deadline=None)
@given(
    fc=st.floats(0.2, 0.5),
    wp=st.floats(0.02, 0.19),
    zr=st.floats(0.1, 2.0),
    p=st.floats(0.1, 0.8),
    eto=st.floats(0, 12),
    kc=st.floats(0, 1.3),
    share=st.floats(0, 1),
    rain=st.floats(0, 80),
    irrigation=st.floats(0, 50),
    cr=st.floats(0, 3),
)
def test_mass_balance_and_bounds(
    fc: float,
    wp: float,
    zr: float,
    p: float,
    eto: float,
    kc: float,
    share: float,
    rain: float,
    irrigation: float,
    cr: float,
) -> None:
    taw = 1000 * (fc - wp) * zr
    previous = share * taw
    out = step(
        theta_fc=fc,
        theta_wp=wp,
        root_depth=zr,
        p_table=p,
        et0=eto,
        kc=kc,
        depletion_previous=previous,
        precipitation=rain,
        irrigation=irrigation,
        capillary_rise=cr,
    )
    assert -1e-9 <= out["depletion"] <= out["taw"] + 1e-9
    assert 0 <= out["ks"] <= 1 and 0 <= out["etc_adj"] <= out["etc"] + 1e-9
    inflow = rain + irrigation + cr
    # Eq. 85: what came in either filled the deficit, left as ET or percolated
    assert out["depletion"] == pytest.approx(
        previous - inflow + out["etc_adj"] + out["deep_percolation"], abs=1e-6
    )
    assert out["irrigate"] == (out["depletion"] >= out["raw"])


def test_bad_inputs_are_listed() -> None:
    with pytest.raises(InvalidInput) as err:
        step(
            theta_fc=0.1,
            theta_wp=0.2,
            root_depth=1,
            p_table=0.5,
            et0=5,
            kc=1,
            depletion_previous=0,
            precipitation=1,
            runoff=2,
        )
    assert set(err.value.extra["errors"]) == {
        "/theta_wp: must be below theta_fc",
        "/runoff: cannot exceed the precipitation",
    }
    with pytest.raises(InvalidInput) as err:
        step(**SOIL, et0=5, kc=1, depletion_previous=80)
    assert err.value.extra["errors"][0].startswith("/depletion_previous:")
