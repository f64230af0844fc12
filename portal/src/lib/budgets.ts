// Budget rows for the Projects page: every level from GET /v1/budgets (tenant, project, environment, key),
// named after their project where they have one; or, for roles that may not read every level, each
// project's own budget from GET /v1/projects. Both give the same four figures: limit, used, held, left.

export interface BudgetRow {
  scope: string;
  name: string;
  limit: number | null;
  used: number;
  held: number;
  left: number | null;
  period: string;
  resets_at?: string | null;
}

interface ProjectLike {
  id: string;
  name: string;
  budget?: number | null;
  spent: number;
  held_by_leases: number;
  budget_left?: number | null;
}

interface BudgetLike {
  scope: string;
  limit: number;
  period: string;
  used: number;
  held: number;
  left: number;
  resets_at?: string | null;
}

export function projectBudgetRows(projects: readonly ProjectLike[]): BudgetRow[] {
  return projects.map((p) => ({
    scope: `project:${p.id}`,
    name: p.name,
    limit: p.budget ?? null,
    used: p.spent,
    held: p.held_by_leases,
    left: p.budget_left ?? null,
    period: "none",
  }));
}

/** What a person calls a scope: "Tenant", a project's name, "Render farm / production", "Key key_…". */
export function scopeName(scope: string, projects: readonly { id: string; name: string }[]): string {
  const [level, first, second] = scope.split(":");
  const project = projects.find((p) => p.id === first)?.name ?? first;
  if (level === "tenant") return "Tenant";
  if (level === "project") return project ?? scope;
  if (level === "environment") return `${project} / ${second}`;
  if (level === "key") return `Key ${first}`;
  return scope;
}

const ORDER = ["tenant", "project", "environment", "key"];

export function budgetRows(budgets: readonly BudgetLike[], projects: readonly { id: string; name: string }[]): BudgetRow[] {
  return [...budgets]
    .sort((a, b) => ORDER.indexOf(a.scope.split(":")[0] ?? "") - ORDER.indexOf(b.scope.split(":")[0] ?? "") || a.scope.localeCompare(b.scope))
    .map((b) => ({ ...b, name: scopeName(b.scope, projects) }));
}
