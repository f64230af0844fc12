"""The decision log's records and their hash chain (SPEC.md, "Decision log"). Pure: no I/O.

A record is ``{seq, at, actor, event, action_id, rule_id, policy_version, prev_hash, hash}``. ``hash`` is
the lowercase hex SHA-256 of the record's canonical JSON: every field but ``hash`` (``prev_hash``
included), keys sorted, separators ``,`` and ``:``, UTF-8, non-ASCII kept as is. ``seq`` starts at 1 and
has no gaps per tenant; the first record's ``prev_hash`` is 64 zeros.

Events written so far (``event``): ``spend.denied`` and ``spend.approval_required`` (a consume, lease or
allowance refused by the policy). Actions use ``action.<what>`` (approved, pending, denied, break_glass,
escalated, expired, cancelled, redeemed) and ``review.<decision>``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

from tollgate.core.models import Principal

GENESIS_HASH = "0" * 64

SPEND_DENIED = "spend.denied"
SPEND_APPROVAL_REQUIRED = "spend.approval_required"


@dataclass(frozen=True)
class DecisionDraft:
    """A record before it has a place in the chain: what happened, who did it, under which rule."""

    at: int
    actor: str
    event: str
    action_id: str | None = None
    rule_id: str | None = None
    policy_version: int | None = None


@dataclass(frozen=True)
class ChainHead:
    """The last record's seq and hash (0 and 64 zeros for an empty log)."""

    seq: int = 0
    hash: str = GENESIS_HASH


@dataclass(frozen=True)
class DecisionRecord:
    seq: int
    at: int
    actor: str
    event: str
    action_id: str | None
    rule_id: str | None
    policy_version: int | None
    prev_hash: str
    hash: str

    def fields(self) -> dict[str, object]:
        return asdict(self)


def canonical(fields: dict[str, object]) -> bytes:
    """The canonical JSON of a record's fields other than ``hash``."""
    body = {name: value for name, value in fields.items() if name != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def hash_record(fields: dict[str, object]) -> str:
    return hashlib.sha256(canonical(fields)).hexdigest()


def chain(head: ChainHead, drafts: Sequence[DecisionDraft]) -> list[DecisionRecord]:
    """The records that follow ``head``, one per draft, in order."""
    records: list[DecisionRecord] = []
    seq, prev = head.seq, head.hash
    for draft in drafts:
        seq += 1
        fields: dict[str, object] = {
            "seq": seq,
            "at": draft.at,
            "actor": draft.actor,
            "event": draft.event,
            "action_id": draft.action_id,
            "rule_id": draft.rule_id,
            "policy_version": draft.policy_version,
            "prev_hash": prev,
        }
        digest = hash_record(fields)
        records.append(DecisionRecord(**fields, hash=digest))  # type: ignore[arg-type]
        prev = digest
    return records


def verify_chain(records: Iterable[DecisionRecord], head: ChainHead | None = None) -> int | None:
    """The seq of the first record that breaks the chain (a wrong hash, a wrong ``prev_hash``, a gap), or
    None when it holds. With ``head``, the chain must also end where the head says (else the seq after the
    last record is named: records were removed at the end)."""
    expected_seq, prev = 1, GENESIS_HASH
    for record in records:
        if record.seq != expected_seq or record.prev_hash != prev or record.hash != hash_record(record.fields()):
            return expected_seq if record.seq > expected_seq else record.seq
        expected_seq, prev = record.seq + 1, record.hash
    if head is not None and (head.seq != expected_seq - 1 or head.hash != prev):
        return min(expected_seq, head.seq) if head.seq >= 1 else expected_seq
    return None


@dataclass(frozen=True)
class DecisionPage:
    records: list[DecisionRecord]
    cursor: str | None


class DecisionReader(Protocol):
    def page(self, tenant_id: str, cursor: str | None, limit: int) -> DecisionPage: ...

    def all(self, tenant_id: str) -> Iterator[DecisionRecord]: ...


class DecisionLogService:
    """Reading the log: a page (``GET /v1/decisions``) or all of it (export); owner, admin, auditor, approver."""

    def __init__(self, reader: DecisionReader) -> None:
        self._reader = reader

    def page(self, caller: Principal, cursor: str | None, limit: int) -> DecisionPage:
        return self._reader.page(caller.tenant_id, cursor, limit)

    def all(self, caller: Principal) -> Iterator[DecisionRecord]:
        return self._reader.all(caller.tenant_id)
