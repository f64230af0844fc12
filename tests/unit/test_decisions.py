"""The decision log's hash chain: canonical JSON as SPEC.md fixes it, and verification that names the first
record that breaks it (an edited field, a removed record, a swapped pair, a truncated tail)."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from tollgate.approvals.rules_decisions import GENESIS_HASH, ChainHead, DecisionDraft, chain, hash_record, verify_chain

DRAFTS = [
    DecisionDraft(1_800_000_000, "api_key:ak_0000000000000001", "action.pending", "ac_1", "prod", 2),
    DecisionDraft(1_800_000_060, "api_key:ak_0000000000000002", "review.approved", "ac_1", "prod", 2),
    DecisionDraft(1_800_000_060, "api_key:ak_0000000000000002", "action.approved", "ac_1", "prod", 2),
    DecisionDraft(1_800_000_100, "license_key:lk_0000000000000001", "spend.denied", None, "nights", 3),
]


def test_the_hash_is_the_sha256_of_the_canonical_json() -> None:
    first = chain(ChainHead(), DRAFTS[:1])[0]
    expected = json.dumps(
        {
            "action_id": "ac_1",
            "actor": "api_key:ak_0000000000000001",
            "at": 1_800_000_000,
            "event": "action.pending",
            "policy_version": 2,
            "prev_hash": "0" * 64,
            "rule_id": "prod",
            "seq": 1,
        },
        separators=(",", ":"),
    )
    assert expected.startswith('{"action_id":"ac_1","actor"')
    assert first.hash == hashlib.sha256(expected.encode()).hexdigest()
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)


def test_records_chain_from_the_head() -> None:
    records = chain(ChainHead(), DRAFTS)
    assert [r.seq for r in records] == [1, 2, 3, 4]
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(records))
    more = chain(ChainHead(records[-1].seq, records[-1].hash), DRAFTS[:2])
    assert [r.seq for r in more] == [5, 6]
    assert verify_chain(records + more) is None
    assert verify_chain(records + more, ChainHead(6, more[-1].hash)) is None


def test_verification_names_the_first_broken_record() -> None:
    records = chain(ChainHead(), DRAFTS)
    edited = [*records[:2], replace(records[2], actor="api_key:ak_0000000000000666"), records[3]]
    assert verify_chain(edited) == 3
    rehashed = replace(edited[2], hash=hash_record(edited[2].fields()))  # rehashing it breaks the next link
    assert verify_chain([*edited[:2], rehashed, records[3]]) == 4
    assert verify_chain([records[0], records[2], records[3]]) == 2  # a record removed: a gap
    assert verify_chain([records[1], records[0], *records[2:]]) == 1
    head = ChainHead(4, records[3].hash)
    assert verify_chain(records[:3], head) == 4  # the newest record removed: the head still names it
    assert verify_chain([], ChainHead()) is None


@given(st.integers(min_value=0, max_value=3), st.sampled_from(["actor", "event", "rule_id", "at", "policy_version"]))
def test_any_edit_of_any_field_is_found(index: int, field: str) -> None:
    records = chain(ChainHead(), DRAFTS)
    value = records[index].fields()[field]
    changed = (value + 1) if isinstance(value, int) else f"{value}x"
    tampered = [*records[:index], replace(records[index], **{field: changed}), *records[index + 1 :]]
    assert verify_chain(tampered) == index + 1
