"""What knowledge can be attached to out of the box: device types, algorithms and models."""

from __future__ import annotations

from sqlalchemy import select

from iplus.core.errors import NotFound
from iplus.infra.db.engine import Database
from iplus.infra.db.models import DeviceType
from iplus.infra.db.models_ai import ModelVersion
from iplus.platform.knowledge.algorithms import AlgorithmRegistry
from iplus.platform.knowledge.documents import Knowledge


def attach_builtin_targets(knowledge: Knowledge, db: Database, algorithms: AlgorithmRegistry) -> None:
    """Let items be attached to the organisation's device types and models, and to registered algorithms."""

    async def device_type(org_id: str, type_id: str) -> bool:
        async with db.transaction() as s:
            found = await s.scalar(
                select(DeviceType.id).where(DeviceType.org_id == org_id, DeviceType.id == type_id)
            )
        return found is not None

    async def algorithm(org_id: str, algorithm_id: str) -> bool:
        try:
            algorithms.get(algorithm_id)
        except NotFound:
            return False
        return True

    async def model(org_id: str, name: str) -> bool:
        # a model is attached by name, so the knowledge holds for all its versions
        async with db.transaction() as s:
            stmt = select(ModelVersion.id).where(ModelVersion.org_id == org_id, ModelVersion.name == name)
            found = await s.scalar(stmt.limit(1))
        return found is not None

    knowledge.attachable("device_type", device_type)
    knowledge.attachable("model", model)
    knowledge.attachable("algorithm", algorithm)
