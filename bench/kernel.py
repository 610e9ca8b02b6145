"""Kernel overheads: tenant-scoped repository reads vs raw SQLite, authenticated API calls vs a bare route."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import httpx
from fastapi import FastAPI

from bench.report import rate, row
from iplus.app import build_asgi, build_context
from iplus.config import Settings
from iplus.infra.db.migrate import upgrade
from iplus.infra.db.models import ApiKey
from iplus.infra.db.repos import ApiKeyRepository


async def main() -> None:
    """Measure and print."""
    with tempfile.TemporaryDirectory() as tmp:
        ctx = build_context(Settings(var_dir=Path(tmp)))
        await upgrade(ctx.db)
        org = await ctx.accounts.create_organisation("Bench", ["provider", "user"])
        await ctx.accounts.create_user(
            org_id=org.id, email="b@bench.io", name="B", password="bench-password", is_admin=True
        )
        async with ctx.db.transaction() as s:
            repo = ApiKeyRepository(s, org.id)
            for i in range(200):
                await repo.add(ApiKey(name=f"k{i}", key_hash=f"{i:064d}", scopes=["read"]))

        async def scoped() -> None:
            async with ctx.db.transaction() as s:
                await ApiKeyRepository(s, org.id).list(limit=50)

        raw = sqlite3.connect(Path(tmp) / "iplus.db")

        async def bare() -> None:
            raw.execute("SELECT * FROM api_keys WHERE org_id = ? ORDER BY id LIMIT 50", (org.id,)).fetchall()

        print("kernel benchmarks (higher is better; ratio = iplus / baseline)")
        row(
            "tenant-scoped list of 50 API keys",
            await rate(scoped, 500),
            await rate(bare, 500),
            "q/s",
            "raw sqlite3",
        )

        token = (await ctx.accounts.login("b@bench.io", "bench-password")).access_token
        auth = {"Authorization": f"Bearer {token}"}
        app = build_asgi(ctx)
        plain = FastAPI()

        @plain.get("/ping")
        async def ping() -> dict[str, str]:
            return {"ok": "yes"}

        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as c,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=plain), base_url="http://b") as p,
        ):

            async def me() -> None:
                (await c.get("/api/v1/auth/me", headers=auth)).raise_for_status()

            async def bare_route() -> None:
                (await p.get("/ping")).raise_for_status()

            row(
                "authenticated GET /api/v1/auth/me (JWT)",
                await rate(me, 1000),
                await rate(bare_route, 1000),
                "req/s",
                "bare FastAPI",
            )
        raw.close()
        await ctx.stop()
