"""Beta reputation with ageing against hand-computed values, stored evidence, and reputation in matching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from iplus.core.roles import Role
from iplus.infra.db.engine import Database
from iplus.infra.db.migrate import upgrade
from iplus.infra.db.models_systems import (
    ServiceExecution,
    ServicePlan,
    ServiceRating,
    ServiceRun,
    ServiceRunTask,
    ServiceSystem,
)
from iplus.platform.catalog.matching import Candidate, Requirement, match, saw
from iplus.platform.catalog.spec import Qos
from iplus.platform.systems.reputation import (
    Evidence,
    Reputations,
    age_weight,
    execution_evidence,
    rating_evidence,
    standing,
)
from tests.catalog.helpers import org

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def test_no_evidence_is_a_half() -> None:
    assert standing([], T0).reputation == 0.5


def test_one_success_ten_days_old() -> None:
    # 0.98^10 = 0.817072806887546... (ten multiplications by hand); (w + 1) / (w + 2)
    w = 0.8170728068875467
    got = standing([execution_evidence(True, T0)], T0 + 10 * DAY)
    assert got.positive == pytest.approx(w, rel=1e-15) and got.negative == 0
    assert got.reputation == pytest.approx(1.8170728068875467 / 2.8170728068875467, rel=1e-15)


def test_mixed_evidence_ageing_hand_computed() -> None:
    now = T0 + 5 * DAY
    evidence = [
        execution_evidence(True, now),  # weight 1
        execution_evidence(True, now - DAY),  # 0.98
        execution_evidence(True, now - 2 * DAY),  # 0.9604
        execution_evidence(False, now - 5 * DAY),  # 0.98^5 = 0.9039207968
        rating_evidence(2, now),  # 0.25 positive, 0.75 negative
    ]
    r = 1 + 0.98 + 0.9604 + 0.25  # 3.1904
    s = 0.9039207968 + 0.75  # 1.6539207968
    got = standing(evidence, now)
    assert got.positive == pytest.approx(3.1904, abs=1e-12)
    assert got.negative == pytest.approx(1.6539207968, abs=1e-12)
    assert got.reputation == pytest.approx((r + 1) / (r + s + 2), abs=1e-12)
    assert got.reputation == pytest.approx(4.1904 / 6.8443207968, abs=1e-12)


def test_half_day_ageing_and_other_lambda() -> None:
    # lambda 0.5 per day, 12 h old: 0.5^0.5 = 1/sqrt(2)
    assert age_weight(T0, T0 + DAY / 2, 0.5) == pytest.approx(2**-0.5, rel=1e-15)
    # evidence stamped after "now" (clock skew between processes) counts as new, never as more than 1
    assert age_weight(T0 + DAY, T0) == 1.0
    failure = standing([execution_evidence(False, T0)], T0 + 2 * DAY, lam=0.5)
    assert failure.reputation == pytest.approx(1 / (0.25 + 2), rel=1e-15)


def test_ratings_map_to_evidence() -> None:
    assert [(e.positive, e.negative) for e in (rating_evidence(k, T0) for k in range(1, 6))] == [
        (0.0, 1.0),
        (0.25, 0.75),
        (0.5, 0.5),
        (0.75, 0.25),
        (1.0, 0.0),
    ]
    for bad in (0, 6, True, 3.0):
        with pytest.raises(ValueError):
            rating_evidence(bad, T0)  # type: ignore[arg-type]
    # five five-star ratings today: (5 + 1) / (5 + 2)
    assert standing([rating_evidence(5, T0)] * 5, T0).reputation == pytest.approx(6 / 7, rel=1e-15)
    assert standing([Evidence(T0, 0, 0)], T0).reputation == 0.5


async def _execution(db: Database, user: str, provider: str, offer: str, success: bool, at: datetime) -> str:
    """Store one execution (and the run rows it hangs on); the run task's id."""
    async with db.transaction() as s:
        system = ServiceSystem(org_id=user, name="s", requirement={}, plans=1)
        s.add(system)
        await s.flush()
        plan = ServicePlan(
            org_id=user,
            system_id=system.id,
            number=1,
            status="optimal",
            method="cp-sat",
            choice={},
            aggregate={},
            utility=1.0,
            explanation=[],
            ranking={},
        )
        s.add(plan)
        await s.flush()
        run = ServiceRun(
            org_id=user, system_id=system.id, plan_id=plan.id, plan_number=1, outcomes={}, inputs={}
        )
        s.add(run)
        await s.flush()
        row = ServiceRunTask(
            org_id=user,
            run_id=run.id,
            key="t",
            task_id="t",
            position=0,
            after=[],
            offer_id=offer,
            offer_version=1,
            provider_org_id=provider,
            option={},
        )
        s.add(row)
        await s.flush()
        s.add(
            ServiceExecution(
                org_id=user,
                provider_org_id=provider,
                offer_id=offer,
                offer_version=1,
                run_id=run.id,
                run_task_id=row.id,
                task_id="t",
                success=success,
                actual_time_h=2.5 if success else 1.0,
                cost=40.0 if success else 0.0,
                currency="EUR",
                promised_time_h=2.0,
                promised_cost=40.0,
                promised_reliability=0.9,
                promised_availability=0.9,
                finished_at=at,
            )
        )
        return row.id


