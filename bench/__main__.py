"""Run every benchmark: ``python -m bench``."""

from __future__ import annotations

import asyncio

from bench import ai, analytics, catalog, ingest, kernel, pools, sim, stream, systems


def main() -> None:
    """Run the benchmarks in turn and print one table each."""
    asyncio.run(kernel.main())
    print()
    asyncio.run(ingest.main())
    print()
    ai.main()
    print()
    asyncio.run(analytics.main())
    print()
    sim.main()
    print()
    stream.main()
    print()
    asyncio.run(catalog.main())
    print()
    asyncio.run(pools.main())
    print()
    systems.main()


if __name__ == "__main__":
    main()
