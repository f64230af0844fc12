"""Fakes for the SDK's unit tests: a clock whose sleep moves time, a scripted transport that records what
was sent, and a receipt signer like the service's (Ed25519 compact JWS)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Callable, Union

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tollgate_sdk import Backoff, HttpResponse, Timeout, Tollgate, TransportError

LICENSE_KEY = "tgk_eu-west-1.tn_0000000000000001.lk_0000000000000001.secret"
KEY_ID = "lk_0000000000000001"
BASE = "https://tollgate.test"


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0, draws: Iterable[float] = ()) -> None:
        self.wall = now
        self.mono = 0.0
        self.sleeps: list[float] = []
        self._draws = list(draws)
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds

    def random(self) -> float:
        return self._draws.pop(0) if self._draws else 0.5


def answer(status: int, body: Any = None, **headers: str) -> HttpResponse:
    return HttpResponse(
        status,
        {k.lower().replace("_", "-"): v for k, v in headers.items()},
        b"" if body is None else json.dumps(body).encode(),
    )


def error(status: int, code: str, message: str = "refused", **headers: str) -> HttpResponse:
    return answer(status, {"error": {"code": code, "message": message, "request_id": "req-1"}}, **headers)


@dataclass
class Sent:
    method: str
    url: str
    headers: dict[str, str]
    body: Any
    timeout: Timeout
    at: float  # the fake monotonic time it was sent


Step = Union[HttpResponse, Exception]
Handler = Callable[["Sent"], Step]


class FakeTransport:
    """Answers each request with the next scripted step, or by a handler; records every request."""

    def __init__(self, clock: FakeClock, steps: Iterable[Step] = (), handler: Handler | None = None) -> None:
        self.clock = clock
        self.steps = list(steps)
        self.handler = handler
        self.sent: list[Sent] = []
        self._lock = threading.Lock()

    def request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: Timeout
    ) -> HttpResponse:
        with self._lock:
            request = Sent(method, url, dict(headers), json.loads(body) if body else None, timeout, self.clock.mono)
            self.sent.append(request)
            step = self.handler(request) if self.handler is not None else self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    def close(self) -> None:
        pass

    def paths(self) -> list[str]:
        return [s.url.removeprefix(BASE) if hasattr(s.url, "removeprefix") else s.url[len(BASE) :] for s in self.sent]


def refused() -> TransportError:
    return TransportError("ConnectionRefusedError: [Errno 111] Connection refused")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    """Signs receipts as the service does (domain/receipts.py), with a fresh Ed25519 key."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        x = b64url(self.key.public_key().public_bytes_raw())
        canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True)
        self.kid = b64url(hashlib.sha256(canonical.encode()).digest())
        self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "alg": "EdDSA", "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self.jwk)]}

    def sign(self, claims: Mapping[str, Any]) -> str:
        header = {"alg": "EdDSA", "kid": self.kid, "typ": "JWT"}
        encoded = [b64url(json.dumps(part, sort_keys=True).encode()) for part in (header, claims)]
        signing_input = ".".join(encoded)
        return f"{signing_input}.{b64url(self.key.sign(signing_input.encode()))}"

    def receipt(self, now: float, code: str = "VALID", ttl: int = 300, **request: Any) -> str:
        claims = {
            "key_id": KEY_ID,
            "tenant_id": "tn_0000000000000001",
            "code": code,
            "valid": code == "VALID",
            "feature": request.get("feature"),
            "region": request.get("region"),
            "served_from": "eu-west-1",
            "project": request.get("project"),
            "fingerprint": request.get("fingerprint"),
            "iat": int(now),
            "exp": int(now) + ttl,
            "kid": self.kid,
        }
        return self.sign(claims)


def client(transport: FakeTransport, clock: FakeClock, **options: Any) -> Tollgate:
    options.setdefault("backoff", Backoff(base_s=0.25, cap_s=8.0))
    return Tollgate(LICENSE_KEY, BASE, transport=transport, clock=clock, **options)
