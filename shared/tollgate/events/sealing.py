"""Endpoint secrets at rest. They must sign every delivery, so they cannot be stored as hashes: they are
sealed with AES-256-GCM under a key derived (HKDF-SHA256, its own purpose label) from the credential pepper
(SSM SecureString in AWS). The sealed form names the key version, so a new key can be introduced without
re-sealing at once. The table alone (a backup, an export) never yields a secret."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from functools import cache

_PURPOSE = b"tollgate webhook endpoint secret v1"
_VERSION = "v1"
_NONCE_BYTES = 12


def _pepper() -> str:
    from tollgate.core.settings import secret

    return secret("CREDENTIAL_PEPPER")


@cache
def _key(pepper: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(pepper.encode())


class SecretBox:
    """Seals and opens endpoint secrets; the associated data binds a sealed secret to its tenant and endpoint,
    so one cannot be copied onto another endpoint's item."""

    def __init__(self, pepper: Callable[[], str] = _pepper) -> None:
        self._pepper = pepper

    def seal(self, secret: str, tenant_id: str, endpoint_id: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(_key(self._pepper())).encrypt(nonce, secret.encode(), _aad(tenant_id, endpoint_id))
        return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, sealed: str, tenant_id: str, endpoint_id: str) -> str:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        version, _, payload = sealed.partition(".")
        if version != _VERSION:
            raise ValueError(f"unknown sealing version {version!r}")
        raw = base64.urlsafe_b64decode(payload)
        nonce, box = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        return AESGCM(_key(self._pepper())).decrypt(nonce, box, _aad(tenant_id, endpoint_id)).decode()


def _aad(tenant_id: str, endpoint_id: str) -> bytes:
    return f"{tenant_id}|{endpoint_id}".encode()
