"""Model registry on SQLite and PostgreSQL: numbering, stages, artifacts checked by digest, tenancy."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import update

from iplus.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from iplus.core.roles import Role, Scope
from iplus.engines.ai.artifacts import sha256
from iplus.engines.ai.train import train_job
from iplus.infra.db.engine import Database
from iplus.infra.db.models_ai import ModelVersion
from iplus.platform.models import IntegrityError, ModelRegistry, NewVersion
from iplus.security.principal import Principal
from tests.contract.test_metadata_store import accounts


def caller(org_id: str, *scopes: Scope) -> Principal:
    return Principal(org_id, frozenset({Role.USER}), frozenset(scopes or (Scope.READ, Scope.WRITE)))


def trained(kind: str, name: str, params: dict[str, object]) -> NewVersion:
    y = 20 + 5 * np.sin(2 * np.pi * np.arange(300) / 24)
    r = train_job(kind, list(np.arange(300.0)), list(y), params)
    return NewVersion(
        name, kind, r["artifact"], r["format"], r["metrics"], {"params": r["params"]}, r["evaluation"]
    )


async def test_versions_stages_and_artifacts(database: Database) -> None:
    acc = accounts(database)
    a = caller((await acc.create_organisation("A", ["user"])).id)
    b = caller((await acc.create_organisation("B", ["user"])).id)
    reg = ModelRegistry(database)
    fc = trained("forecast", "flow", {"model": "ridge", "lags": 6})
    v1 = await reg.register(a, fc)
    v2 = await reg.register(a, fc)
    v3 = await reg.register(a, fc)
    assert [v.version for v in (v1, v2, v3)] == [1, 2, 3] and v1.stage == "candidate"
    assert v1.lineage["code_version"] and v1.lineage["params"]["lags"] == 6
    assert (await reg.register(b, fc)).version == 1  # numbering is per organisation

    await reg.set_stage(a, "flow", 1, "production")
    await reg.set_stage(a, "flow", 2, "production")  # archives version 1
    stages = {v.version: v.stage for v in await reg.versions(a, "flow")}
    assert stages == {1: "archived", 2: "production", 3: "candidate"}
    with pytest.raises(Conflict):
        await reg.set_stage(a, "flow", 2, "candidate")
    with pytest.raises(Conflict):
        await reg.set_stage(a, "flow", 2, "production")
    await reg.set_stage(a, "flow", 1, "production")  # roll back: 2 is archived now
    assert {v.version: v.stage for v in await reg.versions(a, "flow")} == {
        1: "production",
        2: "archived",
        3: "candidate",
    }
    with pytest.raises(InvalidInput):
        await reg.set_stage(a, "flow", 3, "deployed")
    summary = await reg.list_models(a)
    assert summary == [{"name": "flow", "kind": "forecast", "versions": 3, "latest": 3, "production": 1}]

    row, data = await reg.artifact(a, "flow", 3)
    assert sha256(data) == row.artifact_sha256 == sha256(fc.artifact) and len(data) == row.artifact_size
    _, bundle = await reg.load(a, "flow", 3)
    assert bundle["lags"] == 6
    # another tenant sees nothing; a read-only caller cannot write
    with pytest.raises(NotFound):
        await reg.get(b, "flow", 3)
    with pytest.raises(NotFound):
        await reg.set_stage(b, "flow", 3, "production")
    with pytest.raises(Forbidden):
        await reg.set_stage(caller(a.org_id, Scope.READ), "flow", 3, "production")
    # a tampered artifact is refused on the way out
    async with database.transaction() as s:
        await s.execute(
            update(ModelVersion).where(ModelVersion.id == row.id).values(artifact=data[:-1] + b"x")
        )
    with pytest.raises(IntegrityError):
        await reg.artifact(a, "flow", 3)


async def test_bad_registrations_store_nothing_and_online_versions_feed_the_detector(
    database: Database,
) -> None:
    acc = accounts(database)
    a = caller((await acc.create_organisation("A", ["user"])).id)
    b = caller((await acc.create_organisation("B", ["user"])).id)
    reg = ModelRegistry(database)
    good = trained("robust-zscore", "zs", {"window": 30, "threshold": 4.0})
    with pytest.raises(InvalidInput):
        await reg.register(a, NewVersion("bad name!", good.kind, good.artifact, "json", {}, {}))
    with pytest.raises(InvalidInput):
        await reg.register(a, NewVersion("zs", "lstm", good.artifact, "json", {}, {}))
    with pytest.raises(InvalidInput):
        await reg.register(a, NewVersion("zs", "forecast", b"not skops", "skops", {}, {}))
    assert await reg.list_models(a) == []
    row = await reg.register(a, good)
    fresh = ModelRegistry(database)  # another process: learns the versions at start
    await fresh.refresh_online()
    for r in (reg, fresh):
        det = r.detector(a.org_id, row.id)
        for v in [10.0, 11.0, 9.0, 10.5, 9.5] * 10:
            det.learn_one(v)
        assert det.score_one(10.0) < 1.0 < det.score_one(30.0)
    assert reg.detector(a.org_id, "zscore").score_one(1.0) == 0.0  # a built-in kind by alias, warming up
    assert reg.detector(b.org_id, "zscore").score_one(1.0) == 0.0  # built-in kinds are everybody's
    with pytest.raises(InvalidInput):
        reg.detector(a.org_id, "no-such-model")
    for r in (reg, fresh):  # another organisation's version does not exist for it
        with pytest.raises(InvalidInput):
            r.detector(b.org_id, row.id)
