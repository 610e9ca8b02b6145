"""Safe model artifacts: scikit-learn models via skops with an explicit trusted-type list, never pickle."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from iplus.core.errors import InvalidInput

SKOPS = "skops"
JSON = "json"
# skops trusts scikit-learn estimators, numpy and builtins by default; these are the extra
# types our own models contain. Anything else in an artifact is refused, never loaded.
TRUSTED_TYPES = [
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
]


def sha256(data: bytes) -> str:
    """Hex SHA-256 of an artifact."""
    return hashlib.sha256(data).hexdigest()


def dump_skops(obj: Any) -> bytes:
    """Serialise a model bundle with skops."""
    import skops.io as sio

    return bytes(sio.dumps(obj))


def load_skops(data: bytes) -> Any:
    """Load a skops artifact, refusing any type outside the default and explicit trusted lists."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # a corrupt or foreign file: say so instead of a traceback
        raise InvalidInput(f"artifact is not a readable skops file: {exc}") from exc
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if refused:
        raise InvalidInput(f"artifact contains types that are not trusted: {', '.join(refused)}")
    return sio.loads(data, trusted=TRUSTED_TYPES)


def dump_json(obj: Any) -> bytes:
    """Serialise the parameters of an online model as canonical JSON."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def load_json(data: bytes) -> dict[str, Any]:
    """Load a JSON artifact (an object)."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"artifact is not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise InvalidInput("artifact must be a JSON object")
    return obj


def load(fmt: str, data: bytes) -> Any:
    """Load an artifact of format ``skops`` or ``json``."""
    if fmt == SKOPS:
        return load_skops(data)
    if fmt == JSON:
        return load_json(data)
    raise InvalidInput(f"unknown artifact format {fmt!r}")
