"""Stored stream rules of each organisation: validation, versions, create / replace / delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select

from iplus.core.clock import utcnow
from iplus.core.errors import InvalidInput, NotFound
from iplus.core.roles import Scope
from iplus.engines.stream.actions import ActionRunner
from iplus.engines.stream.alarms import AlarmBook, Change
from iplus.engines.stream.engine import LoadedRule, StreamEngine
from iplus.engines.stream.model import (
    DerivedRule,
    Rule,
    check_document,
    dump_rule,
    load_document,
    problem,
    raise_problems,
)
from iplus.infra.db.engine import Database
from iplus.infra.db.models import DeviceType
from iplus.infra.db.models_stream import StreamRule, StreamRuleVersion
from iplus.infra.db.repos import flush_or_conflict
from iplus.security.principal import Principal


def rule_dict(row: StreamRule, error: str | None = None) -> dict[str, Any]:
    """A stored rule as JSON-ready data."""
    return {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "enabled": row.enabled,
        "version": row.version,
        "definition": row.definition,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "error": error,
    }


class RuleCatalogue:
    """Rules as stored data; each change ends in ``reload`` of the organisation's running rules."""

    def __init__(self, db: Database, engine: StreamEngine, runner: ActionRunner) -> None:
        self.db = db
        self.engine = engine
        self.runner = runner
        self.book = AlarmBook(db)
        # rules the engine could not load, by (org, rule id): shown beside the rule
        self._errors: dict[tuple[str, str], str] = {}

    async def reload(self, org_id: str) -> None:
        """Run the organisation's stored rules (the service does this)."""
        raise NotImplementedError

    async def announce_cleared(self, changes: list[Change]) -> None:
        """Tell listeners about alarms cleared because their rule went away (the service does this)."""
        raise NotImplementedError

    async def problems(
        self, caller: Principal, raw: bytes | str, content_type: str = ""
    ) -> list[dict[str, str]]:
        """Every problem of a rule document (empty when it is valid), each with its path."""
        caller.require_scope(Scope.READ)
        try:
            document = load_document(raw, content_type)
        except InvalidInput as exc:
            return list(exc.extra.get("errors", [problem("(document)", exc.detail)]))
        rules, found = check_document(document)
        if found:
            return found
        return await self._context_problems(caller.org_id, rules, document)

    async def _context_problems(
        self, org_id: str, rules: Sequence[Rule], document: Any
    ) -> list[dict[str, str]]:
        async with self.db.transaction() as s:
            types = (
                await s.execute(select(DeviceType.id, DeviceType.name).where(DeviceType.org_id == org_id))
            ).all()
        known = {t for row in types for t in row}
        listed = isinstance(document, list) or (isinstance(document, dict) and "rules" in document)
        base = "rules" if isinstance(document, dict) and "rules" in document else ""
        found: list[dict[str, str]] = []
        for i, rule in enumerate(rules):
            prefix = f"{base}[{i}]." if listed else ""
            if rule.where.type is not None and rule.where.type not in known:
                found.append(
                    problem(f"{prefix}where.type", f"no device type {rule.where.type!r} in this organisation")
                )
            if not isinstance(rule, DerivedRule):
                for j, action in enumerate(rule.actions):
                    if action.type == "service" and action.name not in self.runner.registered:
                        found.append(
                            problem(
                                f"{prefix}actions[{j}].name", f"no action is registered under {action.name!r}"
                            )
                        )
                    refused = self.runner.egress.problem(action.url) if action.type == "webhook" else None
                    if refused is not None:
                        found.append(problem(f"{prefix}actions[{j}].url", refused))
            try:
                self.engine.compile(org_id, LoadedRule("check", 0, rule))
            except ValueError as exc:
                found.append(problem(f"{prefix}model", str(exc)))
        return found

    async def parse(self, caller: Principal, raw: bytes | str, content_type: str = "") -> list[Rule]:
        """The rules of a document, or ``InvalidInput`` listing every problem."""
        document = load_document(raw, content_type)
        rules, found = check_document(document)
        if not found:
            found = await self._context_problems(caller.org_id, rules, document)
        if found:
            raise_problems(found)
        return rules

    async def list_rules(self, caller: Principal) -> list[dict[str, Any]]:
        """The organisation's rules, by name."""
        caller.require_scope(Scope.READ)
        async with self.db.transaction() as s:
            rows = (
                await s.scalars(
                    select(StreamRule).where(StreamRule.org_id == caller.org_id).order_by(StreamRule.name)
                )
            ).all()
        return [rule_dict(r, self._errors.get((caller.org_id, r.id))) for r in rows]

    async def get_rule(self, caller: Principal, rule_id: str) -> dict[str, Any]:
        """One rule of the organisation."""
        caller.require_scope(Scope.READ)
        async with self.db.transaction() as s:
            row = await self._row(s, caller.org_id, rule_id)
        return rule_dict(row, self._errors.get((caller.org_id, row.id)))

    async def versions(self, caller: Principal, rule_id: str) -> list[dict[str, Any]]:
        """Every stored version of a rule, newest first."""
        caller.require_scope(Scope.READ)
        async with self.db.transaction() as s:
            row = await self._row(s, caller.org_id, rule_id)
            found = await s.scalars(
                select(StreamRuleVersion)
                .where(StreamRuleVersion.org_id == caller.org_id, StreamRuleVersion.rule_id == row.id)
                .order_by(StreamRuleVersion.version.desc())
            )
            return [
                {"version": v.version, "definition": v.definition, "created_at": v.created_at.isoformat()}
                for v in found.all()
            ]

    @staticmethod
    async def _row(s: Any, org_id: str, rule_id: str) -> StreamRule:
        row: StreamRule | None = await s.scalar(
            select(StreamRule).where(StreamRule.org_id == org_id, StreamRule.id == rule_id)
        )
        if row is None:
            raise NotFound(f"rule {rule_id} not found")
        return row

    async def create(self, caller: Principal, raw: bytes | str, content_type: str = "") -> dict[str, Any]:
        """Store one new rule and run it at once."""
        caller.require_scope(Scope.WRITE)
        rules = await self.parse(caller, raw, content_type)
        if len(rules) != 1:
            raise InvalidInput(f"send one rule here (got {len(rules)}); apply several with PUT /rules")
        async with self.db.transaction() as s:
            row = self._new_row(caller.org_id, rules[0])
            s.add(row)
            await flush_or_conflict(s, f"a rule named {rules[0].name!r}")
            s.add(self._version(row))
        await self.reload(caller.org_id)
        return rule_dict(row, self._errors.get((caller.org_id, row.id)))

    async def update(
        self, caller: Principal, rule_id: str, raw: bytes | str, content_type: str = ""
    ) -> dict[str, Any]:
        """Replace a rule (its version grows by one); it runs at once, without a restart."""
        caller.require_scope(Scope.WRITE)
        rules = await self.parse(caller, raw, content_type)
        if len(rules) != 1:
            raise InvalidInput(f"send one rule here (got {len(rules)})")
        async with self.db.transaction() as s:
            row = await self._row(s, caller.org_id, rule_id)
            if not self._set(row, rules[0]):
                return rule_dict(row, self._errors.get((caller.org_id, row.id)))
            await flush_or_conflict(s, f"a rule named {rules[0].name!r}")
            s.add(self._version(row))
        if not rules[0].enabled:
            await self.announce_cleared(await self.book.clear_rule(caller.org_id, row.id, "rule disabled"))
        await self.reload(caller.org_id)
        return rule_dict(row, self._errors.get((caller.org_id, row.id)))

    async def apply(
        self, caller: Principal, raw: bytes | str, content_type: str = ""
    ) -> list[dict[str, Any]]:
        """Create or replace rules by name, all or none; returns each rule with what happened to it."""
        caller.require_scope(Scope.WRITE)
        rules = await self.parse(caller, raw, content_type)
        out: list[tuple[StreamRule, str]] = []
        async with self.db.transaction() as s:
            existing = {
                r.name: r
                for r in (await s.scalars(select(StreamRule).where(StreamRule.org_id == caller.org_id))).all()
            }
            for rule in rules:
                row = existing.get(rule.name)
                if row is None:
                    row = self._new_row(caller.org_id, rule)
                    s.add(row)
                    await flush_or_conflict(s, f"a rule named {rule.name!r}")
                    out.append((row, "created"))
                elif self._set(row, rule):
                    out.append((row, "updated"))
                else:
                    out.append((row, "unchanged"))
                    continue
                await s.flush()
                s.add(self._version(row))
        for row, change in out:
            if change == "updated" and not row.enabled:
                await self.announce_cleared(
                    await self.book.clear_rule(caller.org_id, row.id, "rule disabled")
                )
        await self.reload(caller.org_id)
        return [{**rule_dict(r, self._errors.get((caller.org_id, r.id))), "change": c} for r, c in out]

    async def delete(self, caller: Principal, rule_id: str) -> None:
        """Delete a rule, stop running it and clear its active alarms."""
        caller.require_scope(Scope.WRITE)
        async with self.db.transaction() as s:
            row = await self._row(s, caller.org_id, rule_id)
            await s.execute(delete(StreamRule).where(StreamRule.id == row.id))
        await self.announce_cleared(await self.book.clear_rule(caller.org_id, rule_id, "rule deleted"))
        await self.reload(caller.org_id)

    @staticmethod
    def _new_row(org_id: str, rule: Rule) -> StreamRule:
        return StreamRule(
            org_id=org_id,
            name=rule.name,
            kind=rule.kind,
            enabled=rule.enabled,
            version=1,
            definition=dump_rule(rule),
        )

    @staticmethod
    def _set(row: StreamRule, rule: Rule) -> bool:
        definition = dump_rule(rule)
        if definition == row.definition:
            return False
        row.name, row.kind, row.enabled, row.definition = rule.name, rule.kind, rule.enabled, definition
        row.version += 1
        row.updated_at = utcnow()
        return True

    @staticmethod
    def _version(row: StreamRule) -> StreamRuleVersion:
        return StreamRuleVersion(
            org_id=row.org_id, rule_id=row.id, version=row.version, definition=row.definition
        )
