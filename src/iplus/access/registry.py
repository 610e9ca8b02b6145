"""Device types (W3C WoT Thing Models) and devices, each with its own credential."""

from __future__ import annotations

import csv
import hmac
import io
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from iplus.core.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from iplus.core.ids import new_id, new_secret
from iplus.core.roles import Scope
from iplus.infra.db.engine import Database
from iplus.infra.db.models import Device, DeviceType
from iplus.infra.db.repos import DeviceLookup, DeviceRepository, DeviceTypeRepository
from iplus.security.principal import Principal
from iplus.security.tokens import digest
from iplus.standards.wot import PropertySpec, ThingModel, parse_thing_model

OnCredentials = Callable[[list[tuple[str, str]]], Awaitable[None]]
DEVICE_TOKEN_PREFIX = "idt_"  # noqa: S105 - a prefix that marks device tokens, not a secret
DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_BULK = 10_000
RESERVED_PREFIX = "iplus"


@dataclass(frozen=True)
class DeviceSpec:
    """What to create: a device of a type, with optional id, tags and location."""

    type_ref: str
    name: str = ""
    id: str | None = None
    tags: tuple[str, ...] = ()
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class DeviceIdentity:
    """A known device as ingest needs it: tenant, type, credential digest and property specs."""

    device_id: str
    org_id: str
    type_id: str
    token_hash: str
    properties: dict[str, PropertySpec]
    model: ThingModel


def _check_spec(spec: DeviceSpec, where: str) -> list[str]:
    problems = []
    if spec.id is not None and not DEVICE_ID.match(spec.id):
        problems.append(f"{where}: id {spec.id!r} must be 1-64 letters, digits, '.', '_' or '-'")
    elif spec.id is not None and spec.id.lower().startswith(RESERVED_PREFIX):
        # device ids are broker user names: the platform's own clients must stay out of reach
        problems.append(f"{where}: ids starting with {RESERVED_PREFIX!r} are reserved for the platform")
    if spec.latitude is not None and not -90 <= spec.latitude <= 90:
        problems.append(f"{where}: latitude must be between -90 and 90")
    if spec.longitude is not None and not -180 <= spec.longitude <= 180:
        problems.append(f"{where}: longitude must be between -180 and 180")
    if (spec.latitude is None) != (spec.longitude is None):
        problems.append(f"{where}: give both latitude and longitude, or neither")
    if len(spec.name) > 200:
        problems.append(f"{where}: name is longer than 200 characters")
    return problems


