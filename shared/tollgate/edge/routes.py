"""The API's route table, as ``template.yaml`` declares it (a unit test keeps the two equal), and what a
request that matches no route gets: 405 with ``Allow`` when the path exists with other methods, else 404.

The HTTP API sends every unmatched request to its ``$default`` route (the fallback function), and the
Powertools resolvers' own not-found answers come here too, so both answer the same way. Imports nothing
heavy: the fallback function's cold start is this module and the error map.
"""

from __future__ import annotations

from tollgate.core.errors import MethodNotAllowed, NotFound, TollgateError

ROUTES: tuple[tuple[str, str], ...] = (
    ("POST", "/v1/tenants"),
    ("GET", "/v1/tenant"),
    ("POST", "/v1/api-keys"),
    ("GET", "/v1/api-keys"),
    ("DELETE", "/v1/api-keys/{id}"),
    ("GET", "/v1/catalog"),
    ("GET", "/v1/openapi.json"),
    ("POST", "/v1/purchases"),
    ("GET", "/v1/purchases"),
    ("GET", "/v1/purchases/{id}"),
    ("GET", "/v1/balance"),
    ("GET", "/v1/ledger"),
    ("POST", "/v1/payment-methods/setup"),
    ("GET", "/v1/payment-methods"),
    ("GET", "/v1/auto-top-up"),
    ("PUT", "/v1/auto-top-up"),
    ("GET", "/v1/budgets"),
    ("PUT", "/v1/budgets/{scope}"),
    ("DELETE", "/v1/budgets/{scope}"),
    ("GET", "/v1/events"),
    ("POST", "/v1/projects"),
    ("GET", "/v1/projects"),
    ("PATCH", "/v1/projects/{id}"),
    ("POST", "/v1/keys"),
    ("GET", "/v1/keys"),
    ("DELETE", "/v1/keys/{id}"),
    ("POST", "/v1/keys/{id}/rotate"),
    ("POST", "/v1/validate"),
    ("GET", "/v1/.well-known/jwks.json"),
    ("POST", "/v1/consume"),
    ("POST", "/v1/leases"),
    ("POST", "/v1/leases/{id}/heartbeat"),
    ("DELETE", "/v1/leases/{id}"),
    ("POST", "/v1/allowances"),
    ("POST", "/v1/allowances/{id}/settle"),
    ("POST", "/v1/stripe/webhook"),
    ("GET", "/v1/usage"),
    ("GET", "/v1/usage.csv"),
    ("GET", "/v1/usage/forecast"),
    ("GET", "/v1/purchases/{id}/usage"),
    ("POST", "/v1/alerts"),
    ("GET", "/v1/alerts"),
    ("DELETE", "/v1/alerts/{id}"),
    ("GET", "/v1/policy"),
    ("PUT", "/v1/policy"),
    ("POST", "/v1/policy/simulate"),
    ("GET", "/v1/decisions"),
    ("GET", "/v1/decisions/export"),
    ("POST", "/v1/actions"),
    ("GET", "/v1/actions"),
    ("GET", "/v1/actions/{id}"),
    ("DELETE", "/v1/actions/{id}"),
    ("POST", "/v1/actions/{id}/reviews"),
    ("POST", "/v1/webhook-endpoints"),
    ("GET", "/v1/webhook-endpoints"),
    ("GET", "/v1/webhook-endpoints/{id}"),
    ("DELETE", "/v1/webhook-endpoints/{id}"),
    ("POST", "/v1/webhook-endpoints/{id}/test"),
    ("POST", "/v1/webhook-endpoints/{id}/rotate-secret"),
    ("GET", "/v1/webhook-endpoints/{id}/deliveries"),
    ("POST", "/v1/webhook-endpoints/{id}/enable"),
)


def _matches(template: str, path: str) -> bool:
    want, got = template.strip("/").split("/"), path.strip("/").split("/")
    if len(want) != len(got):
        return False
    return all(w == g or (w.startswith("{") and w.endswith("}") and g != "") for w, g in zip(want, got, strict=True))


def allowed_methods(path: str) -> list[str]:
    """The methods of the routes whose path matches ``path``, in a stable order."""
    return sorted({method for method, template in ROUTES if _matches(template, path)})


def no_route(method: str, path: str) -> TollgateError:
    """The error for a request no function serves: 405 naming the allowed methods, or 404."""
    allowed = allowed_methods(path)
    if allowed and method.upper() not in allowed:
        return MethodNotAllowed(allowed)
    return NotFound("no such route")
