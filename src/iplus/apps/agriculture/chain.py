"""The hash chain of a batch's record: canonical JSON, step hashes, and verification.

Each step's content is ``{"batch", "seq", "kind", "at", "actor", "location", "data"}``; its hash is
``SHA-256(previous hash + canonical JSON of the content)`` as lower-case hex, the first step's previous
hash being 64 zeros. Canonical JSON: keys sorted, no insignificant white space, UTF-8 without escaping
non-ASCII characters, numbers as Python writes them (integers as digits, floats as the shortest
round-trip decimal) - for the strings, integers and finite decimals stored here that is RFC 8785
(JSON Canonicalization Scheme), except that a float with an integral value keeps its ".0".

Order of a record: harvest first (exactly once), then processing and transport in any order and number,
shelf last; nothing follows the shelf.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from iplus.core.clock import as_utc

GENESIS = "0" * 64
KINDS = ("harvest", "processing", "transport", "shelf")


def canonical_json(value: Any) -> str:
    """The canonical text of a JSON value (see the module docstring)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def timestamp(at: datetime) -> str:
    """A step time as hashed: UTC, whole seconds, ``YYYY-MM-DDTHH:MM:SSZ``."""
    return as_utc(at).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class StepContent:
    """What one step says; exactly what is hashed."""

    batch: str
    seq: int
    kind: str
    at: datetime
    actor: str
    location: str
    data: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The content as the JSON object that is hashed."""
        return {
            "batch": self.batch,
            "seq": self.seq,
            "kind": self.kind,
            "at": timestamp(self.at),
            "actor": self.actor,
            "location": self.location,
            "data": self.data,
        }


def step_hash(prev_hash: str, content: StepContent) -> str:
    """SHA-256 of the previous hash followed by the step's canonical JSON, hex."""
    return hashlib.sha256((prev_hash + canonical_json(content.document())).encode("utf-8")).hexdigest()


def order_problem(previous_kinds: Sequence[str], kind: str) -> str | None:
    """Why ``kind`` cannot follow ``previous_kinds`` (None when it can)."""
    if kind not in KINDS:
        return f"kind must be one of {', '.join(KINDS)}"
    if not previous_kinds:
        return None if kind == "harvest" else "a record starts with its harvest"
    if kind == "harvest":
        return "a batch is harvested once, in its first step"
    if previous_kinds[-1] == "shelf":
        return "the batch is on the shelf: its record is closed"
    return None


@dataclass(frozen=True)
class StoredStep:
    """A step as read back from the store: its content and the hashes stored with it."""

    content: StepContent
    prev_hash: str
    hash: str


@dataclass
class Verification:
    """The outcome of checking a record: ok, and for each broken step why."""

    ok: bool
    steps: int
    head: str
    problems: list[dict[str, Any]]

    @property
    def first_bad(self) -> int | None:
        """The first step (seq) found broken, or None."""
        seqs = [p["seq"] for p in self.problems if p.get("seq") is not None]
        return min(seqs) if seqs else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "ok": self.ok,
            "steps": self.steps,
            "head": self.head,
            "first_bad": self.first_bad,
            "problems": self.problems,
        }


def verify(steps: Sequence[StoredStep], head_hash: str, step_count: int) -> Verification:
    """Recompute the chain: each stored hash, each link to the previous one, the order, and the head."""
    problems: list[dict[str, Any]] = []
    prev = GENESIS
    kinds: list[str] = []
    for i, step in enumerate(steps, start=1):
        c = step.content
        if c.seq != i:
            problems.append(
                {"seq": c.seq, "reason": f"step {i} is numbered {c.seq}: a step is missing or added"}
            )
        if step.prev_hash != prev:
            problems.append({"seq": c.seq, "reason": "does not link to the previous step's hash"})
        if step_hash(step.prev_hash, c) != step.hash:
            problems.append({"seq": c.seq, "reason": "its content does not match its hash: altered"})
        why = order_problem(kinds, c.kind)
        if why:
            problems.append({"seq": c.seq, "reason": why})
        kinds.append(c.kind)
        prev = step.hash
    if len(steps) != step_count:
        problems.append(
            {"seq": None, "reason": f"the batch counts {step_count} steps, {len(steps)} are stored"}
        )
    if prev != head_hash:
        problems.append({"seq": None, "reason": "the batch's head hash is not the last step's hash"})
    return Verification(not problems, len(steps), prev, problems)
