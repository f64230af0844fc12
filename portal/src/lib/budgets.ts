// Budget rows for the Projects page. Today they come from GET /v1/projects (each project's optional budget);
// GET /v1/budgets (every level: tenant, project, environment, key) answers the same four figures, so the page
// switches to it by changing `budgetRows`' source alone.

export interface BudgetRow {
  scope: string;
  name: string;
  limit: number | null;
  used: number;
  held: number;
  left: number | null;
  period: string;
}

interface ProjectLike {
  id: string;
  name: string;
  budget?: number | null;
  spent: number;
  held_by_leases: number;
  budget_left?: number | null;
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
