"""Alarm life cycle and de-duplication, persisted on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from iplus.core.errors import Conflict, NotFound
from iplus.engines.stream.alarms import AlarmBook, AlarmFilter, RuleInfo
from iplus.engines.stream.evaluators import Signal
from iplus.infra.db.engine import Database
from iplus.infra.db.models import Organisation

S = 1_000_000


async def orgs(database: Database) -> tuple[str, str]:
    async with database.transaction() as s:
        a, b = Organisation(name="A", roles=["user"]), Organisation(name="B", roles=["user"])
        s.add_all([a, b])
    return a.id, b.id


def sig(org: str, kind: str, subject: str, t: int, value: float = 31.0) -> Signal:
    return Signal(org, "rule-1", kind, subject, t * S, value, f"temp = {value}")


async def test_life_cycle_and_de_duplication(database: Database) -> None:
    a, b = await orgs(database)
    book = AlarmBook(database)
    rules = {(a, "rule-1"): RuleInfo("hot", "critical"), (b, "rule-1"): RuleInfo("hot", "minor")}
    [raised] = await book.apply([sig(a, "raise", "d1", 10)], rules)
    assert raised.change == "raised" and raised.alarm["count"] == 1 and raised.alarm["severity"] == "critical"
    # the same rule and device again: one alarm, its counter and last-seen time move
    changes = await book.apply([sig(a, "raise", "d1", 20, 35.0), sig(a, "raise", "d1", 30, 36.0)], rules)
    assert [c.change for c in changes] == ["repeated", "repeated"]
    alarm = changes[-1].alarm
    assert alarm["id"] == raised.alarm["id"] and alarm["count"] == 3 and alarm["value"] == 36.0
    assert alarm["raised_at"].startswith("1970-01-01T00:00:10") and alarm["last_seen_at"].startswith(
        "1970-01-01T00:00:30"
    )
    # another device, and the same device in another organisation, get alarms of their own
    other = await book.apply([sig(a, "raise", "d2", 11), sig(b, "raise", "d1", 12)], rules)
    assert [c.change for c in other] == ["raised", "raised"]
    assert len({raised.alarm["id"], *(c.alarm["id"] for c in other)}) == 3

    acked = await book.acknowledge(a, raised.alarm["id"], "user-1")
    assert acked.alarm["status"] == "acknowledged" and acked.alarm["acknowledged_by"] == "user-1"
    # still active while acknowledged: a repeat bumps the same alarm
    [again] = await book.apply([sig(a, "raise", "d1", 40)], rules)
    assert again.alarm["id"] == raised.alarm["id"] and again.alarm["status"] == "acknowledged"
    [cleared] = await book.apply([sig(a, "clear", "d1", 50, 27.0)], rules)
    assert cleared.alarm["status"] == "cleared" and cleared.alarm["cleared_by"] is None
    with pytest.raises(Conflict):
        await book.acknowledge(a, raised.alarm["id"], "user-1")
    with pytest.raises(Conflict):
        await book.clear(a, raised.alarm["id"], "user-1")
    # a clear without an active alarm changes nothing; a new raise opens a new alarm
    assert await book.apply([sig(a, "clear", "d1", 55)], rules) == []
    [fresh] = await book.apply([sig(a, "raise", "d1", 60)], rules)
    assert fresh.change == "raised" and fresh.alarm["id"] != raised.alarm["id"]

    # raised -> cleared by hand, and another tenant cannot see or touch it
    with pytest.raises(NotFound):
        await book.clear(b, fresh.alarm["id"], "intruder")
    by_hand = await book.clear(a, fresh.alarm["id"], "user-1")
    assert by_hand.alarm["status"] == "cleared" and by_hand.alarm["cleared_by"] == "user-1"

    page, total = await book.page(a, AlarmFilter(), limit=2)
    assert total == 3 and len(page) == 2
    active, n = await book.page(a, AlarmFilter(status="active"))
    assert n == 1 and active[0]["subject"] == "d2"
    cleared_list, n = await book.page(a, AlarmFilter(status="cleared", subject="d1"))
    assert n == 2 and {x["status"] for x in cleared_list} == {"cleared"}
    assert (await book.page(a, AlarmFilter(severity="minor")))[1] == 0
    assert (await book.page(b, AlarmFilter(severity="minor", rule="hot")))[1] == 1
    assert sorted(await book.active()) == sorted([(a, "rule-1", "d2"), (b, "rule-1", "d1")])


async def test_cleared_alarms_keep_history_and_rule_deletion_clears(database: Database) -> None:
    a, _ = await orgs(database)
    book = AlarmBook(database)
    rules = {(a, "rule-1"): RuleInfo("hot", "major")}
    for t in range(3):  # raise, clear, raise, clear...: each cycle a new row
        await book.apply([sig(a, "raise", "d1", 10 * t)], rules)
        await book.apply([sig(a, "clear", "d1", 10 * t + 5)], rules)
    await book.apply([sig(a, "raise", "d1", 100)], rules)
    changes = await book.clear_rule(a, "rule-1", "rule deleted")
    assert [c.alarm["detail"] for c in changes] == ["rule deleted"]
    assert (await book.page(a, AlarmFilter(status="cleared")))[1] == 4
