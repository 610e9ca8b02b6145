"""Run every benchmark: ``python -m bench``."""

from __future__ import annotations

import asyncio

from bench import ingest, kernel


def main() -> None:
    """Run the benchmarks in turn and print one table each."""
    asyncio.run(kernel.main())
    print()
    asyncio.run(ingest.main())


if __name__ == "__main__":
    main()
