"""Matching: SAW against a hand-computed table, filters against an independent brute force."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from iplus.core.errors import InvalidInput
from iplus.platform.catalog.finder import lineage
from iplus.platform.catalog.matching import Candidate, Requirement, match, saw
from iplus.platform.catalog.spec import Qos, Window
from iplus.virtual.taxonomy import load_taxonomy

TAX = load_taxonomy()
NOW = datetime(2026, 6, 1, 8, tzinfo=UTC)


def cand(
    oid: str, price: float, time_h: float, rel: float, avail: float, cap: float, **kw: object
) -> Candidate:
    base: dict[str, object] = {
        "offer_id": oid,
        "version": 1,
        "org_id": "p",
        "title": oid,
        "capability_type": "milling",
        "inputs": {"material": None, "length": "mm"},
        "required_inputs": frozenset({"material"}),
        "qos": Qos(price, "EUR", time_h, rel, avail, cap),
    }
    base.update(kw)
    return Candidate(**base)  # type: ignore[arg-type]


# Hand-computed table (min-max normalisation; price and time are costs):
#        price time  rel   avail cap  | r_price r_time r_rel r_avail r_cap
#   A    100   10    0.90  0.95  2    | 1       0      0     5/9     1/3
#   B    150   5     0.99  0.99  4    | 0       1      1     1       1
#   C    120   8     0.95  0.90  1    | 3/5     2/5    5/9   0       0
# weights 0.4 / 0.2 / 0.2 / 0.1 / 0.1:
#   A = 2/5 + 1/18 + 1/30 = 22/45;  B = 3/5;  C = 6/25 + 2/25 + 1/9 = 97/225
TABLE = [
    cand("A", 100, 10, 0.90, 0.95, 2),
    cand("B", 150, 5, 0.99, 0.99, 4),
    cand("C", 120, 8, 0.95, 0.90, 1),
]
WEIGHTS = {"price": 0.4, "time": 0.2, "reliability": 0.2, "availability": 0.1, "capacity": 0.1}


def test_saw_matches_the_hand_computed_table() -> None:
    scores = [s for s, _ in saw(TABLE, WEIGHTS)]
    expected = [Fraction(22, 45), Fraction(3, 5), Fraction(97, 225)]
    for got, want in zip(scores, expected, strict=True):
        assert got == pytest.approx(float(want), abs=1e-12)
    _, breakdown = saw(TABLE, WEIGHTS)[2]
    assert breakdown["price"]["normalised"] == pytest.approx(0.6)
    assert breakdown["reliability"]["normalised"] == pytest.approx(5 / 9)
    assert breakdown["time"]["kind"] == "cost" and breakdown["capacity"]["kind"] == "benefit"


def test_weights_are_normalised_and_default_to_equal() -> None:
    # weights given as 4/2/2/1/1 mean the same as 0.4/0.2/...
    scaled = [s for s, _ in saw(TABLE, {k: v * 10 for k, v in WEIGHTS.items()})]
    assert scaled == pytest.approx([22 / 45, 3 / 5, 97 / 225])
    # equal weights: A = (1 + 0 + 0 + 5/9 + 1/3) / 5 = 17/45, B = 4/5, C = (3/5 + 2/5 + 5/9) / 5 = 14/45
    assert [s for s, _ in saw(TABLE, {})] == pytest.approx([17 / 45, 4 / 5, 14 / 45])


def test_ranking_and_reasons() -> None:
    ranked, rejected = match(
        Requirement(type="machining", weights=WEIGHTS), TABLE, lambda t: lineage(TAX, t), NOW
    )
    assert [m.candidate.offer_id for m in ranked] == ["B", "A", "C"] and not rejected
    top = ranked[0].reasons
    assert top["type_path"] == ["machining", "milling"]
    assert top["criteria"]["price"] == {
        "value": 150.0,
        "kind": "cost",
        "normalised": 0.0,
        "weight": pytest.approx(0.4),
        "contribution": 0.0,
    }
    # a cheaper-only user puts A first
    ranked, _ = match(
        Requirement(type="machining", weights={"price": 1}), TABLE, lambda t: lineage(TAX, t), NOW
    )
    assert [m.candidate.offer_id for m in ranked] == ["A", "C", "B"]


def test_functional_match_type_and_parameters() -> None:
    lin = lambda t: lineage(TAX, t)  # noqa: E731
    turning = cand("T", 1, 1, 1, 1, 1, capability_type="turning")
    printing = cand("P", 1, 1, 1, 1, 1, capability_type="fdm_printing")
    ranked, rejected = match(Requirement(type="machining"), [TABLE[0], turning, printing], lin, NOW)
    assert {m.candidate.offer_id for m in ranked} == {"A", "T"}
    assert rejected[0].reason == "type fdm_printing is not a machining"
    # milling does not match a requirement for turning (no upward subsumption)
    assert not match(Requirement(type="turning"), [TABLE[0]], lin, NOW)[0]
    # units must be equal; unknown parameters are refused; the offer's required inputs must be given
    assert match(Requirement(type="milling", parameters={"length": "mm", "material": None}), TABLE, lin, NOW)[
        0
    ]
    _, rej = match(
        Requirement(type="milling", parameters={"length": "cm", "material": None}), TABLE[:1], lin, NOW
    )
    assert rej[0].reason == "input length is in mm, not cm"
    _, rej = match(Requirement(type="milling", parameters={"colour": None}), TABLE[:1], lin, NOW)
    assert rej[0].reason == "input colour is not accepted"
    _, rej = match(Requirement(type="milling", parameters={"length": "mm"}), TABLE[:1], lin, NOW)
    assert rej[0].reason == "the offer also needs material"


def test_bad_requirements_are_refused() -> None:
    lin = lambda t: lineage(TAX, t)  # noqa: E731
    for req in (
        Requirement(type="milling", weights={"colour": 1}),
        Requirement(type="milling", weights={"price": -1}),
        Requirement(type="milling", weights={"price": 0}),
        Requirement(type="milling", near=(1, 2)),
    ):
        with pytest.raises(InvalidInput):
            match(req, TABLE, lin, NOW)


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    # spherical law of cosines: a different formula from the code's haversine
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    c = math.sin(la1) * math.sin(la2) + math.cos(la1) * math.cos(la2) * math.cos(lo2 - lo1)
    return 6371.0088 * math.acos(max(-1.0, min(1.0, c)))


def _brute(req: Requirement, c: Candidate) -> bool:
    q = c.qos
    if not TAX.is_a(c.capability_type, req.type):
        return False
    if req.max_price is not None and q.price > req.max_price:
        return False
    if req.max_time_h is not None and q.time_h > req.max_time_h:
        return False
    if req.min_reliability is not None and q.reliability < req.min_reliability:
        return False
    if req.min_availability is not None and q.availability < req.min_availability:
        return False
    if req.min_capacity is not None and q.capacity < req.min_capacity:
        return False
    if req.deadline is not None:
        begin = req.window.start if req.window else NOW
        if begin + timedelta(hours=q.time_h) > req.deadline:
            return False
    if req.near is not None and req.radius_km is not None:
        if (
            c.latitude is None
            or c.longitude is None
            or _km(req.near, (c.latitude, c.longitude)) > req.radius_km
        ):
            return False
    if req.window is not None and c.calendar:
        if not any(w.start <= req.window.start and req.window.end <= w.end for w in c.calendar):
            return False
    return True


def test_filters_agree_with_brute_force() -> None:
    rng = random.Random(5)
    types = [n.id for n in TAX.subtree("capability/manufacturing")]
    cands = []
    for i in range(300):
        day = NOW + timedelta(days=rng.randint(0, 5))
        cal = tuple(
            Window(day + timedelta(hours=h), day + timedelta(hours=h + rng.randint(2, 30)))
            for h in rng.sample(range(24), 2)
        )
        located = rng.random() < 0.8
        cands.append(
            cand(
                f"o{i:03d}",
                rng.uniform(10, 500),
                rng.uniform(0.5, 72),
                rng.uniform(0.8, 1),
                rng.uniform(0.8, 1),
                float(rng.randint(1, 10)),
                capability_type=rng.choice(types),
                calendar=cal if rng.random() < 0.7 else (),
                latitude=rng.uniform(45, 55) if located else None,
                longitude=rng.uniform(5, 15) if located else None,
            )
        )
    checked = 0
    for _ in range(150):
        start = NOW + timedelta(hours=rng.randint(0, 120))
        window = Window(start, start + timedelta(hours=rng.randint(1, 12))) if rng.random() < 0.5 else None
        req = Requirement(
            type=rng.choice(
                ["capability/manufacturing", "machining", "additive_manufacturing", "milling", "welding"]
            ),
            max_price=rng.choice([None, rng.uniform(50, 400)]),
            max_time_h=rng.choice([None, rng.uniform(1, 60)]),
            min_reliability=rng.choice([None, rng.uniform(0.8, 1)]),
            min_availability=rng.choice([None, rng.uniform(0.8, 1)]),
            min_capacity=rng.choice([None, float(rng.randint(1, 10))]),
            deadline=rng.choice([None, NOW + timedelta(hours=rng.randint(2, 200))]),
            near=(50.0, 10.0) if rng.random() < 0.4 else None,
            window=window,
        )
        if req.near is not None:
            req = Requirement(**{**req.__dict__, "radius_km": rng.uniform(50, 600)})
        ranked, rejected = match(req, cands, lambda t: lineage(TAX, t), NOW)
        got = {m.candidate.offer_id for m in ranked}
        assert got == {c.offer_id for c in cands if _brute(req, c)}
        assert len(ranked) + len(rejected) == len(cands)
        scores = [m.score for m in ranked]
        assert scores == sorted(scores, reverse=True)
        checked += len(got)
    assert checked > 100  # the requirements are not so tight that nothing ever passes
