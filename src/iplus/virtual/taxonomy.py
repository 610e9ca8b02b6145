"""The per-domain type taxonomy of virtual things (kind > domain > type > sub-type), shipped as data."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from iplus.core.errors import InvalidInput

HERE = Path(__file__).parent
KINDS = ("resource", "capability", "product")
DOMAINS = ("manufacturing", "agriculture", "energy", "health", "transport", "environment")


@dataclass(frozen=True)
class TypeNode:
    """One semantic type: its id, its path from the kind, title, FIWARE entity name and parent."""

    id: str
    path: str
    title: str
    fiware: str | None
    parent: str | None
    depth: int
    children: tuple[str, ...] = field(default=())

    @property
    def kind(self) -> str:
        """resource, capability or product."""
        return self.path.split("/")[0]

    @property
    def domain(self) -> str | None:
        """The domain (second level), or None for a kind node."""
        parts = self.path.split("/")
        return parts[1] if len(parts) > 1 else None


def _title(node_id: str) -> str:
    text = node_id.split("/")[-1].replace("_", " ")
    return text[:1].upper() + text[1:]


class Taxonomy:
    """A tree of types; every node is found by id or by path, with its sub-types."""

    def __init__(self, tree: dict[str, Any]) -> None:
        self._nodes: dict[str, TypeNode] = {}
        self._by_path: dict[str, str] = {}
        problems: list[str] = []
        for kind, body in tree.items():
            if kind not in KINDS:
                problems.append(f"top level {kind!r} is not one of {', '.join(KINDS)}")
                continue
            self._walk(kind, kind, None, body or {}, 0, problems)
        for kind in KINDS:
            for domain in DOMAINS:
                if f"{kind}/{domain}" not in self._nodes:
                    problems.append(f"{kind} lacks the domain {domain}")
        if problems:
            raise InvalidInput("the taxonomy is not valid", errors=problems)

    def _walk(
        self,
        node_id: str,
        path: str,
        parent: str | None,
        body: dict[str, Any],
        depth: int,
        problems: list[str],
    ) -> None:
        if node_id in self._nodes:
            problems.append(f"type id {node_id!r} is used twice")
            return
        if not isinstance(body, dict):
            problems.append(f"{path}: a node must be a mapping")
            return
        kids = [k for k in body if not k.startswith("_")]
        child_ids = []
        for key in kids:
            # kinds and domains repeat across the tree, so they are named by their path
            child_id = f"{path}/{key}" if depth == 0 else key
            child_ids.append(child_id)
        self._nodes[node_id] = TypeNode(
            id=node_id,
            path=path,
            title=str(body.get("_title") or _title(node_id)),
            fiware=body.get("_fiware"),
            parent=parent,
            depth=depth,
            children=tuple(child_ids),
        )
        self._by_path[path] = node_id
        for key, child_id in zip(kids, child_ids, strict=True):
            self._walk(child_id, f"{path}/{key}", node_id, body[key] or {}, depth + 1, problems)

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, ref: object) -> bool:
        return isinstance(ref, str) and (ref in self._nodes or ref in self._by_path)

    def nodes(self) -> list[TypeNode]:
        """Every node, parents before children."""
        return list(self._nodes.values())

    def get(self, ref: str) -> TypeNode:
        """The node with this id or path; ``InvalidInput`` names the unknown type."""
        node_id = ref if ref in self._nodes else self._by_path.get(ref)
        if node_id is None:
            raise InvalidInput(f"unknown type {ref!r}: see GET /api/v1/taxonomy")
        return self._nodes[node_id]

    def children(self, ref: str) -> list[TypeNode]:
        """The direct sub-types of a node."""
        return [self._nodes[c] for c in self.get(ref).children]

    def subtree(self, ref: str) -> list[TypeNode]:
        """The node and every type below it."""
        out, todo = [], [self.get(ref).id]
        while todo:
            node = self._nodes[todo.pop()]
            out.append(node)
            todo.extend(reversed(node.children))
        return out

    def is_a(self, ref: str, ancestor: str) -> bool:
        """Whether ``ref`` is ``ancestor`` or one of its sub-types (type subsumption)."""
        target = self.get(ancestor).id
        node: TypeNode | None = self.get(ref)
        while node is not None:
            if node.id == target:
                return True
            node = self._nodes[node.parent] if node.parent else None
        return False

    def fiware_of(self, ref: str) -> str | None:
        """The FIWARE Smart Data Models entity name of the type or of its nearest ancestor that has one."""
        node: TypeNode | None = self.get(ref)
        while node is not None:
            if node.fiware:
                return node.fiware
            node = self._nodes[node.parent] if node.parent else None
        return None

    def as_tree(self, ref: str | None = None) -> list[dict[str, Any]]:
        """Nested JSON of the tree (or of one node's subtree)."""
        roots = [self.get(ref)] if ref else [self._nodes[k] for k in KINDS if k in self._nodes]
        return [self._json(n) for n in roots]

    def _json(self, node: TypeNode) -> dict[str, Any]:
        out: dict[str, Any] = {"id": node.id, "path": node.path, "title": node.title}
        if node.fiware:
            out["fiware"] = node.fiware
        if node.children:
            out["children"] = [self._json(self._nodes[c]) for c in node.children]
        return out


@cache
def load_taxonomy() -> Taxonomy:
    """The taxonomy shipped in the package (``taxonomy.yaml``), parsed once."""
    return Taxonomy(yaml.safe_load((HERE / "taxonomy.yaml").read_text()))
