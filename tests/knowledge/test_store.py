"""The knowledge registry on both metadata stores: revisions, links and search behave the same."""

from __future__ import annotations

import pytest

from iplus.core.errors import InvalidInput
from iplus.core.roles import Role, Scope
from iplus.infra.db.engine import Database
from iplus.infra.db.models import Organisation
from iplus.platform.knowledge.algorithms import AlgorithmRegistry
from iplus.platform.knowledge.builtin import register_builtin
from iplus.platform.knowledge.documents import Attachment, ItemSpec, Knowledge
from iplus.platform.knowledge.targets import attach_builtin_targets
from iplus.platform.models import ModelRegistry
from iplus.security.principal import Principal
from tests.ai.test_registry import trained


async def _org(db: Database, name: str) -> Principal:
    async with db.transaction() as s:
        org = Organisation(name=name, roles=["user"])
        s.add(org)
        await s.flush()
        return Principal(org_id=org.id, roles=frozenset({Role.USER}), scopes=frozenset(Scope), is_admin=True)


async def test_knowledge_on_each_store(database: Database) -> None:
    algorithms = AlgorithmRegistry()
    register_builtin(algorithms)
    knowledge = Knowledge(database)
    attach_builtin_targets(knowledge, database, algorithms)
    a = await _org(database, "A")
    b = await _org(database, "B")
    spec = ItemSpec(
        kind="document",
        title="Erlang C in practice",
        body="Sizing a call centre with 100% of the\x01 text; percent signs and _underscores_ are literal.",
        tags=("queueing", "sizing"),
        attachments=(Attachment("algorithm", "queueing.mmc"), Attachment("algorithm", "queueing.mmc")),
    )
    first = await knowledge.create(a, spec)
    assert first.attachments == [Attachment("algorithm", "queueing.mmc")]
    for i in range(3):
        await knowledge.update(a, first.item.id, ItemSpec(**{**spec.__dict__, "title": f"v{i + 2}"}))
    assert [r.version for r in await knowledge.revisions(a, first.item.id)] == [1, 2, 3, 4]
    # LIKE wildcards in the search text are literal characters
    found, total = await knowledge.find(a, text="100%")
    assert total == 1 and found[0].item.version == 4
    assert (await knowledge.find(a, text="1_0"))[1] == 0
    assert (await knowledge.find(a, text="_underscores_"))[1] == 1
    assert (await knowledge.find(b, text="100%"))[1] == 0
    assert len(await knowledge.attached_to(a, "algorithm", "queueing.mmc")) == 1
    assert await knowledge.attached_to(b, "algorithm", "queueing.mmc") == []
    for n in range(12):
        await knowledge.create(a, ItemSpec(kind="rule", title=f"r{n}", content={"when": "x", "then": "y"}))
    pages = [await knowledge.find(a, kind="rule", offset=o, limit=5) for o in (0, 5, 10)]
    # models are attached by name once a version exists in the same organisation
    robust = ItemSpec(kind="document", title="z", body="b", attachments=(Attachment("model", "flow"),))
    with pytest.raises(InvalidInput):
        await knowledge.create(a, robust)
    await ModelRegistry(database).register(a, trained("robust-zscore", "flow", {"window": 24, "warmup": 4}))
    assert (await knowledge.create(a, robust)).attachments == [Attachment("model", "flow")]
    with pytest.raises(InvalidInput):
        await knowledge.create(b, robust)
    titles = [v.item.title for views, _ in pages for v in views]
    assert sorted(titles) == sorted(f"r{n}" for n in range(12)) and all(t == 12 for _, t in pages)
