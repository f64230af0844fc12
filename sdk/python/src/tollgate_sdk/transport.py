"""Sending one HTTP request. ``Transport`` is the seam: the client retries around it, tests replace it.

``Urllib3Transport`` keeps a thread-safe pool of connections (reused between calls) and applies a connect,
a read and a total timeout to every request. urllib3's own retries and redirects are off: the client has
the one retry layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Timeout:
    connect_s: float
    read_s: float
    total_s: float | None = None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: bytes


class TransportError(Exception):
    """No answer: the connection failed, was cut, or timed out. The request may have reached the server."""


class Transport(Protocol):
    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: Timeout
    ) -> HttpResponse: ...

    def close(self) -> None: ...


class Urllib3Transport:
    """urllib3's PoolManager: connection reuse per host, safe to share between threads."""

    def __init__(self, max_connections: int = 10) -> None:
        import urllib3

        self._urllib3 = urllib3
        self._pool = urllib3.PoolManager(num_pools=4, maxsize=max_connections, block=False, retries=False)

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: Timeout
    ) -> HttpResponse:
        urllib3 = self._urllib3
        try:
            answer = self._pool.request(
                method,
                url,
                body=body,
                headers=dict(headers),
                timeout=urllib3.Timeout(connect=timeout.connect_s, read=timeout.read_s, total=timeout.total_s),
                retries=False,
                redirect=False,
                preload_content=True,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return HttpResponse(
            status=answer.status,
            headers={name.lower(): value for name, value in answer.headers.items()},
            body=answer.data,
        )

    def close(self) -> None:
        self._pool.clear()
