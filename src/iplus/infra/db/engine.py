"""Async engine and sessions for SQLite (WAL) and PostgreSQL (asyncpg), picked by URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from iplus.core.errors import ConfigurationError, InvalidInput
from iplus.infra.ports import Readiness
from iplus.infra.timing import timed_check

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def normalise_url(url: str) -> str:
    """Map plain ``sqlite://``/``postgresql://`` URLs onto their async drivers."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigurationError(f"metadata store URL {url!r} is not a database URL") from exc
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"metadata store {backend!r} is not supported; use sqlite:// or postgresql://"
        )
    if "+" not in parsed.drivername:
        parsed = parsed.set(drivername=_DRIVERS[parsed.drivername])
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Database:
    """The metadata store: one async engine and its session factory."""

    name = "metadata"

    def __init__(self, url: str, *, search_path: str | None = None, echo: bool = False) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        kwargs: dict[str, Any] = {"echo": echo}
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
        else:
            # a server may drop idle connections; a file never does, so only servers are pinged
            kwargs["pool_pre_ping"] = True
            if search_path:
                # tests and multi-schema deployments keep every table in one schema
                kwargs["connect_args"] = {"server_settings": {"search_path": search_path}}
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error.

        Values the store refuses as data (SQLSTATE class 22: NUL bytes, over-long strings) become
        ``InvalidInput``: they are the caller's to fix, not a server fault.
        """
        try:
            async with self.sessions() as session, session.begin():
                yield session
        except DBAPIError as exc:
            code = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
            if isinstance(exc, DataError) or code.startswith("22"):
                raise InvalidInput(
                    "a value is not accepted by the store (control character or too long)"
                ) from exc
            raise

    async def ping(self) -> Readiness:
        """Run ``SELECT 1`` on the store."""

        async def check() -> str:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            # no user name or password in a report that anyone may read
            where = make_url(self.url).set(username=None, password=None)
            return f"{self.dialect} {where.render_as_string(hide_password=True)}"

        return await timed_check(self.dialect, check)

    async def close(self) -> None:
        """Dispose the connection pool."""
        await self.engine.dispose()
