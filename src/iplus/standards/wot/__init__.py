"""W3C Web of Things Thing Description 1.1 and Thing Model: validation and property specs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from iplus.core.errors import InvalidInput

HERE = Path(__file__).parent
# The shipped schemas (W3C validation/, 2026) pin the context to the "wot-next" URI; documents using
# the published TD 1.0/1.1 context URIs are accepted as equivalent and checked under that pin.
TD_CONTEXT = "https://www.w3.org/ns/wot-next/td"
EQUIVALENT_CONTEXTS = ("https://www.w3.org/2022/wot/td/v1.1", "https://www.w3.org/2019/wot/td/v1")
DATA_TYPES = ("number", "integer", "boolean", "string")


@cache
def _validator(kind: str) -> Any:
    import jsonschema  # imported on first validation, not when the CLI starts

    schema = json.loads((HERE / f"{kind}-json-schema-validation.json").read_text())
    return jsonschema.Draft7Validator(schema)


def _pinned_context(document: Any) -> Any:
    if not isinstance(document, dict):
        return document
    context = document.get("@context")
    if context in EQUIVALENT_CONTEXTS:
        return {**document, "@context": TD_CONTEXT}
    if isinstance(context, list) and context and context[0] in EQUIVALENT_CONTEXTS:
        return {**document, "@context": [TD_CONTEXT, *context[1:]]}
    return document


def schema_errors(document: Any, kind: str) -> list[str]:
    """Every violation of the TD (``kind='td'``) or TM (``kind='tm'``) JSON Schema, as text."""
    checked = _pinned_context(document)
    errors = sorted(_validator(kind).iter_errors(checked), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors]


@dataclass(frozen=True)
class PropertySpec:
    """What a Thing Model says one property's readings must be."""

    name: str
    type: str
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class ThingModel:
    """A validated Thing Model with its properties, actions and events indexed by name."""

    document: dict[str, Any]
    properties: dict[str, PropertySpec]
    actions: dict[str, dict[str, Any]]
    events: dict[str, dict[str, Any]]

    @property
    def title(self) -> str:
        """The model's title."""
        return str(self.document.get("title", ""))


def _is_tm(document: dict[str, Any]) -> bool:
    kinds = document.get("@type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return "tm:ThingModel" in kinds


def parse_thing_model(document: Any) -> ThingModel:
    """Validate ``document`` against the TM 1.1 JSON Schema and read its interaction affordances.

    Each property must state a data ``type`` of number, integer, boolean or string (the types a
    reading can carry); ``minimum``/``maximum``/``enum`` and ``unit`` are used to validate readings.
    """
    if not isinstance(document, dict):
        raise InvalidInput("a Thing Model must be a JSON object")
    problems = schema_errors(document, "tm")
    if not _is_tm(document):
        problems.append('@type: a Thing Model must have "@type": "tm:ThingModel"')
    props: dict[str, PropertySpec] = {}
    for name, affordance in (document.get("properties") or {}).items():
        if not isinstance(affordance, dict):
            continue  # already reported by the schema
        kind = affordance.get("type")
        if kind not in DATA_TYPES:
            problems.append(f"properties/{name}: type must be one of {', '.join(DATA_TYPES)}")
            continue
        low, high = affordance.get("minimum"), affordance.get("maximum")
        if low is not None and high is not None and low > high:
            problems.append(f"properties/{name}: minimum {low} is above maximum {high}")
        enum = affordance.get("enum")
        props[name] = PropertySpec(
            name=name,
            type=kind,
            unit=affordance.get("unit"),
            minimum=low,
            maximum=high,
            enum=tuple(enum) if isinstance(enum, list) else None,
        )
    if problems:
        raise InvalidInput("the Thing Model is not valid", errors=problems)
    return ThingModel(
        document=document,
        properties=props,
        actions=dict(document.get("actions") or {}),
        events=dict(document.get("events") or {}),
    )


def thing_description(model: ThingModel, *, thing_id: str, title: str, base: str) -> dict[str, Any]:
    """A Thing Description for one thing made from ``model``, with HTTP forms under ``base``."""
    doc = {k: v for k, v in model.document.items() if not k.startswith("tm:") and k != "links"}
    doc["@context"] = TD_CONTEXT
    doc["@type"] = [t for t in _types(model.document) if t != "tm:ThingModel"] or ["Thing"]
    doc["id"] = thing_id
    doc["title"] = title
    doc["securityDefinitions"] = {"bearer_sc": {"scheme": "bearer", "in": "header"}}
    doc["security"] = ["bearer_sc"]
    doc["properties"] = {
        name: {**aff, "forms": [{"href": f"{base}/state", "contentType": "application/json"}]}
        for name, aff in (model.document.get("properties") or {}).items()
    }
    doc["actions"] = {
        name: {**aff, "forms": [{"href": f"{base}/commands", "contentType": "application/json"}]}
        for name, aff in model.actions.items()
    }
    doc["events"] = {
        name: {**aff, "forms": [{"href": f"{base}/events", "subprotocol": "sse"}]}
        for name, aff in model.events.items()
    }
    return doc


def _types(document: dict[str, Any]) -> list[str]:
    kinds = document.get("@type", [])
    return list(kinds) if isinstance(kinds, list) else [kinds]
