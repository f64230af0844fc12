"""Each permission is stated once, next to its route (``permission=`` on a ``CapabilityRouter``): no module of
a capability checks a route's permission again with ``authorize(…)`` / ``require(…)``. What stays in the
services are the rules a route cannot state, because they depend on the thing asked about (``may_grant``:
which roles a key may create or revoke; who may review an action; only the opener ends a hold)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

TOLLGATE = ROOT / "shared" / "tollgate"
CHECKS = {"authorize", "require"}
# Where checking a permission is the job: the role matrix itself, and the gate that enforces a route's.
# Checking permissions is these modules' job: the role matrix, the routes' gate, and the spending pipeline's
# step 1 (SPEC.md, "Spending: one pipeline": every kind of spend checks that its credential may spend, once,
# there; asking for an action that names a feature comes through a route any signed-in caller may call).
ENFORCERS = {"core/roles.py", "edge/routing.py", "pool/service_spending.py"}
# A module still stating a route's permission a second time, with the reason (none today). The test fails on
# an entry whose module no longer checks one.
PENDING: dict[str, str] = {}


def permission_checks(source: str) -> list[str]:
    """``name(…)`` calls of ``authorize`` / ``require`` (bare or ``roles.``) or any call given a ``Permission.X``
    argument, as ``line: source``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        states = any(
            isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name) and arg.value.id == "Permission"
            for arg in [*node.args, *(keyword.value for keyword in node.keywords)]
        )
        if name in CHECKS or (states and name not in ("route", "get", "post", "put", "patch", "delete")):
            found.append((node.lineno, f"{node.lineno}: {ast.unparse(node)}"))
    return [text for _, text in sorted(found)]


def modules() -> dict[str, str]:
    return {path.relative_to(TOLLGATE).as_posix(): path.read_text() for path in sorted(TOLLGATE.rglob("*.py"))}


def test_no_capability_module_checks_a_routes_permission_again() -> None:
    offenders = {
        name: checks
        for name, source in modules().items()
        if name not in ENFORCERS and name not in PENDING and (checks := permission_checks(source))
    }
    assert offenders == {}, "state the permission at the route (permission=…), not in the service"


def test_each_pending_module_still_needs_its_exception() -> None:
    every = modules()
    stale = [name for name in PENDING if not permission_checks(every.get(name, ""))]
    assert stale == [], "these modules no longer check a permission (or are gone): remove them from PENDING"


def test_the_scan_sees_each_way_of_stating_a_permission() -> None:
    source = """
from tollgate.core import roles
from tollgate.core.roles import Permission, authorize, may_grant, require

def service(caller, creator, role):
    authorize(caller, Permission.BUY)
    require(creator, Permission.MANAGE_API_KEYS)
    roles.authorize(caller, Permission.READ_USAGE)
    check(caller, permission=Permission.READ_EVENTS)
    may_grant(creator, role)
    return caller.tenant_id
"""
    assert [line.split(":")[0] for line in permission_checks(source)] == ["6", "7", "8", "9"]


def test_the_routes_are_where_the_permissions_are_stated() -> None:
    routes = [name for name in modules() if Path(name).name.startswith("routes")]
    stated = [name for name in routes if "permission=Permission." in (TOLLGATE / name).read_text()]
    assert len(stated) >= 7, stated  # tenancy, purchases, keys, pool, reports, events, approvals