def parse_device_csv(text: str) -> list[DeviceSpec]:
    """Rows of ``type,name,id,tags,latitude,longitude`` (tags separated by ';'); a header is required."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "type" not in reader.fieldnames:
        raise InvalidInput("the CSV needs a header with at least a 'type' column")
    specs, problems = [], []
    for line, row in enumerate(reader, start=2):
        try:
            lat = float(row["latitude"]) if row.get("latitude") else None
            lon = float(row["longitude"]) if row.get("longitude") else None
        except ValueError:
            problems.append(f"line {line}: latitude and longitude must be numbers")
            continue
        tags = tuple(t.strip() for t in (row.get("tags") or "").split(";") if t.strip())
        specs.append(
            DeviceSpec(
                type_ref=(row.get("type") or "").strip(),
                name=(row.get("name") or "").strip(),
                id=(row.get("id") or "").strip() or None,
                tags=tags,
                latitude=lat,
                longitude=lon,
            )
        )
    if problems:
        raise InvalidInput("the CSV has errors", errors=problems)
    return specs


class Registry:
    """Creates and finds device types and devices; authenticates devices for ingest."""

    def __init__(
        self, db: Database, cache_seconds: float = 30.0, on_credentials: OnCredentials | None = None
    ) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        # called with (device id, token) pairs before new credentials commit (external broker sync)
        self.on_credentials = on_credentials
        self._cache: dict[str, tuple[float, DeviceIdentity | None]] = {}
        # a type's thing model never changes once registered: parse and validate it once
        self._models: dict[str, ThingModel] = {}

    # types ---------------------------------------------------------------------------
    async def create_type(
        self, caller: Principal, name: str, thing_model: Any, retention_days: int | None = None
    ) -> DeviceType:
        """Register a device type from a Thing Model (validated against the TM 1.1 schema)."""
        caller.require_scope(Scope.WRITE)
        parse_thing_model(thing_model)
        if not name.strip():
            raise InvalidInput("a device type needs a name")
        if retention_days is not None and retention_days < 1:
            raise InvalidInput("retention_days must be at least 1")
        async with self.db.transaction() as s:
            repo = DeviceTypeRepository(s, caller.org_id)
            if await repo.by_name(name.strip()):
                raise Conflict(f"device type {name.strip()!r} already exists")
            return await repo.add(
                DeviceType(name=name.strip(), thing_model=thing_model, retention_days=retention_days)
            )

    async def list_types(self, caller: Principal) -> list[DeviceType]:
        """The organisation's device types."""
        async with self.db.transaction() as s:
            return await DeviceTypeRepository(s, caller.org_id).all()

    async def get_type(self, caller: Principal, type_id: str) -> DeviceType:
        """One device type of the organisation."""
        async with self.db.transaction() as s:
            return await DeviceTypeRepository(s, caller.org_id).get(type_id)

    # devices -------------------------------------------------------------------------
    async def create_devices(self, caller: Principal, specs: list[DeviceSpec]) -> list[tuple[Device, str]]:
        """Create devices (all or none), each with a new token returned this once."""
        caller.require_scope(Scope.WRITE)
        if not specs:
            raise InvalidInput("no devices to create")
        if len(specs) > MAX_BULK:
            raise InvalidInput(f"at most {MAX_BULK} devices at once")
        problems: list[str] = []
        for i, spec in enumerate(specs):
            problems += _check_spec(spec, f"device {i}")
        ids = [s.id for s in specs if s.id]
        if len(ids) != len(set(ids)):
            problems.append("the same device id is given twice")
        async with self.db.transaction() as s:
            types = {t.id: t for t in await DeviceTypeRepository(s, caller.org_id).all()}
            by_name = {t.name: t for t in types.values()}
            resolved = []
            for i, spec in enumerate(specs):
                kind = types.get(spec.type_ref) or by_name.get(spec.type_ref)
                if kind is None:
                    problems.append(f"device {i}: unknown device type {spec.type_ref!r}")
                resolved.append(kind)
            if problems:
                raise InvalidInput("the devices cannot be created", errors=problems)
            made: list[tuple[Device, str]] = []
            for spec, kind in zip(specs, resolved, strict=True):
                assert kind is not None
                token = DEVICE_TOKEN_PREFIX + new_secret()
                device_id = spec.id or new_id()
                device = Device(
                    id=device_id,
                    type_id=kind.id,
                    name=spec.name or device_id,
                    tags=list(spec.tags),
                    latitude=spec.latitude,
                    longitude=spec.longitude,
                    token_hash=digest(token),
                )
                made.append((device, token))
            await DeviceRepository(s, caller.org_id).add_many([d for d, _ in made])
            if self.on_credentials is not None:
                await self.on_credentials([(d.id, t) for d, t in made])
        for device, _ in made:
            self._cache.pop(device.id, None)
        return made

    async def list_devices(
        self,
        caller: Principal,
        *,
        type_id: str | None = None,
        tag: str | None = None,
        text: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[Device]:
        """A page of the organisation's devices."""
        async with self.db.transaction() as s:
            return await DeviceRepository(s, caller.org_id).search(
                type_id=type_id, tag=tag, text=text, offset=offset, limit=limit
            )

    async def get_device(self, caller: Principal, device_id: str) -> Device:
        """One device of the organisation; another tenant's answers 404."""
        async with self.db.transaction() as s:
            return await DeviceRepository(s, caller.org_id).get(device_id)

    async def rotate_token(self, caller: Principal, device_id: str) -> str:
        """Give a device a new token; the old one stops here at once, in other processes within 30 s."""
        caller.require_scope(Scope.WRITE)
        token = DEVICE_TOKEN_PREFIX + new_secret()
        async with self.db.transaction() as s:
            device = await DeviceRepository(s, caller.org_id).get(device_id)
            device.token_hash = digest(token)
            if self.on_credentials is not None:
                await self.on_credentials([(device.id, token)])
        self._cache.pop(device_id, None)
        return token

    # ingest --------------------------------------------------------------------------
    async def identity(self, device_id: str) -> DeviceIdentity | None:
        """The device as ingest sees it, cached for a short while (None when unknown)."""
        now = time.monotonic()
        hit = self._cache.get(device_id)
        if hit is not None and now - hit[0] < self.cache_seconds:
            return hit[1]
        found: DeviceIdentity | None = None
        async with self.db.transaction() as s:
            lookup = DeviceLookup(s)
            device = await lookup.by_id(device_id)
            if device is not None:
                model = self._models.get(device.type_id)
                if model is None:
                    kind = await lookup.type_of(device)
                    model = self._models[kind.id] = parse_thing_model(kind.thing_model)
                found = DeviceIdentity(
                    device.id, device.org_id, device.type_id, device.token_hash, model.properties, model
                )
        self._cache[device_id] = (now, found)
        return found

    async def authenticate(self, device_id: str, token: str) -> DeviceIdentity:
        """The device whose id and token these are; anything else is ``Unauthenticated``."""
        found = await self.identity(device_id)
        if found is None or not hmac.compare_digest(found.token_hash, digest(token)):
            raise Unauthenticated("unknown device or wrong device token")
        return found

    async def owned(self, org_id: str, device_id: str) -> DeviceIdentity:
        """A device of ``org_id`` (for organisation-level ingest); others answer ``NotFound``."""
        found = await self.identity(device_id)
        if found is None or found.org_id != org_id:
            raise NotFound(f"device {device_id} not found")
        return found
