"""Knowledge: versioned rules and documents attached to types, algorithms and services."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import delete, func, or_, select

from iplus.core.clock import utcnow
from iplus.core.errors import Conflict, InvalidInput
from iplus.core.jsondoc import json_problems
from iplus.infra.db.engine import Database
from iplus.infra.db.models_knowledge import KnowledgeItem, KnowledgeLink, KnowledgeRevision
from iplus.infra.db.repos import TenantRepository, flush_or_conflict
from iplus.security.principal import Principal

Kind = Literal["rule", "document"]
KINDS = ("rule", "document")
FORMATS = ("markdown", "text", "json", "yaml")
TAG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
MAX_BODY = 200_000
MAX_TAGS = 20
MAX_ATTACHMENTS = 50
RULE_PARTS = ("when", "then")
# does a target of this kind with this id exist in this organisation?
Resolver = Callable[[str, str], Awaitable[bool]]


@dataclass(frozen=True)
class Attachment:
    """What an item is attached to."""

    kind: str
    id: str


@dataclass(frozen=True)
class ItemSpec:
    """What a caller sends to create or replace an item."""

    kind: str
    title: str
    body: str = ""
    format: str = "markdown"
    content: dict[str, Any] | None = None
    tags: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()


@dataclass
class ItemView:
    """An item as callers see it, with its attachments."""

    item: KnowledgeItem
    attachments: list[Attachment] = field(default_factory=list)


class KnowledgeItems(TenantRepository[KnowledgeItem]):
    """Knowledge items of one organisation."""

    model = KnowledgeItem
    noun = "knowledge item"


def _spec_problems(spec: ItemSpec) -> list[str]:
    problems = []
    if spec.kind not in KINDS:
        problems.append(f"kind: {spec.kind!r} is not one of {', '.join(KINDS)}")
    if not spec.title.strip() or len(spec.title) > 200:
        problems.append("title: 1-200 characters")
    if spec.format not in FORMATS:
        problems.append(f"format: {spec.format!r} is not one of {', '.join(FORMATS)}")
    if len(spec.body) > MAX_BODY:
        problems.append(f"body: at most {MAX_BODY} characters")
    if "\x00" in spec.body or "\x00" in spec.title:
        problems.append("body and title may not contain NUL characters")
    if spec.kind == "document" and not spec.body.strip():
        problems.append("body: a document needs a text")
    if spec.kind == "rule":
        if not isinstance(spec.content, dict):
            problems.append("content: a rule needs an object with 'when' and 'then'")
        else:
            for part in RULE_PARTS:
                value = spec.content.get(part)
                if value in (None, "", [], {}):
                    problems.append(f"content/{part}: a rule needs a non-empty {part!r}")
            # NaN would be stored and answered as null; a deep document could not be answered at all
            problems += json_problems(spec.content, "content")
            confidence = spec.content.get("confidence")
            if confidence is not None and (
                isinstance(confidence, bool)
                or not isinstance(confidence, int | float)
                or not 0 <= confidence <= 1
            ):
                problems.append("content/confidence: a number from 0 to 1")
    if len(spec.tags) > MAX_TAGS:
        problems.append(f"tags: at most {MAX_TAGS}")
    for tag in spec.tags:
        if not TAG.match(tag):
            problems.append(f"tags: {tag!r} must be 1-40 lower-case letters, digits, '.', '_' or '-'")
    if len(spec.attachments) > MAX_ATTACHMENTS:
        problems.append(f"attachments: at most {MAX_ATTACHMENTS}")
    return problems


class Knowledge:
    """Create, revise, attach, find and delete an organisation's rules and documents."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.resolvers: dict[str, Resolver] = {}

    def attachable(self, kind: str, resolver: Resolver) -> None:
        """Let items be attached to targets of ``kind``; ``resolver`` says whether a target exists."""
        self.resolvers[kind] = resolver

    async def _attachment_problems(self, org_id: str, attachments: Sequence[Attachment]) -> list[str]:
        problems = []
        for i, att in enumerate(attachments):
            resolve = self.resolvers.get(att.kind)
            if resolve is None:
                kinds = ", ".join(sorted(self.resolvers)) or "none"
                problems.append(f"attachments/{i}: kind {att.kind!r} is not one of {kinds}")
            elif not att.id or len(att.id) > 200 or not await resolve(org_id, att.id):
                problems.append(f"attachments/{i}: {att.kind} {att.id!r} not found")
        return problems

    async def _check(self, caller: Principal, spec: ItemSpec) -> None:
        problems = _spec_problems(spec) + await self._attachment_problems(caller.org_id, spec.attachments)
        if problems:
            raise InvalidInput("the knowledge item is not valid", errors=problems)

    async def create(self, caller: Principal, spec: ItemSpec) -> ItemView:
        """Store a new item as version 1."""
        await self._check(caller, spec)
        async with self.db.transaction() as s:
            item = KnowledgeItem(created_by=caller.user_id, version=1)
            _apply(item, spec)
            await KnowledgeItems(s, caller.org_id).add(item)
            await self._write_links(s, caller.org_id, item.id, spec.attachments)
            await self._write_revision(s, item, spec.attachments, caller.user_id)
            return ItemView(item, list(dict.fromkeys(spec.attachments)))

    async def update(
        self, caller: Principal, item_id: str, spec: ItemSpec, *, expected_version: int | None = None
    ) -> ItemView:
        """Replace an item with a new version; ``expected_version`` guards against lost updates."""
        await self._check(caller, spec)
        async with self.db.transaction() as s:
            item = await KnowledgeItems(s, caller.org_id).get(item_id)
            if expected_version is not None and item.version != expected_version:
                raise Conflict(
                    f"knowledge item {item_id} is at version {item.version}, not {expected_version}: "
                    "read it again and reapply the change"
                )
            if spec.kind != item.kind:
                raise InvalidInput(f"kind: a {item.kind} stays a {item.kind}; create a new item instead")
            _apply(item, spec)
            item.version += 1
            item.updated_at = utcnow()
            await s.execute(delete(KnowledgeLink).where(KnowledgeLink.item_id == item.id))
            await self._write_links(s, caller.org_id, item.id, spec.attachments)
            await self._write_revision(s, item, spec.attachments, caller.user_id)
            await flush_or_conflict(s, "knowledge item")
            return ItemView(item, list(dict.fromkeys(spec.attachments)))

    async def _write_links(
        self, s: Any, org_id: str, item_id: str, attachments: Sequence[Attachment]
    ) -> None:
        for att in dict.fromkeys(attachments):
            s.add(KnowledgeLink(org_id=org_id, item_id=item_id, target_kind=att.kind, target_id=att.id))
        await flush_or_conflict(s, "knowledge link")

    async def _write_revision(
        self, s: Any, item: KnowledgeItem, attachments: Sequence[Attachment], user_id: str | None
    ) -> None:
        s.add(
            KnowledgeRevision(
                org_id=item.org_id,
                item_id=item.id,
                version=item.version,
                title=item.title,
                format=item.format,
                body=item.body,
                content=item.content,
                tags=list(item.tags),
                attachments=[{"kind": a.kind, "id": a.id} for a in dict.fromkeys(attachments)],
                changed_by=user_id,
            )
        )
        await flush_or_conflict(s, "knowledge revision")

    async def get(self, caller: Principal, item_id: str) -> ItemView:
        """One item with its attachments."""
        async with self.db.transaction() as s:
            item = await KnowledgeItems(s, caller.org_id).get(item_id)
            links = await s.scalars(select(KnowledgeLink).where(KnowledgeLink.item_id == item.id))
            return ItemView(item, [Attachment(link.target_kind, link.target_id) for link in links])

    async def delete(self, caller: Principal, item_id: str) -> None:
        """Delete an item with its revisions and links."""
        async with self.db.transaction() as s:
            item = await KnowledgeItems(s, caller.org_id).get(item_id)
            await s.delete(item)

    async def revisions(self, caller: Principal, item_id: str) -> list[KnowledgeRevision]:
        """Every version of an item, oldest first."""
        async with self.db.transaction() as s:
            await KnowledgeItems(s, caller.org_id).get(item_id)
            stmt = (
                select(KnowledgeRevision)
                .where(KnowledgeRevision.org_id == caller.org_id, KnowledgeRevision.item_id == item_id)
                .order_by(KnowledgeRevision.version)
            )
            return list((await s.scalars(stmt)).all())

    async def find(
        self,
        caller: Principal,
        *,
        text: str | None = None,
        kind: str | None = None,
        tag: str | None = None,
        attached_kind: str | None = None,
        attached_id: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[ItemView], int]:
        """A page of items matching every given filter, newest change first, and how many match in all."""
        if kind is not None and kind not in KINDS:
            raise InvalidInput(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
        if attached_id is not None and attached_kind is None:
            raise InvalidInput("attached_id needs attached_kind")
        stmt = select(KnowledgeItem).where(KnowledgeItem.org_id == caller.org_id)
        if kind:
            stmt = stmt.where(KnowledgeItem.kind == kind)
        if tag:
            stmt = stmt.where(KnowledgeItem.tags_text.contains(f" {tag.strip().lower()} ", autoescape=True))
        if text:
            needle = text.strip().lower()
            stmt = stmt.where(
                or_(
                    func.lower(KnowledgeItem.title).contains(needle, autoescape=True),
                    func.lower(KnowledgeItem.body).contains(needle, autoescape=True),
                )
            )
        if attached_kind:
            links = select(KnowledgeLink.item_id).where(
                KnowledgeLink.org_id == caller.org_id, KnowledgeLink.target_kind == attached_kind
            )
            if attached_id:
                links = links.where(KnowledgeLink.target_id == attached_id)
            stmt = stmt.where(KnowledgeItem.id.in_(links))
        async with self.db.transaction() as s:
            total = int(await s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
            page = stmt.order_by(KnowledgeItem.updated_at.desc(), KnowledgeItem.id.desc())
            items = list((await s.scalars(page.offset(offset).limit(limit))).all())
            by_item: dict[str, list[Attachment]] = {i.id: [] for i in items}
            if items:
                rows = await s.scalars(select(KnowledgeLink).where(KnowledgeLink.item_id.in_(list(by_item))))
                for link in rows:
                    by_item[link.item_id].append(Attachment(link.target_kind, link.target_id))
            return [ItemView(i, by_item[i.id]) for i in items], total

    async def attached_to(self, caller: Principal, kind: str, target_id: str) -> list[ItemView]:
        """Every item attached to one target (a device type's or a service's knowledge)."""
        views, _ = await self.find(caller, attached_kind=kind, attached_id=target_id, limit=1000)
        return views


def _apply(item: KnowledgeItem, spec: ItemSpec) -> None:
    tags = list(dict.fromkeys(spec.tags))
    item.kind = spec.kind
    item.title = spec.title.strip()
    item.format = spec.format
    item.body = spec.body
    item.content = spec.content
    item.tags = tags
    item.tags_text = f" {' '.join(tags)} "
