"""Who may call each route, in words, derived from what the route states where it is registered (its gate:
a ``Permission``, ``PUBLIC`` or ``RESOURCE``, and the credential it takes) and the one permission matrix
(``tollgate.core.roles.PERMISSIONS``). The document appends it to every operation's description, so the
roles a person reads are the roles the gate enforces. Build time only."""

from __future__ import annotations

from tollgate.core.roles import LICENSE_KEY_PERMISSIONS, PERMISSIONS, Permission, Role
from tollgate.edge.auth import Credential
from tollgate.edge.routing import Access, Gate, Open

# The validate function serves its two routes without a router (its cold start cannot afford one), so they
# have no gate to read: their access is stated here, as ``tollgate.keys.routes_validation`` enforces it.
UNGATED: dict[str, str] = {
    "POST /v1/validate": "**Who may call:** a license key (`tgk_…`), the one being validated; no API key.",
    "GET /v1/.well-known/jwks.json": "**Who may call:** anyone: public, no credential.",
}

_LICENSE_KEY_TOO = {Credential.SDK, Credential.SDK_REMEMBERED, Credential.EITHER, Credential.WIND_DOWN}


def roles_allowed(permission: Permission) -> list[Role]:
    """The roles whose API keys hold ``permission``, in the matrix's order."""
    return [role for role in Role if permission in PERMISSIONS[role]]


def who_may_call(access: Access, credential: Credential) -> str:
    """One sentence for the description: the roles allowed, and whether a license key may call too."""
    if access is Open.PUBLIC:
        return "**Who may call:** anyone: public, no credential."
    license_key = credential in _LICENSE_KEY_TOO
    if access is Open.RESOURCE:
        keys = "any API key or license key" if license_key else "any API key"
        return (
            f"**Who may call:** {keys} of the tenant; what it may see or do is decided by the resource "
            "(an action's requester and the approvers its rule names)."
        )
    assert isinstance(access, Permission)
    roles = ", ".join(role.value for role in roles_allowed(access))
    text = f"**Roles allowed:** {roles} (API keys)"
    if license_key and access in LICENSE_KEY_PERMISSIONS:
        text += "; and license keys (`tgk_…`), within their scope"
    if credential is Credential.WIND_DOWN:
        text += ". Winding down is never refused: a revoked key or a suspended tenant may still call it"
    return text + "."


def gate_text(gate: Gate) -> str:
    return who_may_call(gate.access, gate.credential)