async def test_stored_evidence_per_offer_and_per_provider(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    await upgrade(db)
    user, p, q = (
        (await org(db, "U", Role.USER)),
        (await org(db, "P", Role.PROVIDER)),
        (await org(db, "Q", Role.PROVIDER)),
    )
    now = T0 + 4 * DAY
    await _execution(db, user.org_id, p.org_id, "offer-a", True, T0 + 4 * DAY)
    rated = await _execution(db, user.org_id, p.org_id, "offer-a", False, T0 + 3 * DAY)
    await _execution(db, user.org_id, p.org_id, "offer-b", True, T0 + 2 * DAY)
    async with db.transaction() as s:
        task = await s.get(ServiceRunTask, rated)
        assert task is not None
        s.add(
            ServiceRating(
                org_id=user.org_id,
                provider_org_id=p.org_id,
                offer_id="offer-a",
                run_id=task.run_id,
                run_task_id=rated,
                stars=1,
                created_at=T0 + 4 * DAY,
            )
        )
    reps = Reputations(db)
    offers = await reps.offers(["offer-a", "offer-b", "offer-c"], now)
    # offer a: success today (1), failure a day ago (0.98), one star today (0, 1)
    assert offers["offer-a"].reputation == pytest.approx(2 / 4.98, rel=1e-12)  # (1 + 1) / (1 + 1.98 + 2)
    assert (offers["offer-a"].executions, offers["offer-a"].successes, offers["offer-a"].ratings) == (2, 1, 1)
    # offer b: success two days ago (0.9604)
    assert offers["offer-b"].reputation == pytest.approx(1.9604 / 2.9604, rel=1e-12)
    assert offers["offer-c"].reputation == 0.5 and offers["offer-c"].executions == 0
    provider = await reps.providers([p.org_id, q.org_id], now)
    r, s_ = 1 + 0.9604, 0.98 + 1
    assert provider[p.org_id].reputation == pytest.approx((r + 1) / (r + s_ + 2), rel=1e-12)
    assert provider[q.org_id].reputation == 0.5
    # an offer without evidence ranks with its provider's reputation
    ranked = await reps.for_options(
        [("offer-b", p.org_id), ("offer-new", p.org_id), ("offer-x", q.org_id)], now
    )
    assert ranked == {
        "offer-b": offers["offer-b"].reputation,
        "offer-new": provider[p.org_id].reputation,
        "offer-x": 0.5,
    }
    history = await reps.histories(["offer-a", "offer-c"])
    assert history["offer-a"].successes == 1 and history["offer-a"].failures == 1
    assert history["offer-a"].durations_h == (2.5,) and history["offer-a"].costs == (40.0,)
    assert history["offer-c"].executions == 0
    with pytest.raises(ValueError):
        Reputations(db, lam=1.5)
    await db.close()


def _cand(oid: str, reputation: float | None) -> Candidate:
    return Candidate(
        offer_id=oid,
        version=1,
        org_id="p",
        title=oid,
        capability_type="milling",
        inputs={},
        required_inputs=frozenset(),
        qos=Qos(100, "EUR", 2, 0.9, 0.9, 1),
        reputation=reputation,
    )


def test_matching_ranks_by_reputation_only_when_weighed() -> None:
    cands = [_cand("low", 0.2), _cand("high", 0.8), _cand("unknown", None)]
    ranked, _ = match(Requirement(type="milling", weights={"reputation": 1}), cands, lambda t: [t], T0)
    assert [m.candidate.offer_id for m in ranked] == ["high", "unknown", "low"]
    # unknown counts as 0.5: normalised (0.5 - 0.2) / (0.8 - 0.2)
    assert ranked[1].score == pytest.approx(0.5, abs=1e-12)
    _, breakdown = saw(cands, {"price": 1})[0]
    assert "reputation" not in breakdown
