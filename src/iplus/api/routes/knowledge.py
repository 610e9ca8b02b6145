"""Knowledge: an organisation's rules and documents, versioned and attached to what they are about."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from iplus.api.deps import ContextDep, ObjectId, Reader, Writer
from iplus.platform.knowledge.documents import Attachment, ItemSpec, ItemView

router = APIRouter(tags=["knowledge"])


class AttachmentIO(BaseModel):
    """A target an item is about: a device type, an algorithm, a model or a service."""

    kind: str = Field(min_length=1, max_length=40)
    id: str = Field(min_length=1, max_length=200)


class KnowledgeIn(BaseModel):
    """A rule (``content`` with ``when`` and ``then``) or a document (``body``)."""

    kind: Literal["rule", "document"]
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=200_000)
    format: Literal["markdown", "text", "json", "yaml"] = "markdown"
    content: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list, max_length=20)
    attachments: list[AttachmentIO] = Field(default_factory=list, max_length=50)
    version: int | None = Field(
        default=None, ge=1, description="on update: the version the change is based on"
    )

    def spec(self) -> ItemSpec:
        """The platform's view of the request."""
        return ItemSpec(
            kind=self.kind,
            title=self.title,
            body=self.body,
            format=self.format,
            content=self.content,
            tags=tuple(t.strip().lower() for t in self.tags),
            attachments=tuple(Attachment(a.kind, a.id) for a in self.attachments),
        )


class KnowledgeOut(BaseModel):
    """A knowledge item in its newest version."""

    id: str
    kind: str
    title: str
    body: str
    format: str
    content: dict[str, Any] | None
    tags: list[str]
    attachments: list[AttachmentIO]
    version: int
    created_at: datetime
    updated_at: datetime


class KnowledgePage(BaseModel):
    """A page of items and how many match in all."""

    items: list[KnowledgeOut]
    total: int
    offset: int
    limit: int


class RevisionOut(BaseModel):
    """One version of an item as it was stored."""

    version: int
    title: str
    body: str
    format: str
    content: dict[str, Any] | None
    tags: list[str]
    attachments: list[AttachmentIO]
    changed_by: str | None
    changed_at: datetime


def _out(view: ItemView) -> KnowledgeOut:
    item = view.item
    return KnowledgeOut(
        id=item.id,
        kind=item.kind,
        title=item.title,
        body=item.body,
        format=item.format,
        content=item.content,
        tags=list(item.tags),
        attachments=[AttachmentIO(kind=a.kind, id=a.id) for a in view.attachments],
        version=item.version,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


@router.post("/knowledge", response_model=KnowledgeOut, status_code=status.HTTP_201_CREATED)
async def create_item(ctx: ContextDep, caller: Writer, body: KnowledgeIn) -> KnowledgeOut:
    """Store a rule or a document; attachments must name existing targets."""
    return _out(await ctx.knowledge.create(caller, body.spec()))


@router.get("/knowledge", response_model=KnowledgePage)
async def find_items(
    ctx: ContextDep,
    caller: Reader,
    q: Annotated[str | None, Query(max_length=200, description="text in the title or body")] = None,
    kind: Annotated[Literal["rule", "document"] | None, Query()] = None,
    tag: Annotated[str | None, Query(max_length=40)] = None,
    attached_kind: Annotated[str | None, Query(max_length=40)] = None,
    attached_id: Annotated[str | None, Query(max_length=200)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> KnowledgePage:
    """Find items by text, kind, tag or what they are attached to; newest change first."""
    views, total = await ctx.knowledge.find(
        caller,
        text=q,
        kind=kind,
        tag=tag,
        attached_kind=attached_kind,
        attached_id=attached_id,
        offset=offset,
        limit=limit,
    )
    return KnowledgePage(items=[_out(v) for v in views], total=total, offset=offset, limit=limit)


@router.get("/knowledge/{item_id}", response_model=KnowledgeOut)
async def get_item(ctx: ContextDep, caller: Reader, item_id: ObjectId) -> KnowledgeOut:
    """One item in its newest version."""
    return _out(await ctx.knowledge.get(caller, item_id))


@router.put("/knowledge/{item_id}", response_model=KnowledgeOut)
async def replace_item(ctx: ContextDep, caller: Writer, item_id: ObjectId, body: KnowledgeIn) -> KnowledgeOut:
    """Store a new version; send the ``version`` you read to refuse a change made meanwhile (409)."""
    return _out(await ctx.knowledge.update(caller, item_id, body.spec(), expected_version=body.version))


@router.delete("/knowledge/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(ctx: ContextDep, caller: Writer, item_id: ObjectId) -> Response:
    """Delete an item with all its versions."""
    await ctx.knowledge.delete(caller, item_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/knowledge/{item_id}/revisions", response_model=list[RevisionOut])
async def item_revisions(ctx: ContextDep, caller: Reader, item_id: ObjectId) -> list[RevisionOut]:
    """Every version of an item, oldest first."""
    return [
        RevisionOut(
            version=r.version,
            title=r.title,
            body=r.body,
            format=r.format,
            content=r.content,
            tags=list(r.tags),
            attachments=[AttachmentIO(**a) for a in r.attachments],
            changed_by=r.changed_by,
            changed_at=r.changed_at,
        )
        for r in await ctx.knowledge.revisions(caller, item_id)
    ]
