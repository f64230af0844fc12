"""Routers per capability, and the one way a route gets its caller.

Each capability's ``routes.py`` registers its routes on a ``CapabilityRouter``; the registration states
who may call the route, once: a ``Permission`` (the role matrix of ``tollgate.core.roles`` decides), or
``PUBLIC`` (no credential), or ``RESOURCE`` (any authenticated caller; the service decides from the thing
asked about, e.g. an action's requester and approvers). The router puts a ``Gate`` in front of the route:
it authenticates the credential the route takes and authorises the stated permission before the route
runs; ``principal()`` then hands the route its caller. The resolver (``tollgate.edge.app``) refuses to
register a route without a gate, so a route that states nothing is never reachable (fail closed).

The services a route calls are handed to the resolver by the function (the composition root's module,
``tollgate.services``); a route reads them as ``router.services``, typed by the protocol its capability
declares. No pydantic here: the SDK's hot path (usage) loads this module.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar, cast

from aws_lambda_powertools.event_handler.api_gateway import Router

from tollgate.core.models import Principal
from tollgate.core.roles import Permission, authorize
from tollgate.edge.auth import Credential, Credentials, authenticate
from tollgate.edge.contract.answers import API_KEY, LICENSE_KEY
from tollgate.edge.requests import prefers_minimal


class Open(Enum):
    """A route's access when no single permission states it."""

    PUBLIC = "no credential"
    RESOURCE = "any authenticated caller; the service decides from the resource"


PUBLIC = Open.PUBLIC
RESOURCE = Open.RESOURCE
Access = Permission | Open

SECURITY: dict[Credential, list[dict[str, list[str]]]] = {
    Credential.API_KEY: [{API_KEY: []}],
    Credential.SDK: [{LICENSE_KEY: []}, {API_KEY: []}],
    Credential.SDK_REMEMBERED: [{LICENSE_KEY: []}, {API_KEY: []}],
    Credential.EITHER: [{LICENSE_KEY: []}, {API_KEY: []}],
    Credential.WIND_DOWN: [{LICENSE_KEY: []}, {API_KEY: []}],
}


class HasCredentials(Protocol):
    def credentials(self) -> Credentials: ...


@dataclass(slots=True)
class _Call:
    caller: Principal
    credential: Credential
    event: Any
    credentials: Credentials


_CALL: ContextVar[_Call | None] = ContextVar("tollgate_call", default=None)
_SERVICES: ContextVar[Any] = ContextVar("tollgate_services", default=None)


def principal(fresh: bool = False, spending: bool = False) -> Principal:
    """The caller of the route now running, authenticated and authorised by its gate. ``fresh``: read the
    credential again, for a write that does not prove a license key taken from memory itself. ``spending``:
    on a winding-down route (``Credential.WIND_DOWN``), this request also grows a hold (an allowance renewed
    at its settlement), so the caller must be one that may spend now: authenticated as any SDK route's is."""
    call = _CALL.get()
    if call is None:
        raise RuntimeError("principal() outside a gated route (a PUBLIC route has no caller)")
    if spending and call.credential is Credential.WIND_DOWN:
        return authenticate(Credential.SDK, call.event, call.credentials)
    if fresh and call.caller.key_from_memory:
        return authenticate(call.credential, call.event, call.credentials)
    return call.caller


def serve(services: Any, resolve: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``resolve()`` with ``services`` as what the routes of this request call (the resolver's request)."""
    token = _SERVICES.set(services)
    try:
        return resolve()
    finally:
        _SERVICES.reset(token)


@dataclass(eq=False)  # not frozen: Powertools caches its inspection of a middleware on the middleware
class Gate:
    """A route's stated access, and the middleware that enforces it before the route runs."""

    access: Access
    credential: Credential
    __name__ = "gate"

    def __call__(self, app: Any, next_middleware: Callable[[Any], Any]) -> Any:
        if self.access is Open.PUBLIC:
            return next_middleware(app)
        event = app.current_event.raw_event
        services: HasCredentials = app.services
        credentials = services.credentials()
        remembered = self.credential is Credential.SDK_REMEMBERED and prefers_minimal(event)
        caller = authenticate(self.credential, event, credentials, from_memory=remembered)
        if self.credential is Credential.API_KEY:  # the portal's log lines name the caller (not the SDK's hot path)
            app.logger.append_keys(tenant_id=caller.tenant_id, key_id=caller.key_id)
        if isinstance(self.access, Permission):
            authorize(caller, self.access)
        token = _CALL.set(_Call(caller, self.credential, event, credentials))
        try:
            return next_middleware(app)
        finally:
            _CALL.reset(token)


S = TypeVar("S")
Handler = TypeVar("Handler", bound=Callable[..., Any])


class CapabilityRouter(Generic[S]):
    """A Powertools ``Router`` whose every route states its access. ``credential``: what its routes take
    unless one says otherwise; the OpenAPI security follows from it (``security=`` narrows one route)."""

    def __init__(self, credential: Credential = Credential.API_KEY) -> None:
        self.router = Router()
        self.credential = credential
        self.gates: dict[tuple[str, str], Gate] = {}

    @property
    def services(self) -> S:
        """The services of the function serving this request, as this capability's protocol sees them."""
        services = _SERVICES.get()
        if services is None:
            raise RuntimeError("no services: the resolver was not built with build_resolver(services=…)")
        return cast(S, services)

    @property
    def current_event(self) -> Any:
        return self.router.current_event

    def route(
        self, rule: str, method: str, *, permission: Access, credential: Credential | None = None, **options: Any
    ) -> Callable[[Handler], Handler]:
        gate = Gate(permission, credential or self.credential)
        if "security" not in options:
            options["security"] = [] if permission is Open.PUBLIC else SECURITY[gate.credential]
        self.gates[(method, rule)] = gate
        return cast(Callable[[Handler], Handler], self.router.route(rule, method, middlewares=[gate], **options))

    def get(self, rule: str, *, permission: Access, **options: Any) -> Callable[[Handler], Handler]:
        return self.route(rule, "GET", permission=permission, **options)

    def post(self, rule: str, *, permission: Access, **options: Any) -> Callable[[Handler], Handler]:
        return self.route(rule, "POST", permission=permission, **options)

    def put(self, rule: str, *, permission: Access, **options: Any) -> Callable[[Handler], Handler]:
        return self.route(rule, "PUT", permission=permission, **options)

    def patch(self, rule: str, *, permission: Access, **options: Any) -> Callable[[Handler], Handler]:
        return self.route(rule, "PATCH", permission=permission, **options)

    def delete(self, rule: str, *, permission: Access, **options: Any) -> Callable[[Handler], Handler]:
        return self.route(rule, "DELETE", permission=permission, **options)


def gate_of(middlewares: list[Callable[..., Any]] | None) -> Gate | None:
    """The gate among a route's middlewares, if it has one."""
    return next((m for m in middlewares or [] if isinstance(m, Gate)), None)
