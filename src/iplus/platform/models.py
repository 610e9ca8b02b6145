"""Model registry: versions of trained models with metrics, lineage, stage and a verified artifact."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import undefer

from iplus import __version__
from iplus.core.clock import utcnow
from iplus.core.errors import Conflict, InvalidInput, IplusError, NotFound
from iplus.core.roles import Scope
from iplus.engines.ai import artifacts
from iplus.engines.ai.online import KINDS as ONLINE_KINDS
from iplus.engines.ai.online import Detector, factory
from iplus.engines.ai.train import KINDS
from iplus.infra.db.engine import Database
from iplus.infra.db.models_ai import STAGES, ModelVersion
from iplus.infra.db.repos import flush_or_conflict
from iplus.security.principal import Principal

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# short names the stream engine's rules may use for the built-in online detectors
ALIASES = {"halfspace": "half-space-trees", "hst": "half-space-trees", "zscore": "robust-zscore"}
# stage -> stages it may move to; archived versions may come back to production (roll back)
TRANSITIONS = {
    "candidate": ("production", "archived"),
    "production": ("archived",),
    "archived": ("production",),
}


class IntegrityError(IplusError):
    """A stored artifact no longer matches its SHA-256: restore it from a backup."""

    status = 500
    slug = "artifact-integrity"
    title = "Artifact integrity check failed"


@dataclass(frozen=True)
class NewVersion:
    """What training hands the registry: the artifact and everything known about how it was made."""

    name: str
    kind: str
    artifact: bytes
    artifact_format: str
    metrics: dict[str, Any]
    lineage: dict[str, Any]
    evaluation: dict[str, Any] = field(default_factory=dict)


def check_name(name: str) -> str:
    """A model name: 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit."""
    if not MODEL_NAME.match(name):
        raise InvalidInput(f"model name {name!r} must be 1-100 letters, digits, '.', '_' or '-'")
    return name


class ModelRegistry:
    """Registers, lists, stages and serves model versions, scoped by organisation."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._online: dict[str, tuple[str, dict[str, Any]]] = {}
        self._owners: dict[str, str] = {}  # online version id -> its organisation
        self._factory = factory(self._online)  # reads the dict at call time: later entries count

    async def register(self, caller: Principal, new: NewVersion) -> ModelVersion:
        """Store a new candidate version (number = last + 1); the artifact is verified loadable first."""
        caller.require_scope(Scope.WRITE)
        check_name(new.name)
        if new.kind not in KINDS:
            raise InvalidInput(f"unknown model kind {new.kind!r}: use {', '.join(KINDS)}")
        # refuse anything that would not load safely (untrusted types, corrupt bytes) before storing it
        await asyncio.to_thread(artifacts.load, new.artifact_format, new.artifact)
        lineage = {**new.lineage, "code_version": __version__}
        for attempt in range(3):
            try:
                async with self.db.transaction() as s:
                    last = await s.scalar(
                        select(func.max(ModelVersion.version)).where(
                            ModelVersion.org_id == caller.org_id, ModelVersion.name == new.name
                        )
                    )
                    row = ModelVersion(
                        org_id=caller.org_id,
                        name=new.name,
                        version=(last or 0) + 1,
                        kind=new.kind,
                        stage="candidate",
                        metrics=new.metrics,
                        lineage=lineage,
                        evaluation=new.evaluation,
                        artifact_format=new.artifact_format,
                        artifact_sha256=artifacts.sha256(new.artifact),
                        artifact_size=len(new.artifact),
                        artifact=new.artifact,
                        created_by=caller.user_id,
                    )
                    s.add(row)
                    await flush_or_conflict(s, f"model {new.name} version {row.version}")
                if new.kind in ONLINE_KINDS:
                    self._remember(row.id, caller.org_id, new.artifact)
                return row
            except Conflict:
                if attempt == 2:  # two registrations raced for the same number three times
                    raise
        raise AssertionError("unreachable")

    async def list_models(self, caller: Principal) -> list[dict[str, Any]]:
        """One summary per model name: kind, versions, latest and production version."""
        caller.require_scope(Scope.READ)
        async with self.db.transaction() as s:
            rows = (
                await s.scalars(
                    select(ModelVersion)
                    .where(ModelVersion.org_id == caller.org_id)
                    .order_by(ModelVersion.name, ModelVersion.version)
                )
            ).all()
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            item = out.setdefault(r.name, {"name": r.name, "versions": 0, "production": None})
            item.update(kind=r.kind, latest=r.version, versions=item["versions"] + 1)
            if r.stage == "production":
                item["production"] = r.version
        return list(out.values())

    async def versions(self, caller: Principal, name: str) -> list[ModelVersion]:
        """Every version of a model, oldest first; an unknown name is ``NotFound``."""
        caller.require_scope(Scope.READ)
        async with self.db.transaction() as s:
            rows = list(
                (
                    await s.scalars(
                        select(ModelVersion)
                        .where(ModelVersion.org_id == caller.org_id, ModelVersion.name == name)
                        .order_by(ModelVersion.version)
                    )
                ).all()
            )
        if not rows:
            raise NotFound(f"model {name} not found")
        return rows

    async def get(
        self, caller: Principal, name: str, version: int, *, with_artifact: bool = False
    ) -> ModelVersion:
        """One version of a model of the caller's organisation."""
        caller.require_scope(Scope.READ)
        stmt = select(ModelVersion).where(
            ModelVersion.org_id == caller.org_id, ModelVersion.name == name, ModelVersion.version == version
        )
        if with_artifact:
            stmt = stmt.options(undefer(ModelVersion.artifact))
        async with self.db.transaction() as s:
            row = await s.scalar(stmt)
        if row is None:
            raise NotFound(f"model {name} version {version} not found")
        return row

    async def set_stage(self, caller: Principal, name: str, version: int, stage: str) -> ModelVersion:
        """Move a version to ``stage``; promoting one to production archives the previous production one."""
        caller.require_scope(Scope.WRITE)
        if stage not in STAGES:
            raise InvalidInput(f"stage must be one of {', '.join(STAGES)}")
        async with self.db.transaction() as s:
            row = await s.scalar(
                select(ModelVersion)
                .where(
                    ModelVersion.org_id == caller.org_id,
                    ModelVersion.name == name,
                    ModelVersion.version == version,
                )
                .with_for_update()
            )
            if row is None:
                raise NotFound(f"model {name} version {version} not found")
            if stage not in TRANSITIONS[row.stage]:
                raise Conflict(f"model {name} version {version} is {row.stage}: it cannot become {stage}")
            now = utcnow()
            if stage == "production":
                await s.execute(
                    update(ModelVersion)
                    .where(
                        ModelVersion.org_id == caller.org_id,
                        ModelVersion.name == name,
                        ModelVersion.stage == "production",
                    )
                    .values(stage="archived", stage_changed_at=now)
                )
            row.stage = stage
            row.stage_changed_at = now
            await s.flush()
            return row

    async def artifact(self, caller: Principal, name: str, version: int) -> tuple[ModelVersion, bytes]:
        """The version and its artifact bytes, checked against the stored SHA-256."""
        row = await self.get(caller, name, version, with_artifact=True)
        data = bytes(row.artifact)
        if artifacts.sha256(data) != row.artifact_sha256:
            raise IntegrityError(f"model {name} version {version}: the artifact does not match its SHA-256")
        return row, data

    async def load(self, caller: Principal, name: str, version: int) -> tuple[ModelVersion, Any]:
        """The version and its artifact loaded for scoring (skops with trusted types, or JSON)."""
        row, data = await self.artifact(caller, name, version)
        return row, await asyncio.to_thread(artifacts.load, row.artifact_format, data)

    async def refresh_online(self) -> None:
        """Read every online model version's parameters (small JSON) for ``detector``."""
        async with self.db.transaction() as s:
            rows = (
                await s.scalars(
                    select(ModelVersion)
                    .where(ModelVersion.kind.in_(ONLINE_KINDS))
                    .options(undefer(ModelVersion.artifact))
                )
            ).all()
        for r in rows:
            self._remember(r.id, r.org_id, bytes(r.artifact))

    def _remember(self, version_id: str, org_id: str, artifact: bytes) -> None:
        spec = artifacts.load_json(artifact)
        self._online[version_id] = (str(spec["detector"]), dict(spec["params"]))
        self._owners[version_id] = org_id

    def detector(self, org_id: str, reference: str) -> Detector:
        """A new online detector: a built-in kind (or alias), or the id of the organisation's online version.

        This is the stream engine's detector factory. Versions are known once registered in this
        process or read by ``refresh_online`` (the context calls it at start); another
        organisation's version answers as if it did not exist.
        """
        owner = self._owners.get(reference)
        if owner is not None and owner != org_id:
            raise InvalidInput(f"unknown online detector or model version {reference!r}")
        return self._factory(ALIASES.get(reference, reference))
