"""The last verified receipt per validation request, kept for when the service is unreachable.

In memory always; in a JSON file too when a path is given, so a program that restarts offline still has
its receipts. The file holds receipts (signed, re-verified when read), the JWKS they were verified with,
and the latest time a signed receipt proved (``proven_time``), so a clock set back below a time already
seen is refused even after a restart. Requests are keyed by a SHA-256 of the license key and the request's
fields: the license key itself is never written. Writes are atomic (a temporary file, then a rename) and
the file is private to the user (mode 0600).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Mapping
from typing import Any

FORMAT_VERSION = 1


def request_id(license_key: str, fields: Mapping[str, str | None]) -> str:
    canonical = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{license_key}\n{canonical}".encode()).hexdigest()


class ReceiptStore:
    def __init__(self, path: str | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._receipts: dict[str, str] = {}
        self._jwks: Mapping[str, Any] | None = None
        self._proven_time = 0
        if path is not None:
            self._read(path)

    @property
    def jwks(self) -> Mapping[str, Any] | None:
        return self._jwks

    @property
    def proven_time(self) -> int:
        """The latest issue time of any receipt verified here (0 if none)."""
        return self._proven_time

    def last(self, request: str) -> str | None:
        with self._lock:
            return self._receipts.get(request)

    def remember(self, request: str, token: str, issued_at: int, jwks: Mapping[str, Any] | None) -> None:
        with self._lock:
            self._receipts[request] = token
            self._proven_time = max(self._proven_time, issued_at)
            if jwks is not None:
                self._jwks = jwks
            if self._path is not None:
                self._write(self._path)

    def _read(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8") as file:
                stored = json.load(file)
        except FileNotFoundError:
            return
        except (OSError, ValueError):
            return  # unreadable: start empty, the next verified receipt rewrites it
        if not isinstance(stored, dict) or stored.get("version") != FORMAT_VERSION:
            return
        receipts = stored.get("receipts")
        if isinstance(receipts, dict):
            self._receipts = {str(k): str(v) for k, v in receipts.items() if isinstance(v, str)}
        if isinstance(stored.get("jwks"), dict):
            self._jwks = stored["jwks"]
        if isinstance(stored.get("proven_time"), int):
            self._proven_time = stored["proven_time"]

    def _write(self, path: str) -> None:
        document = {
            "version": FORMAT_VERSION,
            "receipts": self._receipts,
            "jwks": self._jwks,
            "proven_time": self._proven_time,
        }
        directory = os.path.dirname(os.path.abspath(path))
        handle, temporary = tempfile.mkstemp(prefix=".tollgate-receipts-", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(document, file, separators=(",", ":"))
            os.chmod(temporary, 0o600)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
