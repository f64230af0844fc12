// Usage: tokens consumed per UTC day, grouped by feature, project or key, and the same report as CSV.
import { useEffect, useMemo, useState } from "preact/hooks";
import { client, message } from "../api/client";
import { Chart } from "../lib/chart";
import { Problem, number, useLoad } from "../lib/ui";
import { daysBetween, seriesByGroup, usageJson, type Grouping } from "../lib/usage";

export default function Usage() {
  // Empty until the first answer: the server's last 30 days by its own clock (not the browser's), then the
  // fields show that range and the person may change it.
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [grouping, setGrouping] = useState<Grouping>("feature");
  const [csvError, setCsvError] = useState<string | null>(null);
  const query = { ...(from ? { from } : {}), ...(to ? { to } : {}), granularity: "day", group_by: grouping };
  const usage = useLoad(() => usageJson(query), [from, to, grouping]);
  useEffect(() => {
    if (usage.data && !from && !to) {
      setFrom(usage.data.first_day);
      setTo(usage.data.last_day);
    }
  }, [usage.data]);
  const days = useMemo(() => (usage.data ? daysBetween(usage.data.first_day, usage.data.last_day) : []), [usage.data]);
  const series = useMemo(
    () => (usage.data ? seriesByGroup(usage.data, days, grouping) : null),
    [usage.data, days, grouping],
  );

  async function download() {
    setCsvError(null);
    const { data, error } = await client.GET("/v1/usage.csv", { params: { query }, parseAs: "text" });
    if (data === undefined) {
      setCsvError(message(error));
      return;
    }
    const url = URL.createObjectURL(new Blob([data as unknown as string], { type: "text/csv" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = `usage-${from}-${to}-by-${grouping}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  return (
    <section>
      <h1>Usage</h1>
      <form class="row" onSubmit={(e) => e.preventDefault()}>
        <label>
          From <input type="date" value={from} max={to} onChange={(e) => setFrom(e.currentTarget.value)} />
        </label>
        <label>
          To <input type="date" value={to} min={from} onChange={(e) => setTo(e.currentTarget.value)} />
        </label>
        <label>
          Group by{" "}
          <select value={grouping} onChange={(e) => setGrouping(e.currentTarget.value as Grouping)}>
            <option value="feature">feature</option>
            <option value="project">project</option>
            <option value="key">key</option>
          </select>
        </label>
        <button type="button" data-testid="usage-csv" onClick={download}>
          Download CSV
        </button>
      </form>
      <Problem text={usage.error ?? csvError} />
      {series && <Chart testId="usage-chart" title={`Tokens per day by ${grouping} (UTC)`} days={days} series={series} />}
      {usage.data && (
        <p>
          Total: <strong>{number(usage.data.totals.tokens)}</strong> tokens in {number(usage.data.totals.count)} uses.
        </p>
      )}
    </section>
  );
}
