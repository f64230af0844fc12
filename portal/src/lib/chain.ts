// The decision log's hash chain, recomputed in the browser (SPEC "Decision log"): `hash` is the lowercase
// hex SHA-256 of the record's canonical JSON — every field but `hash`, keys sorted, separators "," and ":",
// UTF-8, non-ASCII kept as is — exactly as shared/tollgate/approvals/rules_decisions.py computes it.
// JSON.stringify writes the same bytes as Python's json.dumps(..., separators=(",", ":"),
// ensure_ascii=False) for these records: strings, integers and null, escapes in the same lowercase form.

export const GENESIS_HASH = "0".repeat(64);

export interface ChainRecord {
  seq: number;
  prev_hash: string;
  hash: string;
  [field: string]: unknown;
}

export type ChainResult = { ok: true; count: number } | { ok: false; seq: number };

function sortedValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedValue);
  if (value !== null && typeof value === "object") {
    const sorted: Record<string, unknown> = {};
    for (const name of Object.keys(value).sort()) sorted[name] = sortedValue((value as Record<string, unknown>)[name]);
    return sorted;
  }
  return value;
}

/** The canonical JSON of a record: every field but `hash`, keys sorted, no spaces. */
export function canonical(record: Record<string, unknown>): string {
  const { hash: _ignored, ...fields } = record;
  return JSON.stringify(sortedValue(fields));
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Verifies records in seq order: seq gapless from 1, each prev_hash the previous hash (64 zeros first),
 * each hash the SHA-256 of its canonical JSON. Names the first seq that breaks, as the server's
 * verify_chain does. */
export async function verifyChain(records: readonly ChainRecord[]): Promise<ChainResult> {
  let expectedSeq = 1;
  let prev = GENESIS_HASH;
  for (const record of records) {
    const hash = await sha256Hex(canonical(record));
    if (record.seq !== expectedSeq || record.prev_hash !== prev || record.hash !== hash) {
      return { ok: false, seq: record.seq > expectedSeq ? expectedSeq : record.seq };
    }
    expectedSeq = record.seq + 1;
    prev = record.hash;
  }
  return { ok: true, count: records.length };
}

/** What the portal writes into `chain-status`. */
export function chainStatus(result: ChainResult): string {
  return result.ok ? `verified (${result.count} records)` : `broken at seq ${result.seq}`;
}
