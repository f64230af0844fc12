"""A small TCP proxy on 127.0.0.1 in front of the local gateway, for the SDK's failure tests: ``close()`` makes
the API unreachable (connections refused), ``cut_responses(n)`` forwards the next ``n`` requests and drops
their answers (the connection is reset as the first byte of the answer arrives, so the server has done its
work). It records the head of every request it forwarded."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType


class TcpProxy:
    def __init__(self, upstream_port: int) -> None:
        self._upstream_port = upstream_port
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._to_cut = 0
        self._sockets: list[socket.socket] = []
        self.requests: list[str] = []  # the head (request line and headers) of each request forwarded
        self.cut = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_responses(self, count: int) -> None:
        with self._lock:
            self._to_cut = count

    def requests_to(self, path: str) -> list[str]:
        with self._lock:
            return [head for head in self.requests if head.split("\r\n", 1)[0].split(" ")[1:2] == [path]]

    def close(self) -> None:
        """Stop listening and reset every open connection: from now on the API is unreachable."""
        with self._lock:
            self._closed = True
            live = list(self._sockets)
        self._listener.close()
        for sock in live:
            _reset(sock)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self._upstream_port), timeout=10)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._closed:
                    _reset(client)
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._answers, args=(upstream, client), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        pending, body_left = b"", 0
        while data := _recv(client):
            pending += data
            while True:  # note each request head; skip its body (Content-Length)
                if body_left:
                    skipped = min(body_left, len(pending))
                    pending, body_left = pending[skipped:], body_left - skipped
                if body_left or b"\r\n\r\n" not in pending:
                    break
                head_bytes, pending = pending.split(b"\r\n\r\n", 1)
                head = head_bytes.decode("latin-1")
                body_left = _content_length(head)
                with self._lock:
                    self.requests.append(head)
            try:
                upstream.sendall(data)
            except OSError:
                break
        _reset(upstream)

    def _answers(self, upstream: socket.socket, client: socket.socket) -> None:
        while data := _recv(upstream):
            with self._lock:
                cut = self._to_cut > 0
                if cut:
                    self._to_cut -= 1
                    self.cut += 1
            if cut:
                _reset(client)
                _reset(upstream)
                return
            try:
                client.sendall(data)
            except OSError:
                break
        _reset(client)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a dropped connection looks to the client."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _content_length(head: str) -> int:
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return int(value.strip())
    return 0


def header_of(head: str, name: str) -> str | None:
    for line in head.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None
