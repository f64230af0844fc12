// A purchase's status: where Stripe Checkout sends the buyer back to (success and cancel alike). While the
// purchase is pending (Stripe's webhook not yet in), it reads the purchase again every two seconds.
import { useEffect } from "preact/hooks";
import { useRoute } from "preact-iso/router";
import { client } from "../api/client";
import { Problem, money, number, useLoad, when } from "../lib/ui";

const POLL_MS = 2000;

export default function PurchaseStatus() {
  const { params, query } = useRoute();
  const id = params.id ?? "";
  const purchase = useLoad(
    () => client.GET("/v1/purchases/{purchase_id}", { params: { path: { purchase_id: id } } }),
    [id],
  );
  const p = purchase.data?.purchase;
  const cancelled = query.checkout === "cancelled";
  useEffect(() => {
    if (p?.status !== "pending" || cancelled) return; // a cancelled Checkout pays nothing: no need to wait
    const timer = window.setTimeout(purchase.reload, POLL_MS);
    return () => window.clearTimeout(timer);
  }, [p]);
  return (
    <section>
      <h1>Purchase {id}</h1>
      {cancelled && <p class="note">Checkout was cancelled; nothing was charged.</p>}
      <Problem text={purchase.error} />
      {p && (
        <dl class="figures">
          <div>
            <dt>Status</dt>
            <dd data-testid="purchase-status" aria-live="polite">
              {p.status}
            </dd>
          </div>
          <div>
            <dt>Tokens</dt>
            <dd>{number(p.tokens)}</dd>
          </div>
          <div>
            <dt>Amount</dt>
            <dd>{money(p.amount, p.currency)}</dd>
          </div>
          <div>
            <dt>PO number</dt>
            <dd>{p.po_number ?? "—"}</dd>
          </div>
          <div>
            <dt>Paid</dt>
            <dd>{when(p.paid_at)}</dd>
          </div>
        </dl>
      )}
    </section>
  );
}
