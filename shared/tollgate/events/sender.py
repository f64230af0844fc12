"""Sending one webhook: resolve the host now, vet every address, connect to the vetted one, POST, read the
status, keep nothing of the body.

- DNS rebinding: the host is resolved once, here; if ANY of its addresses is refused (``guard.refusal``) the
  delivery is refused without connecting. The connection then goes to the first vetted address itself
  (urllib3 pool on the IP), with the original host in ``Host`` and in TLS SNI and certificate checking
  (``server_hostname``/``assert_hostname``), so no second lookup can swap the address.
- No redirects (a 3xx is a failure), no retries here (the delivery schedule retries), short timeouts
  (the lookup 2 s, connect 2 s, the whole request 5 s), at most a few bytes of the answer read, never stored.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from functools import cache
from urllib.parse import urlsplit

from tollgate.events.guard import IPAddress, parse_literal, refusal
from tollgate.events.rules import SendResult

CONNECT_TIMEOUT_S = 2.0
TOTAL_TIMEOUT_S = 5.0
USER_AGENT = "Tollgate-Webhooks/1"

Resolver = Callable[[str, int], list[IPAddress]]


RESOLVE_TIMEOUT_S = 2.0  # the system resolver has no timeout of its own (getaddrinfo blocks)
RESOLVER_THREADS = 4  # lookups in flight at once; one stuck on a dead name server holds one thread


def getaddrinfo_resolver(host: str, port: int) -> list[IPAddress]:
    import ipaddress

    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def bounded(resolver: Resolver, timeout_s: float) -> Resolver:
    """``resolver`` with a deadline: an ``OSError`` after ``timeout_s`` (the lookup itself cannot be
    cancelled; it finishes on its own thread, and a later lookup of the same name starts afresh)."""
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import TimeoutError as Timeout

    lookups = ThreadPoolExecutor(max_workers=RESOLVER_THREADS, thread_name_prefix="resolve")

    def resolve(host: str, port: int) -> list[IPAddress]:
        pending = lookups.submit(resolver, host, port)
        try:
            return pending.result(timeout=timeout_s)
        except Timeout as exc:
            pending.cancel()  # still queued behind stuck lookups: never run it
            raise OSError(f"no answer for {host} within {timeout_s:g} s") from exc

    return resolve


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The system's resolver, given ``RESOLVE_TIMEOUT_S`` to answer."""
    return _system()(host, port)


@cache
def _system() -> Resolver:
    return bounded(getaddrinfo_resolver, RESOLVE_TIMEOUT_S)


class WebhookSender:
    """POSTs signed webhooks. ``allow_loopback``: the local stack's allowance of 127.0.0.0/8 (and ``http``)."""

    def __init__(
        self,
        *,
        allow_loopback: bool = False,
        resolver: Resolver = system_resolver,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        total_timeout_s: float = TOTAL_TIMEOUT_S,
    ) -> None:
        self._allow_loopback = allow_loopback
        self._resolve = resolver
        self._connect_timeout_s = connect_timeout_s
        self._total_timeout_s = total_timeout_s

    def vet(self, url: str) -> tuple[str, IPAddress] | str:
        """(host, the address to connect to), or why the URL may not be delivered to now."""
        parts = urlsplit(url)
        host = parts.hostname
        if not host:
            return "the URL has no host"
        if parts.scheme == "http" and not self._allow_loopback:
            return "only https URLs are delivered to"
        if parts.scheme not in ("http", "https"):
            return "only https URLs are delivered to"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        literal = parse_literal(host)
        try:
            addresses = [literal] if literal is not None else self._resolve(host, port)
        except (OSError, UnicodeError, ValueError):
            return "the host does not resolve"
        if not addresses:
            return "the host does not resolve"
        for address in addresses:
            why = refusal(address, allow_loopback=self._allow_loopback)
            if why is not None:
                return f"the host resolves to {why}"
        if parts.scheme == "http" and not all(a.version == 4 and a.is_loopback for a in addresses):
            return "only https URLs are delivered to"  # plain http: the local stack's loopback only
        return host, addresses[0]

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        started = time.monotonic()

        def done(status: int | None, error: str | None) -> SendResult:
            return SendResult(status, error, int((time.monotonic() - started) * 1000))

        vetted = self.vet(url)
        if isinstance(vetted, str):
            return done(None, f"refused: {vetted}")
        host, address = vetted
        try:
            status = self._post(url, host, address, body, headers)
        except Exception as exc:  # every failure of the receiver's side is an attempt that failed, never ours
            return done(None, _describe(exc))
        return done(status, None)

    def _post(self, url: str, host: str, address: IPAddress, body: bytes, headers: Mapping[str, str]) -> int:
        import urllib3  # deferred: only the notifier sends

        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host_header = host if parts.port is None else f"{host}:{parts.port}"
        if ":" in host and parts.port is not None:
            host_header = f"[{host}]:{parts.port}"
        elif ":" in host:
            host_header = f"[{host}]"
        timeout = urllib3.Timeout(total=self._total_timeout_s, connect=self._connect_timeout_s)
        pool: urllib3.HTTPConnectionPool
        if parts.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                str(address),
                port,
                timeout=timeout,
                retries=False,
                maxsize=1,
                cert_reqs="CERT_REQUIRED",
                server_hostname=host,
                assert_hostname=host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(str(address), port, timeout=timeout, retries=False, maxsize=1)
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        sent = {
            **headers,
            "Host": host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Connection": "close",
        }
        try:
            response = pool.urlopen(
                "POST", path, body=body, headers=sent, redirect=False, retries=False, preload_content=False
            )
            try:
                response.read(1024, decode_content=False)  # a little of the body, never kept
            except Exception:  # noqa: S110 (the status is what counts; a broken body does not undo it)
                pass
            finally:
                response.release_conn()
            return int(response.status)
        finally:
            pool.close()


def _describe(exc: Exception) -> str:
    name = type(exc).__name__
    text = str(exc)
    if "timed out" in text.lower() or "Timeout" in name:
        return "timeout"
    if "SSL" in name or "certificate" in text.lower():
        return "tls error"
    if "refused" in text.lower():
        return "connection refused"
    return f"connection error ({name})"
