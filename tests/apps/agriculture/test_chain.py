"""The hash chain itself: canonical JSON, step hashes against hashlib on hand-written text, verification."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

from iplus.apps.agriculture.chain import (
    GENESIS,
    StepContent,
    StoredStep,
    canonical_json,
    order_problem,
    step_hash,
    verify,
)

AT = datetime(2026, 7, 1, 10, 30, 15, 987654, tzinfo=timezone(timedelta(hours=2)))


def test_canonical_json_and_the_hash_of_a_step_written_out_by_hand() -> None:
    content = StepContent("abc", 1, "harvest", AT, "Crew 2", "Nordfeld", {"kg": 1200, "grade": "A", "t": 2.5})
    text = (
        '{"actor":"Crew 2","at":"2026-07-01T08:30:15Z","batch":"abc","data":{"grade":"A","kg":1200,"t":2.5},'
        '"kind":"harvest","location":"Nordfeld","seq":1}'
    )
    assert canonical_json(content.document()) == text
    assert step_hash(GENESIS, content) == hashlib.sha256(("0" * 64 + text).encode()).hexdigest()
    # non-ASCII text is hashed as UTF-8, not as \\u escapes
    assert canonical_json({"ort": "Müncheberg"}) == '{"ort":"Müncheberg"}'


def chain(kinds: list[str]) -> list[StoredStep]:
    prev, out = GENESIS, []
    for seq, kind in enumerate(kinds, start=1):
        c = StepContent(
            "b1", seq, kind, datetime(2026, 7, seq, tzinfo=UTC), f"actor {seq}", "here", {"n": seq}
        )
        h = step_hash(prev, c)
        out.append(StoredStep(c, prev, h))
        prev = h
    return out


def test_an_intact_chain_verifies_and_each_kind_of_tampering_is_found() -> None:
    steps = chain(["harvest", "processing", "transport", "shelf"])
    ok = verify(steps, steps[-1].hash, 4)
    assert ok.ok and ok.steps == 4 and ok.head == steps[-1].hash and ok.first_bad is None
    # a changed detail
    altered = list(steps)
    c = altered[1].content
    altered[1] = StoredStep(
        StepContent(c.batch, c.seq, c.kind, c.at, c.actor, c.location, {"n": 99}),
        altered[1].prev_hash,
        altered[1].hash,
    )
    v = verify(altered, steps[-1].hash, 4)
    assert (
        not v.ok
        and v.first_bad == 2
        and v.problems == [{"seq": 2, "reason": "its content does not match its hash: altered"}]
    )
    # a changed detail with its own hash recomputed: the next step no longer links to it
    relinked = list(altered)
    relinked[1] = StoredStep(
        relinked[1].content, relinked[1].prev_hash, step_hash(relinked[1].prev_hash, relinked[1].content)
    )
    v = verify(relinked, steps[-1].hash, 4)
    assert v.first_bad == 3 and v.problems[0]["reason"] == "does not link to the previous step's hash"
    # the last step dropped
    v = verify(steps[:3], steps[-1].hash, 4)
    assert not v.ok and {p["reason"] for p in v.problems} == {
        "the batch counts 4 steps, 3 are stored",
        "the batch's head hash is not the last step's hash",
    }
    # a step taken out of the middle
    v = verify([steps[0], steps[2], steps[3]], steps[-1].hash, 3)
    assert v.first_bad == 3 and "step 2 is numbered 3" in v.problems[0]["reason"]


def test_order_of_a_record() -> None:
    assert order_problem([], "harvest") is None
    assert order_problem([], "transport") == "a record starts with its harvest"
    assert order_problem(["harvest"], "harvest") == "a batch is harvested once, in its first step"
    assert order_problem(["harvest", "transport", "processing", "transport"], "shelf") is None
    assert (
        order_problem(["harvest", "shelf"], "transport") == "the batch is on the shelf: its record is closed"
    )
    assert order_problem(["harvest"], "eaten") == "kind must be one of harvest, processing, transport, shelf"
    # a stored record in the wrong order does not verify, even with sound hashes
    v = verify(chain(["harvest", "shelf", "transport"]), chain(["harvest", "shelf", "transport"])[-1].hash, 3)
    assert v.problems == [{"seq": 3, "reason": "the batch is on the shelf: its record is closed"}]
