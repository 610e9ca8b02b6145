"""The stream engine: per-organisation compiled rules over batches of stored messages.

``process`` runs synchronously on the event loop for each append's new messages and returns the
signals (raise / clear) the rules produced; persisting alarms and running actions is the caller's
job, in tasks. Event time is each reading's own time. Per device and key, a reading older than
the newest one already seen is late: threshold, sequence and anomaly rules skip it (their state
moves forward in event time only) and windows apply their own watermark (see ``windows``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from iplus.engines.stream.detector import DetectorFactory
from iplus.engines.stream.evaluators import (
    AnomalyEval,
    DerivedEval,
    DeviceInfo,
    Evaluator,
    SequenceEval,
    Signal,
    Target,
    ThresholdEval,
    WindowEval,
)
from iplus.engines.stream.model import (
    AnomalyRule,
    DerivedRule,
    Rule,
    SequenceRule,
    ThresholdRule,
    WindowRule,
)
from iplus.infra.telemetry import Message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedRule:
    """A stored rule to run: its id and version (state is kept while both stay the same)."""

    rule_id: str
    version: int
    rule: Rule


@dataclass
class Derived:
    """A calculated reading the derived rules produced."""

    org_id: str
    device_id: str
    key: str
    ts: int
    value: float


@dataclass
class _Plan:
    # threshold rules without a hold time run inline (the hot path); every other evaluator is called
    fast: list[ThresholdEval] = field(default_factory=list)
    others: list[Evaluator] = field(default_factory=list)


@dataclass
class _Org:
    rules: dict[str, tuple[int, Evaluator | DerivedEval]]
    plans: dict[str, _Plan]
    derived: list[DerivedEval]
    derived_inputs: frozenset[str]
    last: dict[tuple[str, str], int] = field(default_factory=dict)


def _no_detectors(org_id: str, model: str) -> object:
    raise ValueError(f"no anomaly models are available to score with (asked for {model!r})")


class StreamEngine:
    """Runs each organisation's compiled rules over the telemetry flow."""

    def __init__(self, detectors: DetectorFactory | None = None) -> None:
        self.detectors: DetectorFactory = detectors or _no_detectors  # type: ignore[assignment]
        self.devices: dict[str, DeviceInfo] = {}
        self._orgs: dict[str, _Org] = {}
        self.readings = 0
        self.late = 0

    # rules ---------------------------------------------------------------------------
    def compile(self, org_id: str, loaded: LoadedRule) -> Evaluator | DerivedEval:
        """A fresh evaluator for one rule; ``ValueError`` when it cannot run (e.g. unknown model)."""
        rule, rule_id = loaded.rule, loaded.rule_id
        target = None if rule.where.is_everything() else Target(rule.where, self.devices)
        if isinstance(rule, ThresholdRule):
            return ThresholdEval(org_id, rule_id, rule, target)
        if isinstance(rule, WindowRule):
            return WindowEval(org_id, rule_id, rule, target)
        if isinstance(rule, SequenceRule):
            return SequenceEval(org_id, rule_id, rule, target)
        if isinstance(rule, AnomalyRule):
            try:
                return AnomalyEval(org_id, rule_id, rule, target, self.detectors)
            except Exception as exc:
                raise ValueError(f"anomaly model {rule.model!r} is not available: {exc}") from exc
        assert isinstance(rule, DerivedRule)
        return DerivedEval(rule_id, rule, target)

    def load(self, org_id: str, rules: Iterable[LoadedRule]) -> list[tuple[str, str]]:
        """Replace an organisation's rules; unchanged ones keep their state. Returns (rule id, error)s."""
        old = self._orgs.get(org_id)
        compiled: dict[str, tuple[int, Evaluator | DerivedEval]] = {}
        failed: list[tuple[str, str]] = []
        for loaded in rules:
            if not loaded.rule.enabled:
                continue
            kept = old.rules.get(loaded.rule_id) if old else None
            if kept is not None and kept[0] == loaded.version:
                compiled[loaded.rule_id] = kept
                continue
            try:
                compiled[loaded.rule_id] = (loaded.version, self.compile(org_id, loaded))
            except ValueError as exc:
                log.warning("rule %s of %s not loaded: %s", loaded.rule_id, org_id, exc)
                failed.append((loaded.rule_id, str(exc)))
        plans: dict[str, _Plan] = {}
        derived: list[DerivedEval] = []
        for _, evaluator in compiled.values():
            if isinstance(evaluator, DerivedEval):
                derived.append(evaluator)
                continue
            for key in evaluator.keys():
                plan = plans.setdefault(key, _Plan())
                if isinstance(evaluator, ThresholdEval) and not evaluator.hold:
                    plan.fast.append(evaluator)
                else:
                    plan.others.append(evaluator)
        inputs = frozenset(k for d in derived for k in d.inputs)
        org = _Org(compiled, plans, derived, inputs)
        if old is not None:
            org.last = old.last
        if compiled:
            self._orgs[org_id] = org
        else:
            self._orgs.pop(org_id, None)
        return failed

    def unload(self, org_id: str) -> None:
        """Forget an organisation's rules and state."""
        self._orgs.pop(org_id, None)

    def evaluator(self, org_id: str, rule_id: str) -> Evaluator | DerivedEval | None:
        """The running evaluator of a rule, if loaded."""
        org = self._orgs.get(org_id)
        found = org.rules.get(rule_id) if org else None
        return found[1] if found else None

    def set_active(self, org_id: str, rule_id: str, subject: str, active: bool) -> None:
        """Tell a rule a subject's alarm is active (after a restart) or was cleared by hand."""
        evaluator = self.evaluator(org_id, rule_id)
        if isinstance(evaluator, Evaluator):
            if active:
                evaluator.active.add(subject)
            else:
                evaluator.forget(subject)

    def set_devices(self, devices: dict[str, DeviceInfo]) -> None:
        """Add or update devices' (type id, type name, tags) used by rules' ``where``."""
        self.devices.update(devices)
        for org in self._orgs.values():
            for _, evaluator in org.rules.values():
                if evaluator.target is not None:
                    evaluator.target.cache.clear()

    # data ----------------------------------------------------------------------------
    def process(self, messages: Sequence[Message], derived_out: list[Derived] | None = None) -> list[Signal]:
        """Run every rule of the messages' organisations over their readings; the signals produced."""
        out: list[Signal] = []
        orgs = self._orgs
        count = 0
        for m in messages:
            org = orgs.get(m.org_id)
            if org is None:
                continue
            plans, last, device = org.plans, org.last, m.device_id
            for key, ts, value in m.readings:
                count += 1
                plan = plans.get(key)
                if plan is None:
                    continue
                cls = value.__class__
                if cls is str:
                    continue
                if cls is not float:
                    value = float(value)
                if plan.others:
                    self._reading(org, plan, device, key, ts, value, out)  # type: ignore[arg-type]
                    continue
                # the hot path, inlined: threshold rules only
                slot = (device, key)
                previous = last.get(slot)
                if previous is not None and ts < previous:
                    self.late += 1
                    continue
                last[slot] = ts
                for t in plan.fast:
                    target = t.target
                    if target is not None and not target(device):
                        continue
                    active = t.active
                    if device in active:
                        if t.cop(value, t.cv):  # type: ignore[arg-type]
                            active.discard(device)
                            out.append(t._signal("clear", device, ts, value))  # type: ignore[arg-type]
                    elif t.rop(value, t.rv):  # type: ignore[arg-type]
                        active.add(device)
                        out.append(t._signal("raise", device, ts, value))  # type: ignore[arg-type]
            if org.derived:
                self._derive(org, m, out, derived_out)
        self.readings += count
        return out

    def _reading(
        self, org: _Org, plan: _Plan, device: str, key: str, ts: int, value: float, out: list[Signal]
    ) -> None:
        slot = (device, key)
        previous = org.last.get(slot)
        in_order = previous is None or ts >= previous
        if in_order:
            org.last[slot] = ts
        else:
            self.late += 1
        if in_order:
            for t in plan.fast:
                target = t.target
                if target is not None and not target(device):
                    continue
                active = t.active
                if device in active:
                    if t.cop(value, t.cv):
                        active.discard(device)
                        out.append(t._signal("clear", device, ts, value))
                elif t.rop(value, t.rv):
                    active.add(device)
                    out.append(t._signal("raise", device, ts, value))
        for evaluator in plan.others:
            target = evaluator.target
            if target is None or target(device):
                evaluator.feed(device, key, ts, value, in_order, out)

    def _derive(self, org: _Org, m: Message, out: list[Signal], derived_out: list[Derived] | None) -> None:
        inputs = org.derived_inputs
        values: dict[str, float] = {}
        newest = 0
        for key, ts, value in m.readings:
            if key in inputs and value.__class__ is not str:
                values[key] = float(value)
                newest = max(newest, ts)
        if not values:
            return
        for d in org.derived:
            if d.target is not None and not d.target(m.device_id):
                continue
            if not d.inputs.intersection(values):
                continue
            result = d.compute(m.device_id, values)
            if result is None:
                continue
            if derived_out is not None:
                derived_out.append(Derived(m.org_id, m.device_id, d.output, newest, result))
            plan = org.plans.get(d.output)
            if plan is not None:
                self._reading(org, plan, m.device_id, d.output, newest, result, out)
