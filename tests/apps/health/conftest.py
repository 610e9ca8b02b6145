"""Fixtures of the health tests: a migrated SQLite store (paths with no store-specific SQL of their own)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from iplus.infra.db.engine import Database
from iplus.infra.db.migrate import upgrade


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite metadata store."""
    db = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    await upgrade(db)
    yield db
    await db.close()
