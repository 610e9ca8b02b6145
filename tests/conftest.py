"""Shared fixtures: settings in a temporary folder, metadata stores (SQLite and PostgreSQL), API client."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from iplus.app import build_asgi, build_context
from iplus.config import Settings
from iplus.infra.db.engine import Database
from iplus.infra.db.migrate import upgrade
from iplus.platform.context import Context

PG_URL = os.environ.get("IPLUS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose files all live in a temporary folder."""
    return Settings(var_dir=tmp_path / "var", broker_url="embedded://127.0.0.1:0")


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema in database ``test``, dropped afterwards."""
    import asyncio

    name = f"t_{uuid.uuid4().hex[:12]}"

    async def run(sql: str) -> None:
        db = Database(PG_URL)
        async with db.engine.begin() as conn:
            await conn.execute(text(sql))
        await db.close()

    def in_thread(sql: str) -> None:
        # async fixtures may ask for this one while their loop runs: use a loop of our own
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, run(sql)).result()

    in_thread(f'CREATE SCHEMA "{name}"')
    yield name
    in_thread(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_params(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """(URL, search_path) of a metadata store of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.db'}", None
    schema = request.getfixturevalue("pg_schema")
    return PG_URL, schema


@pytest.fixture
async def database(store_params: tuple[str, str | None]) -> AsyncIterator[Database]:
    """A migrated metadata store of each kind."""
    url, schema = store_params
    db = Database(url, search_path=schema)
    await upgrade(db)
    yield db
    await db.close()


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[Context]:
    """A platform context on SQLite, migrated, backends not started."""
    context = build_context(settings)
    await upgrade(context.db)
    yield context
    await context.stop()


@pytest.fixture
async def client(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the ASGI app in-process."""
    transport = httpx.ASGITransport(app=build_asgi(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder where tests keep screenshots and reports."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
