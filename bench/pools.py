"""Pool search over 10,000 virtual things: p95 of the platform's search beside the same query in raw SQL."""

from __future__ import annotations

import math
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from iplus.core.roles import Role, Scope
from iplus.infra.db.engine import Database
from iplus.infra.db.migrate import upgrade
from iplus.infra.db.models import Organisation
from iplus.security.principal import Principal
from iplus.virtual.pools import EARTH_RADIUS_KM, AttrFilter, PoolQuery
from iplus.virtual.spec import ThingSpec, Window
from iplus.virtual.state import TelemetryTwinSource
from iplus.virtual.taxonomy import load_taxonomy
from iplus.virtual.things import VirtualThings

N_THINGS = 10_000
N_QUERIES = 300
WORDS = ["precise", "fast", "certified", "green", "local", "night", "express", "heavy", "small", "batch"]
MATERIALS = ["steel", "aluminium", "titanium", "plastic", "wood"]
T0 = datetime(2027, 1, 1, tzinfo=UTC)
SUPER = ["capability/manufacturing", "machining", "additive_manufacturing", "charging", "care", "irrigation"]


def p95(samples: list[float]) -> float:
    """The 95th percentile (nearest rank) in milliseconds."""
    ordered = sorted(samples)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)] * 1000


def make_specs(rng: random.Random) -> list[ThingSpec]:
    """10,000 things over every type below the domains, around Europe, with attributes and calendars."""
    tax = load_taxonomy()
    nodes = [n for n in tax.nodes() if n.depth >= 2]
    specs = []
    for i in range(N_THINGS):
        node = nodes[i % len(nodes)] if i < len(nodes) else rng.choice(nodes)
        day = rng.randrange(0, 60)
        cal = tuple(
            Window(T0 + timedelta(days=day + 3 * k, hours=6), T0 + timedelta(days=day + 3 * k, hours=20))
            for k in range(3)
        )
        specs.append(
            ThingSpec(
                kind=node.kind,
                type=node.id,
                title=f"{rng.choice(WORDS)} {rng.choice(WORDS)} {node.title} {i}",
                visibility="public" if rng.random() < 0.6 else "private",
                attributes={
                    "max_part_size_mm": rng.choice([100, 200, 400, 800, 1600]),
                    "material": rng.choice(MATERIALS),
                    "power_kw": round(rng.uniform(1, 300), 1),
                },
                latitude=round(rng.uniform(36, 60), 5),
                longitude=round(rng.uniform(-9, 30), 5),
                properties={"load": {"type": "number", "unit": "%"}},
                calendar=cal,
            )
        )
    return specs


def make_queries(rng: random.Random) -> list[PoolQuery]:
    """Searches as users run them: type subtree + attributes, text, radius, a window, or all at once."""
    out = []
    for i in range(N_QUERIES):
        shape = i % 5
        kind, type_ = "capability", rng.choice(SUPER)
        low = rng.choice([100, 200, 400])
        attrs = (
            AttrFilter("max_part_size_mm", minimum=low),
            AttrFilter("material", equals=rng.choice(MATERIALS)),
        )
        near = (round(rng.uniform(40, 55), 3), round(rng.uniform(0, 20), 3))
        start = T0 + timedelta(days=rng.randrange(0, 60), hours=8)
        until = start + timedelta(hours=4)
        offset = rng.choice([0, 0, 0, 20])
        if shape == 0:
            q = PoolQuery(kind=kind, type=type_, attrs=attrs, offset=offset)
        elif shape == 1:
            q = PoolQuery(kind=kind, text=rng.choice(WORDS), offset=offset)
        elif shape == 2:
            q = PoolQuery(
                kind=rng.choice(["resource", "capability"]), near=near, radius_km=300.0, offset=offset
            )
        elif shape == 3:
            q = PoolQuery(kind=kind, type=type_, offset=offset, available_from=start, available_to=until)
        else:
            q = PoolQuery(
                kind=kind,
                type="capability",
                text=rng.choice(WORDS),
                attrs=attrs[:1],
                near=near,
                radius_km=800.0,
                available_from=start,
                available_to=until,
            )
        out.append(q)
    return out


