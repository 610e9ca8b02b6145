"""Checks that a JSON document from a caller can be stored and answered as it was given."""

from __future__ import annotations

import math
from typing import Any

MAX_JSON_DEPTH = 32


def json_problems(value: Any, where: str, depth: int = 0) -> list[str]:
    """Why a JSON document cannot be stored and answered: NaN or an infinity (Python's JSON reader
    accepts them, JSON does not), or nesting deeper than ``MAX_JSON_DEPTH`` (responses could not be
    serialised, so the row would answer 500 for good)."""
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{where}: numbers must be finite"]
    if isinstance(value, dict | list) and depth >= MAX_JSON_DEPTH:
        return [f"{where}: nested deeper than {MAX_JSON_DEPTH} levels"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in json_problems(v, f"{where}/{k}", depth + 1)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in json_problems(v, f"{where}/{i}", depth + 1)]
    return []
