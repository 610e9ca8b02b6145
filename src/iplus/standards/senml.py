"""SenML JSON (RFC 8428): resolve base fields into self-contained records."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from iplus.core.errors import InvalidInput

# RFC 8428 section 4.5.3: times below 2**28 are relative to now (seconds)
RELATIVE_TIME_LIMIT = 2**28
_VALUE_FIELDS = ("v", "vs", "vb", "vd")
_KNOWN = {"bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut"}


@dataclass(frozen=True)
class Record:
    """A resolved SenML record: full name, absolute time in seconds, unit, and one value."""

    name: str
    time: float
    unit: str | None
    value: float | str | bool | None
    sum: float | None = None


def _number(record: dict[str, Any], key: str, where: str) -> float | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{where}: {key} must be a finite number")
    return float(value)


def resolve(pack: Any, now: float | None = None) -> list[Record]:
    """Resolve a SenML pack (a JSON array of records) as RFC 8428 section 4.6 describes."""
    if not isinstance(pack, list) or not pack:
        raise InvalidInput("a SenML pack is a non-empty JSON array of records")
    now = time.time() if now is None else now
    base_name, base_time, base_unit, base_value, base_sum = "", 0.0, None, None, None
    out: list[Record] = []
    for i, record in enumerate(pack):
        where = f"record {i}"
        if not isinstance(record, dict):
            raise InvalidInput(f"{where}: a SenML record is a JSON object")
        unknown = [k for k in record if k not in _KNOWN and k.endswith("_")]
        if unknown:
            # RFC 8428 section 4.4: an unknown field ending in "_" must be understood; others are ignored
            raise InvalidInput(f"{where}: unknown must-understand SenML fields {', '.join(sorted(unknown))}")
        if "bn" in record:
            if not isinstance(record["bn"], str):
                raise InvalidInput(f"{where}: bn must be a string")
            base_name = record["bn"]
        if "bt" in record:
            base_time = _number(record, "bt", where) or 0.0
        if "bu" in record:
            base_unit = record["bu"] if isinstance(record["bu"], str) else None
        if "bv" in record:
            base_value = _number(record, "bv", where)
        if "bs" in record:
            base_sum = _number(record, "bs", where)
        name = base_name + str(record.get("n", ""))
        if not name:
            raise InvalidInput(f"{where}: the record has no name (n or bn)")
        values = [k for k in _VALUE_FIELDS if k in record]
        if len(values) > 1:
            raise InvalidInput(f"{where}: a record carries at most one of v, vs, vb, vd")
        value: float | str | bool | None
        if values == ["v"]:
            value = (_number(record, "v", where) or 0.0) + (base_value or 0.0)
        elif values == ["vs"] or values == ["vd"]:
            value = record[values[0]]
            if not isinstance(value, str):
                raise InvalidInput(f"{where}: {values[0]} must be a string")
        elif values == ["vb"]:
            value = record["vb"]
            if not isinstance(value, bool):
                raise InvalidInput(f"{where}: vb must be true or false")
        else:
            value = base_value
        total = _number(record, "s", where)
        if total is not None or base_sum is not None:
            total = (total or 0.0) + (base_sum or 0.0)
        if value is None and total is None:
            raise InvalidInput(f"{where}: the record has neither a value nor a sum")
        t = base_time + (_number(record, "t", where) or 0.0)
        if t < RELATIVE_TIME_LIMIT:
            t = now + t
        unit = record.get("u", base_unit)
        out.append(
            Record(name=name, time=t, unit=unit if isinstance(unit, str) else None, value=value, sum=total)
        )
    return out
