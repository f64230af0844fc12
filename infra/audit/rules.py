"""The audit: every invariant of a tenant's pool checked against its records, as stored.

``audit_tenant`` is pure: it takes what the store read (``TenantBooks``) and lists each mismatch in words.
``tollgate audit`` runs it for one tenant or all, and the integration tests run it after every concurrent
test: zero mismatches, or the test fails.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from tollgate.approvals.rules_actions import HOLDING, Action, ActionStatus, ReviewDecision
from tollgate.core.budgets import TENANT_SCOPE, Levels, month_key, project_scope
from tollgate.core.models import EntryKind, LedgerEntry, Lot, key_of
from tollgate.holds.service_allowances import Allowance, AllowanceStatus
from tollgate.holds.service_leases import Lease, LeaseStatus

_CREDITS = frozenset({EntryKind.PURCHASE, EntryKind.GRANT, EntryKind.REFILL, EntryKind.ROLLOVER})
_SPENDING = frozenset({EntryKind.CONSUMPTION, EntryKind.LEASE_CHARGE, EntryKind.ALLOWANCE_CHARGE})
_Report = Callable[[str], None]


@dataclass(frozen=True)
class StoredPool:
    balance: int
    reserved: int
    available: int  # as stored: the kernel keeps it equal to balance − reserved
    next_lot_expiry: int | None


@dataclass(frozen=True)
class StoredBudget:
    """A budget level as stored: a project's (``project_id``), or the tenant's, an environment's or a license
    key's (``scope``). Its counters run whether or not a limit is set."""

    project_id: str | None
    budget: int | None
    spent: int
    committed: int
    budget_left: int | None
    scope: str = ""
    monthly: bool = False  # spent counts the current month only: the ledger's whole history is not its sum

    @property
    def name(self) -> str:
        return self.scope or f"project:{self.project_id}"


@dataclass(frozen=True)
class StoredTopUp:
    """An auto top-up purchase (its ``po_number`` names the crossing that started it)."""

    crossing: str
    status: str
    created_at: int


@dataclass(frozen=True)
class StoredTopUpSettings:
    monthly_limit: int
    month: int  # the UTC month start ``purchases`` counts in
    purchases: int


@dataclass(frozen=True)
class TenantBooks:
    """Everything of one tenant that the invariants speak about, read at one time (quiescent)."""

    tenant_id: str
    pool: StoredPool
    ledger: list[LedgerEntry]
    lots: list[Lot]
    leases: list[Lease]
    budgets: list[StoredBudget] = field(default_factory=list)
    allowances: list[Allowance] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    key_environments: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # key: (project, env)
    topups: list[StoredTopUp] = field(default_factory=list)
    topup_settings: StoredTopUpSettings | None = None


def audit_tenant(books: TenantBooks) -> list[str]:
    """Every mismatch between the tenant's records and the invariants; empty when the books are right."""
    found: list[str] = []

    def mismatch(text: str) -> None:
        found.append(f"{books.tenant_id}: {text}")

    pool = books.pool
    ledger_sum = sum(entry.amount for entry in books.ledger)
    if ledger_sum != pool.balance:
        mismatch(f"the ledger sums to {ledger_sum} but the balance is {pool.balance} (invariant 2)")
    if pool.available != pool.balance - pool.reserved:
        mismatch(f"available is {pool.available}, not balance − reserved = {pool.balance - pool.reserved}")
    open_leases = [lease for lease in books.leases if lease.status is LeaseStatus.OPEN]
    open_allowances = [a for a in books.allowances if a.status is AllowanceStatus.OPEN]
    open_actions = [a for a in books.actions if a.status in HOLDING]
    held = (
        sum(lease.reserved for lease in open_leases)
        + sum(a.held for a in open_allowances)
        + sum(a.held for a in open_actions)
    )
    if pool.reserved != held:
        mismatch(f"reserved is {pool.reserved} but open holds sum to {held} (invariant 9)")
    _audit_holds(books, mismatch)
    _audit_lots(books, mismatch)
    _audit_allowances(books, mismatch)
    _audit_actions(books, mismatch)
    _audit_budgets(books, open_leases, open_allowances + open_actions, mismatch)
    _audit_refills(books, mismatch)
    _audit_topups(books, mismatch)
    ids = [entry.id for entry in books.ledger]
    if len(ids) != len(set(ids)):
        mismatch("a ledger entry id appears twice (invariant 3)")
    return found


