"""The portal's Verify button recomputes the decision log's chain in the browser (portal/src/lib/chain.ts); its
unit tests read portal/tests/chain-vectors.json. These records must be exactly what the server's own chain
code makes of the same drafts, or the browser's check would be proven against the wrong bytes."""

from __future__ import annotations

import json

from tests.conftest import ROOT
from tollgate.approvals.rules_decisions import ChainHead, DecisionDraft, chain, verify_chain

VECTORS = ROOT / "portal" / "tests" / "chain-vectors.json"


def test_the_portals_chain_vectors_are_the_servers_own_records() -> None:
    records = json.loads(VECTORS.read_text(encoding="utf-8"))
    drafts = [
        DecisionDraft(
            at=r["at"],
            actor=r["actor"],
            event=r["event"],
            action_id=r["action_id"],
            rule_id=r["rule_id"],
            policy_version=r["policy_version"],
        )
        for r in records
    ]
    rebuilt = [record.fields() for record in chain(ChainHead(), drafts)]
    assert rebuilt == records
    assert verify_chain(chain(ChainHead(), drafts)) is None
    assert any(not ch.isascii() for r in records for ch in r["actor"])  # non-ASCII kept as is, and escapes
    assert any(ord(ch) < 0x20 for r in records for ch in r["actor"])
