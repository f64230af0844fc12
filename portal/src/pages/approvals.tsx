// Approvals: the reviewer's queue (Approve or Deny, each with a comment), the policy with its simulator, and
// the decision log with Verify, which reads the log afresh and recomputes its hash chain in this browser.
import { useState } from "preact/hooks";
import { client, message, type Answer } from "../api/client";
import { can, type Profile } from "../access";
import { chainStatus, verifyChain } from "../lib/chain";
import { Problem, number, useLoad, when } from "../lib/ui";

type Action = Answer<"/v1/actions", "get">["actions"][number];
type Decision = "approve" | "deny";

export default function Approvals({ profile }: { profile: Profile }) {
  return (
    <section>
      <h1>Approvals</h1>
      <Queue />
      {can(profile, "policy:read") && <Policy />}
      {can(profile, "decisions:read") && <DecisionLog />}
    </section>
  );
}

function Queue() {
  // The server decides who may review: the queue holds only the pending actions this key may review.
  const queue = useLoad(() =>
    client.GET("/v1/actions", { params: { query: { status: "pending", reviewable: "true", limit: 50 } } }),
  );
  const actions = queue.data?.actions ?? [];
  return (
    <>
      <h2>Waiting for your review</h2>
      <Problem text={queue.error} />
      {queue.data && actions.length === 0 && <p class="note">Nothing is waiting for your review.</p>}
      <ul class="cards">
        {actions.map((action) => (
          <ActionRow action={action} key={action.id} onReviewed={queue.reload} />
        ))}
      </ul>
    </>
  );
}

function ActionRow({ action, onReviewed }: { action: Action; onReviewed: () => void }) {
  const [decision, setDecision] = useState<Decision | null>(null);
  const [comment, setComment] = useState("");
  const [error, setError] = useState<string | null>(null);
  const commentId = `comment-${action.id}`;

  async function confirm(event: Event) {
    event.preventDefault();
    if (!decision) return;
    const { error: failed } = await client.POST("/v1/actions/{action_id}/reviews", {
      params: { path: { action_id: action.id } },
      body: { decision, comment: comment.trim() },
    });
    if (failed) setError(message(failed));
    else onReviewed();
  }

  return (
    <li data-testid="action-row" class="card">
      <p>
        <strong>{action.action}</strong>
        {action.feature && ` · ${action.feature}`} · {number(action.tokens)} tokens · asked by <code>{action.requester}</code>
      </p>
      {action.reason && <p>Reason: {action.reason}</p>}
      <p class="note">
        {action.approvals} of {action.quorum ?? 1} approvals · rule {action.rule_id ?? "—"} · expires {when(action.expires_at)}
      </p>
      <Problem text={error} />
      {decision === null ? (
        <div class="row">
          <button type="button" onClick={() => setDecision("approve")}>
            Approve
          </button>
          <button type="button" onClick={() => setDecision("deny")}>
            Deny
          </button>
        </div>
      ) : (
        <form class="stack" onSubmit={confirm}>
          <label for={commentId}>Comment</label>
          <textarea id={commentId} rows={2} maxLength={500} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
          <div class="row">
            <button type="submit">Confirm</button>
            <button type="button" onClick={() => setDecision(null)}>
              Cancel
            </button>
          </div>
          <p class="note">You are about to {decision} this action.</p>
        </form>
      )}
    </li>
  );
}

function Policy() {
  const policy = useLoad(() => client.GET("/v1/policy"));
  const [action, setAction] = useState("deploy");
  const [feature, setFeature] = useState("");
  const [tokens, setTokens] = useState("0");
  const [result, setResult] = useState<string | null>(null);

  async function simulate(event: Event) {
    event.preventDefault();
    const { data, error } = await client.POST("/v1/policy/simulate", {
      body: { action: action.trim(), feature: feature.trim() || null, tokens: Number(tokens) },
    });
    if (data) {
      const d = data.decision;
      setResult(`${d.effect}${d.rule_id ? ` by rule ${d.rule_id}` : " (default)"} · policy version ${d.policy_version}`);
    } else setResult(message(error));
  }

  const p = policy.data?.policy;
  return (
    <>
      <h2>Policy</h2>
      <Problem text={policy.error} />
      {p && (
        <details>
          <summary>
            Version {p.version}: {p.rules.length} rules, default {p.default_effect}
          </summary>
          <pre>{JSON.stringify(p.rules, null, 2)}</pre>
        </details>
      )}
      <form class="row" onSubmit={simulate}>
        <label>
          Action <input required value={action} onInput={(e) => setAction(e.currentTarget.value)} />
        </label>
        <label>
          Feature <input value={feature} onInput={(e) => setFeature(e.currentTarget.value)} />
        </label>
        <label>
          Tokens <input type="number" min={0} value={tokens} onInput={(e) => setTokens(e.currentTarget.value)} />
        </label>
        <button type="submit">Simulate</button>
      </form>
      <p aria-live="polite">
        <output data-testid="simulate-result">{result ?? ""}</output>
      </p>
    </>
  );
}

async function readWholeLog() {
  const records: Answer<"/v1/decisions", "get">["decisions"] = [];
  let cursor: string | null | undefined;
  do {
    const { data, error } = await client.GET("/v1/decisions", {
      params: { query: { limit: 100, ...(cursor ? { cursor } : {}) } },
      cache: "no-store",
    });
    if (!data) throw new Error(message(error));
    records.push(...data.decisions);
    cursor = data.next_cursor;
  } while (cursor);
  return records;
}

function DecisionLog() {
  const log = useLoad(() => client.GET("/v1/decisions", { params: { query: { limit: 100 } } }));
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);

  async function verify() {
    setBusy(true);
    setStatus("verifying…");
    try {
      setStatus(chainStatus(await verifyChain(await readWholeLog())));
    } catch (error) {
      setStatus(error instanceof Error ? error.message : String(error));
    } finally {
      setBusy(false);
      log.reload();
    }
  }

  return (
    <>
      <h2>Decision log</h2>
      <div class="row">
        <button type="button" onClick={verify} disabled={busy}>
          Verify
        </button>
        <output data-testid="chain-status" aria-live="polite">
          {status}
        </output>
      </div>
      <Problem text={log.error} />
      <table>
        <thead>
          <tr>
            <th scope="col" class="n">Seq</th>
            <th scope="col">At (UTC)</th>
            <th scope="col">Event</th>
            <th scope="col">Actor</th>
            <th scope="col">Action</th>
            <th scope="col">Rule</th>
            <th scope="col">Hash</th>
          </tr>
        </thead>
        <tbody>
          {(log.data?.decisions ?? []).map((r) => (
            <tr key={r.seq}>
              <td class="n">{r.seq}</td>
              <td>{new Date(r.at * 1000).toISOString().replace("T", " ").slice(0, 19)}</td>
              <td>{r.event}</td>
              <td>
                <code>{r.actor}</code>
              </td>
              <td>{r.action_id ?? "—"}</td>
              <td>{r.rule_id ?? "—"}</td>
              <td>
                <code title={r.hash}>{r.hash.slice(0, 12)}…</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