def _audit_holds(books: TenantBooks, mismatch: _Report) -> None:
    entries = {entry.id: entry for entry in books.ledger}
    for lease in books.leases:
        if lease.status is LeaseStatus.OPEN:
            continue
        entry = entries.get(lease.charge_entry_id or "")
        if entry is None:
            mismatch(f"lease {lease.id} ended without its charge in the ledger")
        elif lease.charged is None or -entry.amount != lease.charged:
            mismatch(f"lease {lease.id} charged {lease.charged} but its ledger entry says {-entry.amount}")
        if lease.charged is not None and lease.charged > lease.reserved:
            mismatch(f"lease {lease.id} charged {lease.charged}, more than the {lease.reserved} it held")
    charges = [e for e in books.ledger if e.kind is EntryKind.LEASE_CHARGE]
    per_lease: dict[str | None, int] = defaultdict(int)
    for entry in charges:
        per_lease[entry.lease_id] += 1
    for lease_id, count in per_lease.items():
        if count > 1:
            mismatch(f"lease {lease_id} was charged {count} times (a hold ends once)")


def _audit_lots(books: TenantBooks, mismatch: _Report) -> None:
    for lot in books.lots:
        if not 0 <= lot.remaining <= lot.tokens:
            mismatch(f"lot {lot.id} has {lot.remaining} remaining of {lot.tokens}")
        if lot.purchase_id is None and not (lot.grant_reason or "").strip():
            mismatch(f"lot {lot.id} has neither a purchase nor a grant reason (invariant 4)")
    for entry in books.ledger:
        if entry.kind in _CREDITS and entry.purchase_id is None and not entry.reason.strip():
            mismatch(f"credit {entry.id} has neither a purchase nor a reason (invariant 4)")
    live_ends = [lot.expires_at for lot in books.lots if not lot.expired and lot.expires_at is not None]
    soonest = min(live_ends, default=None)
    recorded = books.pool.next_lot_expiry
    if soonest is not None and (recorded is None or recorded > soonest):
        mismatch(f"the pool's soonest lot end is {recorded}, later than lot end {soonest}: a lot could outlive it")


def _audit_allowances(books: TenantBooks, mismatch: _Report) -> None:
    charged: dict[str | None, int] = defaultdict(int)
    for entry in books.ledger:
        if entry.kind is EntryKind.ALLOWANCE_CHARGE:
            charged[entry.allowance_id] -= entry.amount
    for allowance in books.allowances:
        if charged[allowance.id] != allowance.charged:
            mismatch(
                f"allowance {allowance.id} charged {allowance.charged}; its ledger entries say {charged[allowance.id]}"
            )
        if allowance.status is not AllowanceStatus.OPEN and allowance.held != 0:
            mismatch(f"allowance {allowance.id} has {allowance.status.value} but still holds {allowance.held}")


def _audit_actions(books: TenantBooks, mismatch: _Report) -> None:
    """Each action's hold ends once: a holding action holds its tokens; an ended one holds nothing; only a
    redeemed one was charged, by exactly one ledger entry, at most what it held."""
    entries: dict[str | None, list[LedgerEntry]] = defaultdict(list)
    for entry in books.ledger:
        if entry.action_id is not None:
            entries[entry.action_id].append(entry)
    for action in books.actions:
        name = f"action {action.id} ({action.status.value})"
        charges = entries.get(action.id, [])
        if action.status in HOLDING and action.held != action.tokens:
            mismatch(f"{name} holds {action.held}, not its {action.tokens} tokens")
        if action.status not in HOLDING and action.held != 0:
            mismatch(f"{name} has ended but still holds {action.held} (invariant 9)")
        if action.status is ActionStatus.REDEEMED:
            if len(charges) != 1 or charges[0].id != action.entry_id:
                mismatch(f"{name} has {len(charges)} ledger entries, not its one redemption")
            elif -charges[0].amount != action.charged:
                mismatch(f"{name} charged {action.charged}; its ledger entry says {-charges[0].amount}")
            if action.charged > action.tokens:
                mismatch(f"{name} charged {action.charged}, more than the {action.tokens} it held (invariant 9)")
        elif charges or action.charged:
            mismatch(f"{name} was charged without being redeemed")
        _audit_approval(action, name, mismatch)


def _audit_approval(action: Action, name: str, mismatch: _Report) -> None:
    """Invariant 10: nothing is approved without its quorum of distinct approvers other than the requester,
    or a flagged break-glass."""
    approvers = {r.key_id for r in action.reviews if r.decision is ReviewDecision.APPROVE}
    if any(f"api_key:{key_id}" == action.requester for key_id in approvers | {r.key_id for r in action.reviews}):
        mismatch(f"{name} was reviewed by its own requester (invariant 10)")
    was_granted = action.grant_expires_at is not None
    if action.terms is not None and was_granted and not action.break_glass and len(approvers) < action.terms.quorum:
        mismatch(f"{name} was approved by {len(approvers)} of a quorum of {action.terms.quorum} (invariant 10)")


