// Overview: balance, reserved, available, the lots with their expiry, the last 30 days' burn and the
// forecast depletion date.
import { useMemo } from "preact/hooks";
import { client } from "../api/client";
import { can, type Profile } from "../access";
import { Chart } from "../lib/chart";
import { Problem, number, useLoad, when } from "../lib/ui";
import { daysBetween, seriesByGroup, usageJson } from "../lib/usage";

export default function Overview({ profile }: { profile: Profile }) {
  const balance = useLoad(() => client.GET("/v1/balance"));
  const b = balance.data;
  return (
    <section>
      <h1>Overview</h1>
      <Problem text={balance.error} />
      <dl class="figures">
        <div>
          <dt>Available</dt>
          <dd data-testid="available">{number(b?.available)}</dd>
        </div>
        <div>
          <dt>Balance</dt>
          <dd data-testid="balance">{number(b?.balance)}</dd>
        </div>
        <div>
          <dt>Reserved</dt>
          <dd data-testid="reserved">{number(b?.reserved)}</dd>
        </div>
      </dl>
      {can(profile, "usage:read") && <Burn />}
      <h2>Lots</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Lot</th>
            <th scope="col">From</th>
            <th scope="col" class="n">Tokens</th>
            <th scope="col" class="n">Remaining</th>
            <th scope="col">Expires</th>
          </tr>
        </thead>
        <tbody>
          {(b?.lots ?? []).map((lot) => (
            <tr data-testid="lot-row" key={lot.id}>
              <td>
                <code>{lot.id}</code>
              </td>
              <td>{lot.purchase_id ? <a href={`${import.meta.env.BASE_URL}purchases/${lot.purchase_id}`}>{lot.purchase_id}</a> : (lot.grant_reason ?? "grant")}</td>
              <td class="n">{number(lot.tokens)}</td>
              <td class="n">{number(lot.remaining)}</td>
              <td>{when(lot.expires_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {b && b.lots.length === 0 && <p class="note">No lots yet: buy tokens to get started.</p>}
    </section>
  );
}

function Burn() {
  // The server's last 30 days, by its clock (it says which days): not the browser's, which may differ.
  const usage = useLoad(() => usageJson({ granularity: "day" }));
  const forecast = useLoad(() => client.GET("/v1/usage/forecast"));
  const days = useMemo(() => (usage.data ? daysBetween(usage.data.first_day, usage.data.last_day) : []), [usage.data]);
  const series = useMemo(() => (usage.data ? seriesByGroup(usage.data, days, null) : null), [usage.data, days]);
  return (
    <>
      <h2>Burn, last 30 days</h2>
      <Problem text={usage.error ?? forecast.error} />
      {series && <Chart testId="burn-chart" title="Tokens consumed per day (UTC)" days={days} series={series} />}
      <p>
        Forecast depletion date:{" "}
        <strong data-testid="depletion-date">{forecast.data ? (forecast.data.depletion_date ?? "not in sight") : "…"}</strong>
      </p>
    </>
  );
}
