"""The pool kernel owns the arithmetic: no module of ``shared/tollgate`` outside ``tollgate/kernel/`` writes a
pool's ``balance``/``reserved``/``available``, a tenant's ``status``, a project's ``budget``/``committed``/
``spent``/``budget_left``, a lot's ``remaining`` or a hold's amount. A static check of the source (``ast``),
shown first to catch planted violations of each shape it knows, then run over the real tree; and the kernel's
own guard, which refuses the items it owns through its generic ``put``/``update``/``delete``."""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "shared" / "tollgate"

# the attributes only the kernel writes, by the pynamodb model that holds them
OWNED: dict[str, frozenset[str]] = {
    "TenantItem": frozenset(
        {
            "balance",
            "reserved",
            "available",
            "status",
            "next_lot_expiry",
            "overdraft",
            "spendable",
            "budget",
            "budget_left",
            "committed",
            "spent",
            "period",
            "period_start",
        }
    ),
    "ProjectItem": frozenset({"budget", "budget_left", "committed", "spent", "period", "period_start"}),
    "BudgetItem": frozenset({"budget", "budget_left", "committed", "spent", "period", "period_start"}),
    "LotItem": frozenset({"remaining", "expired", "expired_tokens"}),
    "LeaseItem": frozenset({"reserved"}),
    "AllowanceItem": frozenset({"held"}),
    "ActionItem": frozenset({"held"}),
}
# names that mean money or a hold whatever object carries them (an item bound to a variable, an alias)
ANYWHERE = frozenset(
    {"balance", "reserved", "available", "committed", "budget_left", "remaining", "held", "spendable", "period_start"}
)
_UPDATES = frozenset({"set", "add", "remove", "delete", "append", "prepend"})
_RAW = re.compile(r"\b(SET|ADD|REMOVE)\b.*\b(" + "|".join(sorted(ANYWHERE)) + r")\b")


def _owned(model: str | None, attribute: str) -> bool:
    if model is not None and attribute in OWNED.get(model, frozenset()):
        return True
    return attribute in ANYWHERE


