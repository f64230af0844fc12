"""Sending one webhook: resolve the host now, vet every address, connect to the vetted one, POST, read the
status, keep nothing of the body.

- DNS rebinding: the host is resolved once, here; if ANY of its addresses is refused (``guard.refusal``) the
  delivery is refused without connecting. The connection then goes to the first vetted address itself
  (urllib3 pool on the IP), with the original host in ``Host`` and in TLS SNI and certificate checking
  (``server_hostname``/``assert_hostname``), so no second lookup can swap the address.
- No redirects (a 3xx is a failure), no retries here (the delivery schedule retries).
- **One bound for the whole attempt** (``Settings.webhook_attempt_s``, 5 s): the lookup, connect, TLS, the
  status line, the headers and the body (up to ``ANSWER_BYTES_READ``; the rest is not waited for). A
  receiver that drips its answer a byte at a time is cut off at the bound: urllib3's timeouts are per
  socket operation (each ``recv`` gets the whole read timeout again), so an ``AttemptDeadline`` shuts the
  attempt's socket down when the bound is reached, which ends whatever read or handshake is blocked on it.
  An attempt cut off so is a failure (``timeout: …``), whatever status it had read by then. The lookup has
  its own 2 s bound inside that (``bounded``), connect at most 2 s.
- The answer's headers are limited by ``http.client`` (at most 100, each line at most 64 KiB); more is a
  failed attempt. Nothing of the body is stored.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from tollgate.events.guard import IPAddress, parse_literal, refusal
from tollgate.events.rules import SendResult

CONNECT_TIMEOUT_S = 2.0
TOTAL_TIMEOUT_S = 5.0  # the default of Settings.webhook_attempt_s
ANSWER_BYTES_READ = 64 * 1024  # of a 2xx answer's body, read (and dropped) before hanging up
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


class AttemptDeadline:
    """The end of one attempt: at ``seconds`` after it is made, every socket ``watch``ed is shut down, so a
    read or a TLS handshake blocked on it returns at once (an error or an early end of the answer), and
    ``expired`` says why. ``close()`` when the attempt is over, to stop the timer."""

    def __init__(self, seconds: float) -> None:
        self._ends_at = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return max(0.0, self._ends_at - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            watched = list(self._sockets)
        for sock in watched:
            _shut(sock)

    def close(self) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


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
        deadline = AttemptDeadline(self._total_timeout_s)

        def done(status: int | None, error: str | None) -> SendResult:
            return SendResult(status, error, int((time.monotonic() - started) * 1000))

        try:
            vetted = self.vet(url)
            if isinstance(vetted, str):
                return done(None, f"refused: {vetted}")
            host, address = vetted
            answer = _Answer()
            try:
                self._post(url, host, address, body, headers, deadline, answer)
            except Exception as exc:  # every failure of the receiver's side is an attempt that failed, never ours
                if deadline.expired:
                    return done(answer.status, self._over_bound())
                return done(answer.status, _describe(exc))
            if deadline.expired:  # the answer ended because the bound cut it off
                return done(answer.status, self._over_bound())
            return done(answer.status, None)
        finally:
            deadline.close()

    def _over_bound(self) -> str:
        return f"timeout: no complete answer within {self._total_timeout_s:g} s"

    def _post(
        self,
        url: str,
        host: str,
        address: IPAddress,
        body: bytes,
        headers: Mapping[str, str],
        deadline: AttemptDeadline,
        answer: _Answer,
    ) -> None:
        import urllib3  # deferred: only the notifier sends

        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host_header = host if parts.port is None else f"{host}:{parts.port}"
        if ":" in host and parts.port is not None:
            host_header = f"[{host}]:{parts.port}"
        elif ":" in host:
            host_header = f"[{host}]"
        left = max(0.001, deadline.remaining())
        timeout = urllib3.Timeout(connect=min(self._connect_timeout_s, left), read=left)
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
                deadline=deadline,
            )
            pool.ConnectionCls = _connection_classes()[1]
        else:
            pool = urllib3.HTTPConnectionPool(
                str(address), port, timeout=timeout, retries=False, maxsize=1, deadline=deadline
            )
            pool.ConnectionCls = _connection_classes()[0]
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
            answer.status = int(response.status)
            try:
                if 200 <= answer.status < 300:  # it counts once its answer is in (a bounded prefix of the body)
                    response.read(ANSWER_BYTES_READ, decode_content=False)
            finally:
                response.release_conn()
        finally:
            pool.close()


class _Answer:
    """What an attempt has read so far: the status, once the status line and headers are in."""

    status: int | None = None


@cache
def _connection_classes() -> tuple[type, type]:
    """urllib3's HTTP and HTTPS connections that hand their socket to the attempt's ``AttemptDeadline`` as
    soon as it exists (before TLS), so the deadline can end any read on it."""
    from urllib3.connection import HTTPConnection, HTTPSConnection

    class _Watched(HTTPConnection):
        def __init__(self, *args: Any, deadline: AttemptDeadline, **kwargs: Any) -> None:
            self._deadline = deadline
            super().__init__(*args, **kwargs)

        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            self._deadline.watch(sock)
            return sock

    class _WatchedTLS(_Watched, HTTPSConnection):
        pass

    return _Watched, _WatchedTLS


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
