// Buy tokens: a pack from the catalog, a quantity, a PO number and a project; then Stripe Checkout, which
// sends the buyer back to this portal's /portal/purchases/{id}.
import { useState } from "preact/hooks";
import { client, message } from "../api/client";
import { can, type Profile } from "../access";
import { Problem, money, newIdempotencyKey, number, useLoad, when } from "../lib/ui";

const BASE = import.meta.env.BASE_URL;

export default function Buy({ profile }: { profile: Profile }) {
  return (
    <section>
      <h1>Buy tokens</h1>
      {can(profile, "purchases:create") ? <BuyForm /> : <p class="note">Your role may not buy tokens.</p>}
      {can(profile, "purchases:read") && <Purchases />}
    </section>
  );
}

function BuyForm() {
  const catalog = useLoad(() => client.GET("/v1/catalog"));
  const projects = useLoad(() => client.GET("/v1/projects"));
  const [pack, setPack] = useState("");
  const [quantity, setQuantity] = useState("1");
  const [po, setPo] = useState("");
  const [project, setProject] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // One key per intended purchase: a retry of the same form sends the same key, a changed form a new one.
  const [attempt, setAttempt] = useState<{ fingerprint: string; key: string } | null>(null);

  const packs = catalog.data?.packs ?? [];
  const chosen = pack || packs[0]?.id || "";

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const body = {
      pack_id: chosen,
      quantity: Number(quantity),
      po_number: po.trim() || null,
      project_id: project || null,
    };
    const fingerprint = JSON.stringify(body);
    const key = attempt?.fingerprint === fingerprint ? attempt.key : newIdempotencyKey();
    setAttempt({ fingerprint, key });
    const { data, error: failed } = await client.POST("/v1/purchases", {
      body,
      params: { header: { "idempotency-key": key } },
    });
    if (data?.checkout_url) {
      window.location.assign(data.checkout_url);
      return;
    }
    setBusy(false);
    if (data) window.location.assign(`${BASE}purchases/${data.purchase.id}`);
    else setError(message(failed));
  }

  return (
    <form onSubmit={submit} class="stack">
      <Problem text={catalog.error ?? projects.error ?? error} />
      <label for="buy-pack">Pack</label>
      <select id="buy-pack" value={chosen} onChange={(e) => setPack(e.currentTarget.value)} required>
        {packs.map((p) => (
          <option value={p.id} key={p.id}>
            {p.name} — {number(p.tokens)} tokens, {money(p.price, p.currency)}
            {p.valid_days ? `, valid ${p.valid_days} days` : ""}
          </option>
        ))}
      </select>
      <label for="buy-quantity">Quantity</label>
      <input
        id="buy-quantity"
        type="number"
        min={1}
        max={1000}
        required
        value={quantity}
        onInput={(e) => setQuantity(e.currentTarget.value)}
      />
      <label for="buy-po">PO number</label>
      <input id="buy-po" type="text" maxLength={64} value={po} onInput={(e) => setPo(e.currentTarget.value)} />
      <label for="buy-project">Project</label>
      <select id="buy-project" value={project} onChange={(e) => setProject(e.currentTarget.value)}>
        <option value="">No project (the shared pool)</option>
        {(projects.data?.projects ?? []).map((p) => (
          <option value={p.id} key={p.id}>
            {p.name}
          </option>
        ))}
      </select>
      <button type="submit" disabled={busy || !chosen}>
        Continue to checkout
      </button>
    </form>
  );
}

function Purchases() {
  const purchases = useLoad(() => client.GET("/v1/purchases", { params: { query: { limit: 20 } } }));
  return (
    <>
      <h2>Recent purchases</h2>
      <Problem text={purchases.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Purchase</th>
            <th scope="col">Status</th>
            <th scope="col" class="n">Tokens</th>
            <th scope="col" class="n">Amount</th>
            <th scope="col">PO number</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {(purchases.data?.purchases ?? []).map((p) => (
            <tr key={p.id}>
              <td>
                <a href={`${BASE}purchases/${p.id}`}>{p.id}</a>
              </td>
              <td>{p.status}</td>
              <td class="n">{number(p.tokens)}</td>
              <td class="n">{money(p.amount, p.currency)}</td>
              <td>{p.po_number ?? "—"}</td>
              <td>{when(p.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