def _touches_items(tree: ast.AST) -> bool:
    """The module imports the stored items (a store module): only there can an attribute be an item's."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tollgate.kernel.items"):
            return True
    return False


def violations(source: str, where: str = "<snippet>") -> list[str]:  # noqa: C901, PLR0912 (a checker: one branch per kind of write)
    """Every place in ``source`` that writes an attribute the kernel owns. Assignments (``item.held = 3``,
    ``setattr``) count in the modules that import the stored items, or in a snippet."""
    found: list[str] = []
    tree = ast.parse(source)
    items = where == "<snippet>" or _touches_items(tree)
    for node in ast.walk(tree):
        at = f"{where}:{getattr(node, 'lineno', 0)}"
        # TenantItem.reserved.add(1), ProjectItem.budget_left.set(...), item.held.set(...)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _UPDATES:
            target = node.func.value
            if isinstance(target, ast.Attribute):
                model = target.value.id if isinstance(target.value, ast.Name) else None
                if _owned(model, target.attr):
                    found.append(f"{at}: {model or '?'}.{target.attr}.{node.func.attr}(...)")
        # LeaseItem(..., reserved=10), ProjectItem(..., budget_left=...)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in OWNED:
            for keyword in node.keywords:
                if keyword.arg is not None and keyword.arg in OWNED[node.func.id] | ANYWHERE:
                    found.append(f"{at}: {node.func.id}({keyword.arg}=...)")
        # item.reserved = 10, item.balance += 1
        targets = []
        if items and isinstance(node, ast.Assign):
            targets = node.targets
        elif items and isinstance(node, ast.AugAssign):
            targets = [node.target]
        for target in targets:
            for part in ast.walk(target):
                if isinstance(part, ast.Attribute) and part.attr in ANYWHERE | {"budget"}:
                    found.append(f"{at}: assigns .{part.attr}")
        # setattr(item, "held", 3)
        if items and isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            name = node.args[1] if len(node.args) > 1 else None
            if isinstance(name, ast.Constant) and name.value in ANYWHERE:
                found.append(f"{at}: setattr(..., {name.value!r})")
        # a raw UpdateExpression: "SET reserved = reserved + :n"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _RAW.search(node.value):
            found.append(f"{at}: raw update expression {node.value!r}")
    return found


PLANTED = {
    "pool update": "TenantItem(pk, sk).update(actions=[TenantItem.reserved.add(5)])",
    "available": "actions = [TenantItem.available.add(-5)]",
    "status": "update_existing(item, [TenantItem.status.set('suspended')], 'no tenant')",
    "budget_left": "ProjectItem.budget_left.set(budget - (ProjectItem.committed | 0))",
    "committed": "x = ProjectItem.committed.add(3)",
    "lot remaining": "tx.update('lot', row, [LotItem.remaining.add(-take)])",
    "hold amount": "tx.update('lease', item, [LeaseItem.reserved.add(extra)])",
    "allowance held": "AllowanceItem.held.set(0)",
    "via an alias": "Pool = TenantItem\nPool.balance.add(1)",
    "constructor": "LeaseItem(pk, sk, lease_id=i, reserved=10)",
    "project constructor": "ProjectItem(pk, sk, budget_left=5)",
    "tenant constructor": "TenantItem(pk, sk, balance=0, reserved=0, available=0)",
    "attribute": "item.held = 3",
    "status at creation": "TenantItem(pk, sk, name=n, status='active')",
    "augmented": "item.balance += 3",
    "setattr": "setattr(item, 'reserved', 3)",
    "raw expression": "request = {'UpdateExpression': 'SET reserved = reserved + :n'}",
    "budget level": "BudgetItem.budget_left.set(5)",
    "budget period": "tx.update('b', row, [BudgetItem.period_start.set(0)])",
    "overdraft floor": "TenantItem.spendable.add(3)",
    "tenant cap": "TenantItem.committed.add(3)",
}


@pytest.mark.parametrize("snippet", PLANTED.values(), ids=PLANTED.keys())
def test_the_check_catches_a_planted_violation(snippet: str) -> None:
    assert violations(textwrap.dedent(snippet)), snippet


def test_the_check_lets_ordinary_writes_through() -> None:
    fine = """
        tx.update("alert", item, [AlertItem.sent_at.set(now)])
        LeaseItem.status.set("settled")
        ActionItem.version.add(1)
        ProjectItem.name.set(name)
        tx.open_hold("lease", lease_item(lease), lease.reserved, now=now)
        reserved = pool.reserved
        item = ApiKeyItem(pk, sk, name=name)
    """
    assert violations(textwrap.dedent(fine)) == []


def test_no_module_outside_the_kernel_writes_what_the_kernel_owns() -> None:
    found: list[str] = []
    checked = 0
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] == "kernel":
            continue
        checked += 1
        found += violations(path.read_text(), str(relative))
    assert checked > 50  # the tree is where the test thinks it is
    assert found == []


def test_the_kernel_refuses_its_own_items_through_the_generic_hooks(table: str) -> None:
    from tollgate.kernel import keys
    from tollgate.kernel.items import (
        ActionItem,
        AllowanceItem,
        BudgetItem,
        LeaseItem,
        LotItem,
        ProjectItem,
        TenantItem,
    )
    from tollgate.kernel.pool import PoolTransaction

    tx = PoolTransaction("tn_x", "t")
    pk = keys.tenant_pk("tn_x")
    for model in (TenantItem, ProjectItem, BudgetItem, LotItem, LeaseItem, AllowanceItem, ActionItem):
        with pytest.raises(TypeError, match="typed operations"):
            tx.put("x", model(pk, "S"))
        with pytest.raises(TypeError, match="typed operations"):
            tx.update("x", model(pk, "S"), [model.sk.set("y")])
        with pytest.raises(TypeError, match="typed operations"):
            tx.delete("x", model(pk, "S"))
    with pytest.raises(ValueError, match="only by the pool kernel"):
        tx.set_budget("pj_x", 10, actions=[ProjectItem.committed.set(0)])
    assert tx.labels() == []
