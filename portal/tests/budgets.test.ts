// Budget rows: every level from GET /v1/budgets named and ordered for people; projects' own budgets for
// roles that read only projects.
import { test } from "node:test";
import assert from "node:assert/strict";
import { budgetRows, projectBudgetRows, scopeName } from "../src/lib/budgets.js";

const projects = [{ id: "pj_1", name: "Render farm" }];

test("scopes are named after their project", () => {
  assert.equal(scopeName("tenant", projects), "Tenant");
  assert.equal(scopeName("project:pj_1", projects), "Render farm");
  assert.equal(scopeName("environment:pj_1:production", projects), "Render farm / production");
  assert.equal(scopeName("key:key_9", projects), "Key key_9");
});

test("levels come tenant, project, environment, key", () => {
  const figures = { limit: 10, used: 1, held: 2, left: 7, period: "none" };
  const rows = budgetRows(
    [
      { scope: "key:key_9", ...figures },
      { scope: "environment:pj_1:staging", ...figures },
      { scope: "tenant", ...figures, period: "month" },
      { scope: "project:pj_1", ...figures },
    ],
    projects,
  );
  assert.deepEqual(
    rows.map((r) => r.scope),
    ["tenant", "project:pj_1", "environment:pj_1:staging", "key:key_9"],
  );
  const [tenant] = rows;
  assert.equal(tenant!.used + tenant!.held + (tenant!.left ?? 0), tenant!.limit);
});

test("a project without a budget has no limit and nothing left to show", () => {
  const [row] = projectBudgetRows([{ id: "pj_2", name: "Docs", budget: null, spent: 3, held_by_leases: 0 }]);
  assert.deepEqual(row, { scope: "project:pj_2", name: "Docs", limit: null, used: 3, held: 0, left: null, period: "none" });
});
