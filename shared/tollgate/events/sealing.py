"""Endpoint secrets at rest. They must sign every delivery, so they cannot be stored as hashes: they are
sealed with AES-256-GCM under a **sealing key named by its id**, and the sealed value carries that id, so a
rotation of the sealing key loses nothing. The table alone (a backup, an export) never yields a secret.

- The key ring: ``WEBHOOK_SEALING_KEYS`` (locally the value itself; in AWS the SSM SecureString named by
  ``WEBHOOK_SEALING_KEYS_PARAMETER``), ``id=secret`` pairs separated by commas, the **first** the current key
  (it seals), the others kept for opening what they sealed: ``k2=<new>,k1=<old>``. An id is 1-16 of
  ``[A-Za-z0-9_-]``, a secret at least 32 characters; the AES key is HKDF-SHA256 of the secret with a purpose
  label and the id.
- Sealed form ``v2.<key id>.<base64url(nonce + ciphertext)>``; the associated data binds it to its tenant,
  endpoint and key id, so it cannot be copied onto another endpoint's item.
- Rotating: put the new key first and keep the old one after it (``docs/events.md``, "Rotating the sealing
  key"). A function that meets a key id its cached ring lacks reads the ring afresh once, so containers
  started before the rotation open what newer ones sealed.
- Values sealed before key ids existed (``v1.<base64url>``) open as before, under a key derived from the
  credential pepper (``CREDENTIAL_PEPPER``): keep the pepper until every endpoint's secret has been rotated
  (``…/rotate-secret`` re-seals under the current key).
"""

from __future__ import annotations

import base64
import os
import re
import threading
from collections.abc import Callable
from functools import cache

_PURPOSE_V1 = b"tollgate webhook endpoint secret v1"
_PURPOSE_V2 = b"tollgate webhook endpoint secret v2 "
_NONCE_BYTES = 12
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")
KEY_SECRET_MIN = 32
KEYS_SETTING = "WEBHOOK_SEALING_KEYS"


class SealingKeysError(ValueError):
    """The key ring setting is malformed (a deployment error: raised when a secret is sealed or opened)."""


def parse_keys(text: str) -> list[tuple[str, str]]:
    """``id=secret,id=secret`` as [(id, secret)], the current key first."""
    ring: list[tuple[str, str]] = []
    for part in text.split(","):
        key_id, sep, key_secret = part.strip().partition("=")
        if not sep or not _KEY_ID.fullmatch(key_id):
            raise SealingKeysError(f"{KEYS_SETTING}: each entry is id=secret, the id 1-16 of A-Z a-z 0-9 _ -")
        if len(key_secret) < KEY_SECRET_MIN:
            raise SealingKeysError(f"{KEYS_SETTING}: the secret of key {key_id!r} is under {KEY_SECRET_MIN} characters")
        if any(key_id == seen for seen, _ in ring):
            raise SealingKeysError(f"{KEYS_SETTING}: key id {key_id!r} appears twice")
        ring.append((key_id, key_secret))
    return ring


def _ring_setting() -> str:
    from tollgate.core.settings import secret

    return secret(KEYS_SETTING)


def _ring_setting_fresh() -> str:
    from tollgate.core.settings import fresh_secret

    return fresh_secret(KEYS_SETTING)


def _pepper() -> str:
    from tollgate.core.settings import secret

    return secret("CREDENTIAL_PEPPER")


@cache
def _derive(material: str, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material.encode())


class SecretBox:
    """Seals endpoint secrets under the current sealing key and opens them under the key their value names.

    ``keys``: the ring's text (``id=secret,…``, current first); ``fresh_keys``: the same, read afresh (asked
    once when a value names an id the ring lacks); ``pepper``: opens values sealed before key ids (``v1``)."""

    def __init__(
        self,
        keys: Callable[[], str] = _ring_setting,
        *,
        fresh_keys: Callable[[], str] | None = _ring_setting_fresh,
        pepper: Callable[[], str] = _pepper,
    ) -> None:
        self._keys = keys
        self._fresh_keys = fresh_keys
        self._pepper = pepper
        self._lock = threading.Lock()
        self._ring: list[tuple[str, str]] | None = None

    def _current_ring(self, refresh: bool = False) -> list[tuple[str, str]]:
        with self._lock:
            if self._ring is None:
                self._ring = parse_keys(self._keys())
            elif refresh and self._fresh_keys is not None:
                self._ring = parse_keys(self._fresh_keys())
            return self._ring

    def current_key_id(self) -> str:
        return self._current_ring()[0][0]

    def seal(self, secret: str, tenant_id: str, endpoint_id: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key_id, material = self._current_ring()[0]
        nonce = os.urandom(_NONCE_BYTES)
        key = _derive(material, _PURPOSE_V2 + key_id.encode())
        sealed = AESGCM(key).encrypt(nonce, secret.encode(), _aad(tenant_id, endpoint_id, key_id))
        return f"v2.{key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, tenant_id: str, endpoint_id: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        version, _, rest = sealed.partition(".")
        if version == "v1":  # sealed before key ids: the key derived from the credential pepper
            key, aad, payload = _derive(self._pepper(), _PURPOSE_V1), _aad(tenant_id, endpoint_id), rest
        elif version == "v2":
            key_id, _, payload = rest.partition(".")
            key = _derive(self._material(key_id), _PURPOSE_V2 + key_id.encode())
            aad = _aad(tenant_id, endpoint_id, key_id)
        else:
            raise ValueError(f"unknown sealing version {version[:8]!r}")
        raw = base64.urlsafe_b64decode(payload)
        nonce, box = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        return AESGCM(key).decrypt(nonce, box, aad).decode()

    def sealed_with(self, sealed: str) -> str:
        """The id of the key a value was sealed with (``v1`` for the pepper-derived key of old values)."""
        version, _, rest = sealed.partition(".")
        return "v1" if version == "v1" else rest.partition(".")[0]

    def _material(self, key_id: str) -> str:
        for refresh in (False, True):  # a key id the cached ring lacks: read the ring again, once
            for known, material in self._current_ring(refresh):
                if known == key_id:
                    return material
        raise ValueError(f"no sealing key {key_id[:16]!r} in {KEYS_SETTING}: an old key was dropped too soon")


def _aad(tenant_id: str, endpoint_id: str, key_id: str | None = None) -> bytes:
    base = f"{tenant_id}|{endpoint_id}"
    return (base if key_id is None else f"{base}|{key_id}").encode()