def _stamp(ts: datetime) -> str:
    # SQLAlchemy's SQLite DateTime text form, in UTC
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def raw_sql(q: PoolQuery, org_id: str) -> tuple[str, list[Any]]:
    """The same filters written by hand for sqlite3: WHERE clause and its parameters."""
    where = ["(t.org_id = ? OR t.visibility = 'public')"]
    args: list[Any] = [org_id]
    if q.kind:
        where.append("t.kind = ?")
        args.append(q.kind)
    if q.type:
        node = load_taxonomy().get(q.type)
        where.append("t.kind = ?")
        args.append(node.kind)
        if node.depth == 1:
            where.append("t.domain = ?")
            args.append(node.domain)
        elif node.depth >= 2:
            ids = [n.id for n in load_taxonomy().subtree(q.type)]
            where.append(f"t.type IN ({','.join('?' * len(ids))})")
            args += ids
    for word in (q.text or "").lower().split():
        where.append("t.search_text LIKE ?")
        args.append(f"%{word}%")
    for f in q.attrs:
        cond = "a.key = ?"
        args.append(f.key)
        if isinstance(f.equals, str):
            cond += " AND a.text = ?"
            args.append(f.equals)
        if f.minimum is not None:
            cond += " AND a.num >= ?"
            args.append(f.minimum)
        where.append(f"t.id IN (SELECT a.thing_id FROM virtual_thing_attributes a WHERE {cond})")
    if q.near and q.radius_km:
        lat, lon = q.near
        ang = q.radius_km / EARTH_RADIUS_KM
        dlat, dlon = math.degrees(ang), math.degrees(math.asin(math.sin(ang) / math.cos(math.radians(lat))))
        where.append("t.latitude BETWEEN ? AND ? AND t.longitude BETWEEN ? AND ?")
        args += [lat - dlat, lat + dlat, lon - dlon, lon + dlon]
        where.append(
            "pow(sin((radians(t.latitude) - ?) / 2), 2) + ? * cos(radians(t.latitude)) "
            "* pow(sin((radians(t.longitude) - ?) / 2), 2) <= ?"
        )
        args += [
            math.radians(lat),
            math.cos(math.radians(lat)),
            math.radians(lon),
            math.sin(ang / 2) ** 2 + 1e-12,
        ]
    if q.available_from and q.available_to:
        where.append(
            "EXISTS (SELECT 1 FROM virtual_thing_windows w WHERE w.thing_id = t.id "
            "AND w.starts_at <= ? AND w.ends_at >= ?)"
        )
        args += [_stamp(q.available_from), _stamp(q.available_to)]
    return " AND ".join(where), args


def raw_search(conn: sqlite3.Connection, q: PoolQuery, org_id: str) -> tuple[list[str], int]:
    """A page of ids (ordered as the platform orders them) and the facets, straight on sqlite3."""
    where, args = raw_sql(q, org_id)
    if q.near:
        lat, lon = q.near
        order = (
            "pow(sin((radians(t.latitude) - ?) / 2), 2) + ? * cos(radians(t.latitude)) "
            "* pow(sin((radians(t.longitude) - ?) / 2), 2), t.title, t.id"
        )
        order_args = [math.radians(lat), math.cos(math.radians(lat)), math.radians(lon)]
    else:
        order, order_args = "t.title, t.id", []
    page = conn.execute(
        f"SELECT t.id, t.title, t.attributes FROM virtual_things t WHERE {where} "
        f"ORDER BY {order} LIMIT ? OFFSET ?",
        [*args, *order_args, q.limit, q.offset],
    ).fetchall()
    rows = conn.execute(f"SELECT t.type, count(*) FROM virtual_things t WHERE {where} GROUP BY t.type", args)
    total = sum(n for _, n in rows.fetchall())
    return [r[0] for r in page], total


async def main() -> None:
    """Seed 10,000 things through the service, then time the same searches both ways."""
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pools.db"
        db = Database(f"sqlite:///{path}")
        await upgrade(db)
        async with db.transaction() as s:
            orgs = [
                Organisation(name="Provider", roles=["provider"]),
                Organisation(name="User", roles=["user"]),
            ]
            s.add_all(orgs)
        provider = Principal(orgs[0].id, frozenset({Role.PROVIDER}), frozenset({Scope.READ, Scope.WRITE}))
        user = Principal(orgs[1].id, frozenset({Role.USER}), frozenset({Scope.READ}))
        things = VirtualThings(db, TelemetryTwinSource(None))  # type: ignore[arg-type]  # no state read here
        specs = make_specs(rng)
        start = time.perf_counter()
        for i in range(0, len(specs), 1000):
            await things.create_many(provider, specs[i : i + 1000])
        seeded = time.perf_counter() - start
        queries = make_queries(rng)
        conn = sqlite3.connect(path)
        for q in queries[:20]:  # warm both paths, and check they agree
            page = await things.search(user, q)
            ids, total = raw_search(conn, q, user.org_id)
            assert [i.thing.id for i in page.items] == ids and page.total == total, q
        platform, raw, hits = [], [], []
        for q in queries:
            t = time.perf_counter()
            page = await things.search(user, q)
            platform.append(time.perf_counter() - t)
            hits.append(page.total)
            t = time.perf_counter()
            raw_search(conn, q, user.org_id)
            raw.append(time.perf_counter() - t)
        conn.close()
        await db.close()
    a, b = p95(platform), p95(raw)
    median = sorted(hits)[len(hits) // 2]
    print(f"pools: {N_THINGS:,} virtual things seeded through the service in {seeded:.1f} s;")
    print(f"       {N_QUERIES} searches (a page of 20 + facets each), median {median} hits")
    print(
        f"{'pool search p95 (SQLite)':<44} iplus {a:>8.1f} ms   raw sqlite3 {b:>8.1f} ms   ratio {a / b:5.2f}"
    )


if __name__ == "__main__":
    import asyncio

    asyncio.run(main())
