"""Sealing personal data: HKDF key derivation per RFC 5869, AES-GCM blobs, and every way a blob is refused."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from iplus.apps.health.crypto import KEY_VERSION, NONCE_BYTES, RecordCipher, RecordIntegrityError, derive_key

SECRET = "a-platform-secret-key-of-some-length"
RECORD = {"name": "Ada Example", "birth_date": "1940-01-02", "conditions": ["asthma"], "notes": []}


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869, written out: extract, then expand."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block = b"", b""
    for i in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


def test_the_written_out_hkdf_meets_rfc5869_test_case_1() -> None:
    okm = hkdf_sha256(bytes([0x0B] * 22), bytes(range(13)), bytes(range(0xF0, 0xFA)), 42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_record_keys_are_hkdf_of_the_secret_per_organisation() -> None:
    expected = hkdf_sha256(SECRET.encode(), b"iplus.apps.health", b"resident-records/v1/org-a", 32)
    assert derive_key(SECRET, "org-a") == expected
    assert derive_key(SECRET, "org-b") != expected


def test_a_sealed_record_opens_with_the_derived_key_and_holds_no_plaintext() -> None:
    cipher = RecordCipher(SECRET)
    blob = cipher.seal("org-a", "rec-1", RECORD)
    assert blob[0] == KEY_VERSION and len(blob) > 1 + NONCE_BYTES + 16
    for text in ("Ada", "Example", "1940", "asthma"):
        assert text.encode() not in blob
    # opened independently: the key from the written-out HKDF, the record id as associated data
    key = hkdf_sha256(SECRET.encode(), b"iplus.apps.health", b"resident-records/v1/org-a", 32)
    plain = AESGCM(key).decrypt(blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], b"health_residents/rec-1")
    assert plain == b'{"birth_date":"1940-01-02","conditions":["asthma"],"name":"Ada Example","notes":[]}'
    assert cipher.open("org-a", "rec-1", blob) == RECORD
    # a fresh nonce each time: the same record never seals to the same bytes
    assert cipher.seal("org-a", "rec-1", RECORD) != blob


@pytest.mark.parametrize("position", [1, 5, NONCE_BYTES + 1, NONCE_BYTES + 10, -1])
def test_any_changed_byte_is_refused(position: int) -> None:
    cipher = RecordCipher(SECRET)
    blob = bytearray(cipher.seal("org-a", "rec-1", RECORD))
    blob[position] ^= 0x01
    with pytest.raises(RecordIntegrityError, match="does not authenticate"):
        cipher.open("org-a", "rec-1", bytes(blob))


def test_a_blob_moved_to_another_record_organisation_or_key_is_refused() -> None:
    blob = RecordCipher(SECRET).seal("org-a", "rec-1", RECORD)
    with pytest.raises(RecordIntegrityError):
        RecordCipher(SECRET).open("org-a", "rec-2", blob)
    with pytest.raises(RecordIntegrityError):
        RecordCipher(SECRET).open("org-b", "rec-1", blob)
    with pytest.raises(RecordIntegrityError):
        RecordCipher(SECRET + "x").open("org-a", "rec-1", blob)
    with pytest.raises(RecordIntegrityError, match="truncated"):
        RecordCipher(SECRET).open("org-a", "rec-1", blob[:20])
    with pytest.raises(RecordIntegrityError, match="unknown key"):
        RecordCipher(SECRET).open("org-a", "rec-1", bytes([9]) + blob[1:])
    with pytest.raises(ValueError):
        RecordCipher("short")
