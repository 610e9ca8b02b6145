"""Alembic environment: runs on a connection handed in by ``iplus.infra.db.migrate`` or from settings."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from iplus.infra.db.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_settings() -> None:
    from iplus.config import Settings
    from iplus.infra.db.engine import Database

    database = Database(Settings().metadata_url)
    async with database.engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await database.close()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_from_settings())
