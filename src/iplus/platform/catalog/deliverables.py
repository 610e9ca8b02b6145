"""Deliverables: the JSON document a provider attaches to an order (a report, a recommendation).

Only the order's provider attaches one, while the order is in progress or in the same transaction that
completes it (attach and complete either both happen or neither). An order has at most one deliverable; a
provider may replace it while the order is still in progress. Only the ordering and the providing
organisation read it: every query is scoped by the caller's organisation.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from iplus.core.errors import Conflict, InvalidInput, NotFound
from iplus.core.jsondoc import json_problems
from iplus.core.roles import Scope
from iplus.infra.db.models_catalog import OrderDeliverable
from iplus.platform.catalog.orders import settle
from iplus.security.principal import Principal

if TYPE_CHECKING:
    from iplus.platform.catalog.orders import Orders

MAX_DELIVERABLE_BYTES = 256_000
MAX_TITLE = 200


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def _is_number(v: Any) -> bool:
    return v is None or (isinstance(v, int | float) and not isinstance(v, bool))


def _items(doc: dict[str, Any], key: str, problems: list[str]) -> list[dict[str, Any]]:
    """The objects listed under ``key`` (a problem for anything else)."""
    found = doc.get(key)
    if found is None:
        return []
    if not isinstance(found, list) or not all(isinstance(i, dict) for i in found):
        problems.append(f"deliverable/{key}: a list of objects")
        return []
    return found


def _text(item: dict[str, Any], key: str, where: str, problems: list[str]) -> None:
    if item.get(key) is not None and not isinstance(item[key], str):
        problems.append(f"{where}/{key}: a string")


def shape_problems(doc: dict[str, Any]) -> list[str]:
    """Why the parts the portal and the CLI draw (summary, figures, tables, series) are not as documented.

    Every other key is kept as it is; these are drawn by the ordering organisation's order page, so a
    malformed one is refused when attached instead of breaking that page later.
    """
    problems: list[str] = []
    if doc.get("summary") is not None and not isinstance(doc["summary"], str):
        problems.append("deliverable/summary: a string")
    for i, f in enumerate(_items(doc, "figures", problems)):
        where = f"deliverable/figures/{i}"
        for key in ("key", "label", "unit"):
            _text(f, key, where, problems)
        if not _is_scalar(f.get("value")):
            problems.append(f"{where}/value: a string, a number, true/false or null")
    for i, t in enumerate(_items(doc, "tables", problems)):
        where = f"deliverable/tables/{i}"
        _text(t, "title", where, problems)
        columns, rows = t.get("columns", []), t.get("rows", [])
        if not isinstance(columns, list) or not all(_is_scalar(c) for c in columns):
            problems.append(f"{where}/columns: a list of strings or numbers")
        if not isinstance(rows, list) or not all(
            isinstance(r, list) and all(_is_scalar(v) for v in r) for r in rows
        ):
            problems.append(f"{where}/rows: a list of rows, each a list of strings, numbers or nulls")
    for i, c in enumerate(_items(doc, "series", problems)):
        where = f"deliverable/series/{i}"
        for key in ("title", "x_label"):
            _text(c, key, where, problems)
        if c.get("time") is not None and not isinstance(c["time"], bool):
            problems.append(f"{where}/time: true or false")
        x = c.get("x")
        if not isinstance(x, list) or not all(_is_number(v) for v in x):
            problems.append(f"{where}/x: a list of numbers")
            continue
        lines = c.get("lines")
        if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
            problems.append(f"{where}/lines: a list of objects")
            continue
        for j, line in enumerate(lines):
            for key in ("label", "unit"):
                _text(line, key, f"{where}/lines/{j}", problems)
            values = line.get("values")
            if not isinstance(values, list) or not all(_is_number(v) for v in values):
                problems.append(f"{where}/lines/{j}/values: a list of numbers or nulls")
            elif len(values) != len(x):
                problems.append(f"{where}/lines/{j}/values: {len(values)} values for {len(x)} x")
    return problems


def check_deliverable(doc: Any) -> tuple[str, dict[str, Any], int]:
    """The deliverable's title, document and size in bytes; every problem at once."""
    if not isinstance(doc, dict):
        raise InvalidInput("deliverable: a JSON object")
    problems = json_problems(doc, "deliverable")
    if not problems:
        problems += shape_problems(doc)
    title = doc.get("title", "Deliverable")
    if not isinstance(title, str) or not 1 <= len(title.strip()) <= MAX_TITLE:
        problems.append(f"deliverable/title: 1 to {MAX_TITLE} characters")
    size = 0
    if not problems:
        try:
            size = len(json.dumps(doc, allow_nan=False, separators=(",", ":")).encode())
        except (TypeError, ValueError) as exc:
            problems.append(f"deliverable: not a JSON document ({exc})")
    if size > MAX_DELIVERABLE_BYTES:
        problems.append(f"deliverable: {size} bytes, at most {MAX_DELIVERABLE_BYTES}")
    if problems:
        raise InvalidInput("the deliverable cannot be stored", errors=problems)
    return str(title).strip(), doc, size


def deliverable_dict(d: OrderDeliverable) -> dict[str, Any]:
    """A stored deliverable as JSON."""
    return {
        "order_id": d.order_id,
        "title": d.title,
        "size": d.size,
        "created_at": d.created_at.isoformat(),
        "content": d.content,
    }


class Deliverables:
    """Attach a deliverable to an order (the provider) and read it (both parties)."""

    def __init__(self, orders: Orders) -> None:
        self.orders = orders
        self.db = orders.db

    async def attach(
        self, caller: Principal, order_id: str, doc: Any, *, complete: bool = False, reason: str = ""
    ) -> OrderDeliverable:
        """Store the provider's deliverable of an order in progress; ``complete`` also completes the order."""
        caller.require_scope(Scope.WRITE)
        title, content, size = check_deliverable(doc)
        if len(reason) > 2000:
            raise InvalidInput("reason: at most 2000 characters")
        async with self.db.transaction() as s:
            order = await self.orders.locked(s, caller, order_id)
            if order.provider_org_id != caller.org_id:
                raise Conflict("only the provider of the order attaches a deliverable")
            if order.status != "in_progress":
                raise Conflict(
                    f"order {order_id} is {order.status}: a deliverable needs an order in progress"
                )
            found = await s.scalar(select(OrderDeliverable).where(OrderDeliverable.order_id == order_id))
            if found is None:
                found = OrderDeliverable(
                    org_id=order.provider_org_id, user_org_id=order.org_id, order_id=order.id
                )
                s.add(found)
            found.title, found.content, found.size = title, content, size
            found.created_by = caller.user_id
            if complete:
                settle(order, "completed", "provider", reason)
            await s.flush()
        self.orders.changed(order)
        return found

    async def get(self, caller: Principal, order_id: str) -> OrderDeliverable:
        """The deliverable of an order the caller is a party to (404 when there is none)."""
        caller.require_scope(Scope.READ)
        async with self.db.transaction() as s:
            found = await s.scalar(
                select(OrderDeliverable).where(
                    OrderDeliverable.order_id == order_id,
                    or_(
                        OrderDeliverable.org_id == caller.org_id,
                        OrderDeliverable.user_org_id == caller.org_id,
                    ),
                )
            )
        if found is None:
            raise NotFound(f"order {order_id} has no deliverable")
        return found

    async def find(self, caller: Principal, order_id: str) -> OrderDeliverable | None:
        """The deliverable, or None when the order has none (or the caller is not a party to it)."""
        try:
            return await self.get(caller, order_id)
        except NotFound:
            return None
