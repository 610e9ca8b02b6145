"""Catalog search over 10,000 offers: p95 of the platform's search beside the same query in raw SQL."""

from __future__ import annotations

import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from iplus.core.ids import new_id
from iplus.core.roles import Role, Scope
from iplus.infra.db.engine import Database
from iplus.infra.db.migrate import upgrade
from iplus.infra.db.models import Organisation
from iplus.infra.db.models_catalog import Offer, OfferVersion
from iplus.platform.catalog.finder import OfferQuery
from iplus.platform.catalog.offers import Offers
from iplus.security.principal import Principal
from iplus.virtual.taxonomy import load_taxonomy

N_OFFERS = 10_000
N_QUERIES = 400
WORDS = ["precise", "fast", "certified", "green", "local", "night", "express", "heavy", "small", "batch"]
SUPER_TYPES = [
    "capability/manufacturing",
    "machining",
    "additive_manufacturing",
    "charging",
    "care",
    "irrigation",
]


def p95(samples: list[float]) -> float:
    """The 95th percentile (nearest rank) in milliseconds."""
    ordered = sorted(samples)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)] * 1000


async def seed(db: Database, rng: random.Random) -> tuple[str, str]:
    """Two organisations and 10,000 published offers of capability types, written in bulk."""
    tax = load_taxonomy()
    types = [n.id for n in tax.nodes() if n.kind == "capability" and n.depth >= 2]
    async with db.transaction() as s:
        provider, user = Organisation(name="P", roles=["provider"]), Organisation(name="U", roles=["user"])
        s.add_all([provider, user])
        await s.flush()
        for i in range(N_OFFERS):
            t = tax.get(rng.choice(types))
            title = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {t.title} service {i}"
            price, time_h = round(rng.uniform(5, 1000), 2), round(rng.uniform(0.5, 96), 1)
            rel, avail, cap = round(rng.uniform(0.8, 1), 3), round(rng.uniform(0.8, 1), 3), rng.randint(1, 20)
            offer = Offer(
                id=new_id(), org_id=provider.id, stage="published", latest_version=1, published_version=1
            )
            s.add(offer)
            s.add(
                OfferVersion(
                    org_id=provider.id,
                    offer_id=offer.id,
                    version=1,
                    frozen=True,
                    listed=True,
                    title=title,
                    description="",
                    capability_type=t.id,
                    inputs={"type": "object", "properties": {}},
                    outputs={"type": "object", "properties": {}},
                    qos={
                        "price": {"value": price, "unit": "EUR"},
                        "time": {"value": time_h, "unit": "h"},
                        "reliability": {"value": rel, "unit": "1"},
                        "availability": {"value": avail, "unit": "1"},
                        "capacity": {"value": cap, "unit": "orders"},
                    },
                    calendar=[],
                    sla={},
                    things=[],
                    devices=[],
                    search_text=f"{title} {t.id} {t.title}".lower(),
                    price=price,
                    currency="EUR",
                    time_h=time_h,
                    reliability=rel,
                    availability=avail,
                    capacity=cap,
                )
            )
        return provider.id, user.id


def queries(rng: random.Random) -> list[OfferQuery]:
    """Text + type subtree + QoS bounds + paging, as a user's search form sends them."""
    return [
        OfferQuery(
            text=rng.choice(WORDS),
            type=rng.choice(SUPER_TYPES),
            max_price=rng.choice([None, rng.uniform(100, 900)]),
            min_reliability=rng.choice([None, rng.uniform(0.8, 0.95)]),
            offset=rng.choice([0, 0, 20, 40]),
            limit=20,
        )
        for _ in range(N_QUERIES)
    ]


def raw_sql(query: OfferQuery) -> tuple[str, list[Any]]:
    """The same search written by hand: visible published versions, filters, cheapest first."""
    tax = load_taxonomy()
    where = ["v.listed", "v.search_text LIKE ?"]
    args: list[Any] = [f"%{query.text}%"]
    types = [n.id for n in tax.subtree(query.type or "capability")]
    where.append(f"v.capability_type IN ({','.join('?' * len(types))})")
    args += types
    if query.max_price is not None:
        where.append("v.price <= ?")
        args.append(query.max_price)
    if query.min_reliability is not None:
        where.append("v.reliability >= ?")
        args.append(query.min_reliability)
    return (
        "FROM offer_versions v WHERE " + " AND ".join(where),
        args,
    )


async def main() -> None:
    """Seed 10,000 offers in SQLite, then time the platform search and the raw SQL of each query."""
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.db"
        db = Database(f"sqlite:///{path}")
        await upgrade(db)
        _, user_org = await seed(db, rng)
        offers = Offers(db, load_taxonomy())
        caller = Principal(org_id=user_org, roles=frozenset({Role.USER}), scopes=frozenset({Scope.READ}))
        qs = queries(rng)
        for q in qs[:20]:  # warm caches on both sides
            await offers.search(caller, q)
        platform, found = [], 0
        for q in qs:
            start = time.perf_counter()
            _, total = await offers.search(caller, q)
            platform.append(time.perf_counter() - start)
            found += total
        conn = sqlite3.connect(path)
        raw, raw_found = [], 0
        for q in qs:
            sql, args = raw_sql(q)
            start = time.perf_counter()
            rows = conn.execute(
                "SELECT v.*, count(*) OVER () " + sql + " ORDER BY v.price, v.offer_id LIMIT ? OFFSET ?",
                [*args, q.limit, q.offset],
            ).fetchall()
            total = rows[0][-1] if rows else conn.execute("SELECT count(*) " + sql, args).fetchone()[0]
            raw.append(time.perf_counter() - start)
            raw_found += total
        conn.close()
        await db.close()
    assert found == raw_found, (found, raw_found)  # both sides answered the same queries alike
    print(
        f"catalog search, {N_OFFERS:,} offers, {N_QUERIES} queries"
        " (text + type subtree + QoS + paging), SQLite"
    )
    print(
        f"{'  p95 latency':<44} iplus {p95(platform):>8.2f} ms   raw SQL {p95(raw):>8.2f} ms"
        f"   ratio {p95(platform) / p95(raw):5.2f}   (target iplus p95 <= 50 ms)"
    )
    print(
        f"{'  p50 latency':<44} iplus {statistics.median(platform) * 1000:>8.2f} ms"
        f"   raw SQL {statistics.median(raw) * 1000:>8.2f} ms   mean hits {found / N_QUERIES:,.0f}"
    )


if __name__ == "__main__":
    import asyncio

    asyncio.run(main())
