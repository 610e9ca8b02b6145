"""Result files: CSV and Parquet writers (top-level, picklable: they run on the compute backend)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

FORMATS = ("csv", "parquet")
MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet", "json": "application/json"}


def jsonable(value: Any) -> Any:
    """One result value as JSON: times in ISO 8601 (naive ones are UTC), NaN and infinities as null."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def rows_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Any:
    """Rows as an Arrow table; column types inferred by Arrow, unnamed/duplicate columns renamed."""
    import pyarrow as pa

    names: list[str] = []
    for i, name in enumerate(columns):
        name = name or f"column{i}"
        names.append(name if name not in names else f"{name}_{i}")
    data = {name: [r[i] for r in rows] for i, name in enumerate(names)}
    return pa.table({name: pa.array(values) for name, values in data.items()})


def table_bytes(table: Any, fmt: str) -> bytes:
    """An Arrow table as CSV (header, ISO times) or Parquet bytes."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        sink = io.BytesIO()
        pq.write_table(table, sink)
        return sink.getvalue()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.column_names)
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    for row in zip(*columns, strict=True):
        writer.writerow(["" if v is None else jsonable(v) for v in row])
    return out.getvalue().encode()


def write_rows(path: str, columns: list[str], rows: list[tuple[Any, ...]], fmt: str) -> int:
    """Write query rows to ``path`` as CSV or Parquet; returns the file's size in bytes."""
    return write_table(path, rows_table(columns, rows), fmt)


def write_table(path: str, table: Any, fmt: str) -> int:
    """Write an Arrow table to ``path`` (written beside it, then renamed: never half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_bytes(table_bytes(table, fmt))
    partial.replace(target)
    return target.stat().st_size
