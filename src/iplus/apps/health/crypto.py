"""Sealing residents' personal data at rest: AES-256-GCM with a key derived from the platform secret.

- Key: HKDF-SHA256 (RFC 5869) of the platform's secret key, salt ``iplus.apps.health``, info naming the
  purpose, the key version and the organisation, so every tenant has its own key and no key is ever stored.
- Nonce: 96 random bits per sealing (NIST SP 800-38D 8.2.2; far below 2^32 sealings per key).
- Associated data: the record id, so a sealed blob copied onto another record does not open.
- Blob: one version byte, the nonce, then ciphertext and the 128-bit tag.

Opening checks the tag: a changed byte, a blob moved between records or organisations, or a different
secret key raises ``RecordIntegrityError`` and nothing is returned.
"""

from __future__ import annotations

import os
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from iplus.core.errors import IplusError

KEY_VERSION = 1
NONCE_BYTES = 12
SALT = b"iplus.apps.health"


class RecordIntegrityError(IplusError):
    """A sealed record failed its authentication check: altered, moved, or sealed under another key."""

    status = 500
    slug = "record-integrity"
    title = "Record integrity check failed"


def derive_key(secret_key: str, org_id: str, version: int = KEY_VERSION) -> bytes:
    """The 256-bit record key of one organisation (HKDF-SHA256 of the platform secret)."""
    info = f"resident-records/v{version}/{org_id}".encode()
    return HKDF(algorithm=SHA256(), length=32, salt=SALT, info=info).derive(secret_key.encode())


def associated_data(record_id: str) -> bytes:
    """What binds a blob to its record."""
    return f"health_residents/{record_id}".encode()


class RecordCipher:
    """Seals and opens residents' records for the organisations of one platform secret."""

    def __init__(self, secret_key: str) -> None:
        if len(secret_key) < 16:
            raise ValueError("the platform secret key is too short to derive record keys from")
        self._secret = secret_key
        self._keys: dict[tuple[str, int], AESGCM] = {}

    def _aead(self, org_id: str, version: int) -> AESGCM:
        aead = self._keys.get((org_id, version))
        if aead is None:
            aead = self._keys[(org_id, version)] = AESGCM(derive_key(self._secret, org_id, version))
        return aead

    def seal(self, org_id: str, record_id: str, data: dict[str, Any]) -> bytes:
        """The sealed blob of ``data`` (canonical JSON: sorted keys) for one record."""
        nonce = os.urandom(NONCE_BYTES)
        plain = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
        sealed = self._aead(org_id, KEY_VERSION).encrypt(nonce, plain, associated_data(record_id))
        return bytes([KEY_VERSION]) + nonce + sealed

    def open(self, org_id: str, record_id: str, blob: bytes) -> dict[str, Any]:
        """The record sealed in ``blob``; ``RecordIntegrityError`` if it does not authenticate."""
        if len(blob) < 1 + NONCE_BYTES + 16:
            raise RecordIntegrityError(f"resident record {record_id} is truncated")
        version, nonce, sealed = blob[0], blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        if version != KEY_VERSION:
            raise RecordIntegrityError(f"resident record {record_id} is sealed under unknown key {version}")
        try:
            plain = self._aead(org_id, version).decrypt(nonce, sealed, associated_data(record_id))
        except InvalidTag:
            raise RecordIntegrityError(
                f"resident record {record_id} does not authenticate: it was altered, moved to another "
                "record, or sealed under another secret key; it is not shown"
            ) from None
        data: dict[str, Any] = orjson.loads(plain)
        return data
