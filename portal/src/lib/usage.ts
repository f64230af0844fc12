// Usage rows (GET /v1/usage) turned into chart series: one per group, one value per UTC day.
import { client, type Answer } from "../api/client";

type Usage = Answer<"/v1/usage", "get">;
type Row = Usage["rows"][number];

export type Grouping = "feature" | "project" | "key";

/** GET /v1/usage as JSON (the route also answers CSV, so its 200 is typed as either). Without `from` and
 * `to` the server answers its last 30 days by its own clock, and `first_day`/`last_day` say which. */
export async function usageJson(query: { from?: string; to?: string; granularity: string; group_by?: string }) {
  const { data, error } = await client.GET("/v1/usage", { params: { query } });
  return { data: typeof data === "string" ? undefined : data, error };
}

export function daysBetween(first: string, last: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${first}T00:00:00Z`); t <= Date.parse(`${last}T00:00:00Z`); t += 86_400_000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}

function groupOf(row: Row, grouping: Grouping | null): string {
  if (grouping === "feature") return row.feature ?? "(none)";
  if (grouping === "project") return row.project_id ?? "(no project)";
  if (grouping === "key") return row.key_id ?? "(none)";
  return "tokens";
}

export function seriesByGroup(usage: Usage, days: string[], grouping: Grouping | null) {
  const index = new Map(days.map((day, i) => [day, i]));
  const groups = new Map<string, number[]>();
  for (const row of usage.rows) {
    const name = groupOf(row, grouping);
    const values = groups.get(name) ?? days.map(() => 0);
    const at = index.get(row.period.slice(0, 10));
    if (at !== undefined) values[at] = (values[at] ?? 0) + row.tokens;
    groups.set(name, values);
  }
  if (groups.size === 0) groups.set("tokens", days.map(() => 0));
  return [...groups].map(([label, values]) => ({ label, values }));
}
