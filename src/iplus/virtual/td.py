"""W3C WoT Thing Descriptions (TD 1.1) of virtual things, validated against the shipped JSON Schema."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from iplus.core.errors import InvalidInput
from iplus.standards.wot import TD_CONTEXT, schema_errors
from iplus.virtual.taxonomy import TypeNode

NAMESPACE = "https://iplus.dev/ns/virtual#"
CONTEXT: list[Any] = [
    TD_CONTEXT,
    {"iplus": NAMESPACE, "schema": "https://schema.org/", "fiware": "https://smartdatamodels.org/"},
]


@dataclass(frozen=True)
class TdInput:
    """What a TD is made of, independent of how the thing is stored."""

    thing_id: str
    kind: str
    node: TypeNode
    title: str
    description: str
    affordances: dict[str, Any]
    attributes: dict[str, Any]
    latitude: float | None
    longitude: float | None
    device_ids: tuple[str, ...]
    created: datetime | None = None
    modified: datetime | None = None
    fiware: str | None = None  # the FIWARE entity name of the type or its nearest ancestor


def build_td(thing: TdInput, api_base: str) -> dict[str, Any]:
    """The Thing Description; ``api_base`` is the API root, e.g. ``https://host/api/v1``."""
    base = f"{api_base}/virtual-things/{thing.thing_id}"
    types = [f"iplus:{thing.kind}", f"iplus:{thing.node.id}"]
    fiware = thing.fiware or thing.node.fiware
    if fiware:
        types.append(f"fiware:{fiware}")
    props = thing.affordances.get("properties") or {}
    actions = thing.affordances.get("actions") or {}
    events = thing.affordances.get("events") or {}
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": types,
        "id": f"urn:iplus:virtual:{thing.thing_id}",
        "title": thing.title,
        "securityDefinitions": {"bearer_sc": {"scheme": "bearer", "in": "header"}},
        "security": ["bearer_sc"],
        "properties": {
            name: {
                **aff,
                "readOnly": True,
                "forms": [
                    {"href": f"{base}/state", "contentType": "application/json", "op": ["readproperty"]}
                ],
            }
            for name, aff in props.items()
        },
        # a virtual action is invoked by ordering the thing (the catalog); the form names where
        "actions": {
            name: {
                **aff,
                "forms": [
                    {
                        "href": f"{base}/actions/{name}",
                        "contentType": "application/json",
                        "op": ["invokeaction"],
                    }
                ],
            }
            for name, aff in actions.items()
        },
        "events": {
            name: {
                **aff,
                "forms": [{"href": f"{api_base}/stream", "subprotocol": "sse", "op": ["subscribeevent"]}],
            }
            for name, aff in events.items()
        },
        "links": [
            {"href": f"{api_base}/devices/{d}/td", "rel": "iplus:groundedBy", "type": "application/td+json"}
            for d in thing.device_ids
        ],
        "iplus:type": thing.node.path,
        "iplus:attributes": thing.attributes,
    }
    if thing.description:
        doc["description"] = thing.description
    if thing.latitude is not None and thing.longitude is not None:
        doc["schema:geo"] = {"schema:latitude": thing.latitude, "schema:longitude": thing.longitude}
    if thing.created is not None:
        doc["created"] = thing.created.isoformat()
    if thing.modified is not None:
        doc["modified"] = thing.modified.isoformat()
    return doc


def checked_td(thing: TdInput, api_base: str) -> dict[str, Any]:
    """The TD, refused with every schema violation named when it does not validate against TD 1.1."""
    doc = build_td(thing, api_base)
    problems = schema_errors(doc, "td")
    if problems:
        raise InvalidInput("the Thing Description does not validate against TD 1.1", errors=problems)
    return doc
