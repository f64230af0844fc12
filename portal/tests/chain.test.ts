// The browser's chain check against records the server's own code chained (tests/chain-vectors.json is
// written by shared/tollgate/approvals/rules_decisions.py; tests/unit/test_portal_chain.py keeps it so).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { canonical, chainStatus, verifyChain, type ChainRecord } from "../src/lib/chain.js";

const vectors: ChainRecord[] = JSON.parse(readFileSync(new URL("../../tests/chain-vectors.json", import.meta.url), "utf8"));

test("the server's chain verifies in the browser's code", async () => {
  assert.equal(chainStatus(await verifyChain(vectors)), "verified (3 records)");
});

test("canonical JSON sorts keys, leaves out hash, keeps non-ASCII", () => {
  const text = canonical({ seq: 1, hash: "x", actor: "é", at: 2 });
  assert.equal(text, '{"actor":"é","at":2,"seq":1}');
});

test("a changed field breaks the chain at its record", async () => {
  const tampered = vectors.map((record) => ({ ...record }));
  tampered[1]!.actor = "api_key:someone-else";
  assert.equal(chainStatus(await verifyChain(tampered)), "broken at seq 2");
});

test("a removed record breaks the chain where the gap is", async () => {
  assert.equal(chainStatus(await verifyChain([vectors[0]!, vectors[2]!])), "broken at seq 2");
});

test("an empty log verifies with no records", async () => {
  assert.equal(chainStatus(await verifyChain([])), "verified (0 records)");
});