def _levels(project_id: str | None, environment: str | None, key_id: str | None) -> list[str]:
    """The scope strings a spend or hold of this project, environment and key is charged at (tenant first)."""
    levels = Levels(project_id, environment, key_id if key_id and key_id.startswith("lk_") else None)
    found = [TENANT_SCOPE]
    if project_id is not None:
        found.append(project_scope(project_id))
    found += [scope for scope in (levels.environment_scope, levels.key_scope) if scope is not None]
    return found


def _audit_budgets(
    books: TenantBooks, open_leases: list[Lease], open_allowances: list[Allowance | Action], mismatch: _Report
) -> None:
    """Invariant 13: every level's held is what the open holds charged to it keep, its spent what the ledger
    debited there (a level with a period: not checked against the whole ledger), used + held + left = limit
    and nothing past its limit unless the limit was lowered under what was already committed."""
    held: dict[str, int] = defaultdict(int)
    for lease in open_leases:
        for scope in _levels(lease.project_id, lease.environment, key_of(lease.actor)):
            held[scope] += lease.reserved
    for hold in open_allowances:
        actor = hold.actor if isinstance(hold, Allowance) else hold.requester
        for scope in _levels(hold.project_id, hold.environment, key_of(actor)):
            held[scope] += hold.held
    spent: dict[str, int] = defaultdict(int)
    actions = {action.id: action for action in books.actions}
    for entry in books.ledger:
        if entry.kind not in _SPENDING:
            continue
        redeemed = actions.get(entry.action_id or "")
        if redeemed is not None:  # a redemption is charged where the action's hold was: the asker's levels
            scopes = _levels(redeemed.project_id, redeemed.environment, key_of(redeemed.requester))
        else:
            _, environment = books.key_environments.get(entry.key_id or "", (None, None))
            scopes = _levels(entry.project_id, environment, entry.key_id)
        for scope in scopes:
            spent[scope] -= entry.amount
    for budget in books.budgets:
        name = budget.name
        if not budget.monthly and budget.spent != spent[name]:
            mismatch(f"{name} has spent {budget.spent} but its ledger debits sum to {spent[name]}")
        if budget.committed != budget.spent + held[name]:
            mismatch(f"{name} has committed {budget.committed}, not spent {budget.spent} + held {held[name]}")
        if budget.budget is not None and budget.budget_left != budget.budget - budget.committed:
            mismatch(f"{name} has {budget.budget_left} left, not limit − used − held (invariant 13)")


def _audit_refills(books: TenantBooks, mismatch: _Report) -> None:
    """Invariant 14: a refill arrives once per period and a rollover carries once; each with its own lot of
    that kind and size."""
    lots = {lot.id: lot for lot in books.lots}
    given: dict[tuple[EntryKind, str], int] = defaultdict(int)
    for entry in books.ledger:
        if entry.kind not in (EntryKind.REFILL, EntryKind.ROLLOVER):
            continue
        given[(entry.kind, month_key(entry.created_at))] += 1
        lot = lots.get(entry.lot_id or "")
        if lot is None or lot.kind != entry.kind.value or lot.tokens != entry.amount:
            mismatch(f"{entry.kind.value} {entry.id} has no {entry.kind.value} lot of {entry.amount} tokens")
    for (kind, period), count in sorted(given.items()):
        if count > 1:
            mismatch(f"{kind.value} for {period} arrived {count} times (invariant 14)")


def _audit_topups(books: TenantBooks, mismatch: _Report) -> None:
    """Invariant 14: an auto top-up is bought at most once per crossing and at most ``monthly_limit`` times a
    UTC month (failed ones do not count), and the month's count on the settings is what the purchases say."""
    crossings: dict[str, int] = defaultdict(int)
    months: dict[str, int] = defaultdict(int)
    for topup in books.topups:
        crossings[topup.crossing] += 1
        if topup.status != "failed":
            months[month_key(topup.created_at)] += 1
    for crossing, count in sorted(crossings.items()):
        if count > 1:
            mismatch(f"the crossing {crossing} bought {count} top-ups (invariant 14)")
    settings = books.topup_settings
    if settings is None:
        if books.topups:
            mismatch(f"{len(books.topups)} top-up purchases but no auto top-up settings")
        return
    for month, count in sorted(months.items()):
        if count > settings.monthly_limit:
            mismatch(f"{count} top-ups in {month}, more than monthly_limit {settings.monthly_limit} (invariant 14)")
    counted = months.get(month_key(settings.month), 0) if settings.month else 0
    if settings.month and settings.purchases != counted:
        mismatch(f"auto top-up counts {settings.purchases} purchases in {month_key(settings.month)}, not {counted}")
