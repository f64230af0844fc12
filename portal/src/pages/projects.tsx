// Projects and budgets. Budgets at every level (tenant, project, environment within a project, license key)
// come from GET /v1/budgets for those who may read them; other roles see their projects' budgets (GET
// /v1/projects). One budget-row each: limit, used, held, left. Owners, admins and billing set and remove
// budgets; owners and admins create projects.
import { useState } from "preact/hooks";
import { client, message } from "../api/client";
import { can, type Profile } from "../access";
import { budgetRows, projectBudgetRows, type BudgetRow } from "../lib/budgets";
import { Problem, number, useLoad, when } from "../lib/ui";

export default function Projects({ profile }: { profile: Profile }) {
  const projects = useLoad(() => client.GET("/v1/projects"));
  const everyLevel = can(profile, "budgets:read");
  const budgets = useLoad<{ budgets: Parameters<typeof budgetRows>[0] }>(() =>
    everyLevel ? client.GET("/v1/budgets") : Promise.resolve({}),
  );
  const manageBudgets = can(profile, "budgets:manage");
  const [removeError, setRemoveError] = useState<string | null>(null);
  const list = projects.data?.projects ?? [];
  const rows: BudgetRow[] = everyLevel ? budgetRows(budgets.data?.budgets ?? [], list) : projectBudgetRows(list);
  const reload = () => {
    projects.reload();
    budgets.reload();
  };

  async function remove(scope: string) {
    const { error } = await client.DELETE("/v1/budgets/{scope}", { params: { path: { scope } } });
    setRemoveError(error ? message(error) : null);
    reload();
  }

  return (
    <section>
      <h1>Projects</h1>
      <Problem text={projects.error ?? budgets.error ?? removeError} />
      <h2>Budgets</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Budget</th>
            <th scope="col">Scope</th>
            <th scope="col">Period</th>
            <th scope="col" class="n">Limit</th>
            <th scope="col" class="n">Used</th>
            <th scope="col" class="n">Held</th>
            <th scope="col" class="n">Left</th>
            <th scope="col">Resets</th>
            {manageBudgets && <th scope="col">Change</th>}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr data-testid="budget-row" key={row.scope}>
              <td>{row.name}</td>
              <td>
                <code>{row.scope}</code>
              </td>
              <td>{row.period}</td>
              <td class="n" data-field="limit">
                {row.limit === null ? "no limit" : number(row.limit)}
              </td>
              <td class="n" data-field="used">
                {number(row.used)}
              </td>
              <td class="n" data-field="held">
                {number(row.held)}
              </td>
              <td class="n" data-field="left">
                {row.left === null ? "—" : number(row.left)}
              </td>
              <td>{when(row.resets_at)}</td>
              {manageBudgets && (
                <td>
                  {row.limit !== null && (
                    <button type="button" onClick={() => remove(row.scope)} aria-label={`Remove the budget ${row.scope}`}>
                      Remove
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && <p class="note">No budgets yet.</p>}
      {manageBudgets && <SetBudget projects={list} onDone={reload} />}
      {can(profile, "projects:manage") && <NewProject onDone={reload} />}
    </section>
  );
}

type Level = "tenant" | "project" | "environment" | "key";

function SetBudget({ projects, onDone }: { projects: { id: string; name: string }[]; onDone: () => void }) {
  const [level, setLevel] = useState<Level>("project");
  const [project, setProject] = useState("");
  const [environment, setEnvironment] = useState("production");
  const [keyId, setKeyId] = useState("");
  const [limit, setLimit] = useState("");
  const [period, setPeriod] = useState<"none" | "month">("none");
  const [error, setError] = useState<string | null>(null);
  const projectId = project || projects[0]?.id || "";
  const scope =
    level === "tenant"
      ? "tenant"
      : level === "project"
        ? `project:${projectId}`
        : level === "environment"
          ? `environment:${projectId}:${environment.trim()}`
          : `key:${keyId.trim()}`;

  async function submit(event: Event) {
    event.preventDefault();
    const { error: failed } = await client.PUT("/v1/budgets/{scope}", {
      params: { path: { scope } },
      body: { limit: Number(limit), period },
    });
    if (failed) setError(message(failed));
    else {
      setError(null);
      setLimit("");
      onDone();
    }
  }

  return (
    <form class="stack" onSubmit={submit}>
      <h2>Set a budget</h2>
      <Problem text={error} />
      <label for="budget-level">Level</label>
      <select id="budget-level" value={level} onChange={(e) => setLevel(e.currentTarget.value as Level)}>
        <option value="tenant">the whole tenant</option>
        <option value="project">a project</option>
        <option value="environment">an environment of a project</option>
        <option value="key">a license key</option>
      </select>
      {(level === "project" || level === "environment") && (
        <>
          <label for="budget-project">Budget's project</label>
          <select id="budget-project" value={projectId} onChange={(e) => setProject(e.currentTarget.value)}>
            {projects.map((p) => (
              <option value={p.id} key={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </>
      )}
      {level === "environment" && (
        <>
          <label for="budget-environment">Environment</label>
          <input id="budget-environment" required pattern="[a-z0-9][a-z0-9\-]{0,31}" value={environment} onInput={(e) => setEnvironment(e.currentTarget.value)} />
        </>
      )}
      {level === "key" && (
        <>
          <label for="budget-key">License key id</label>
          <input id="budget-key" required value={keyId} onInput={(e) => setKeyId(e.currentTarget.value)} />
        </>
      )}
      <label for="budget-limit">Limit (tokens)</label>
      <input id="budget-limit" type="number" min={0} required value={limit} onInput={(e) => setLimit(e.currentTarget.value)} />
      <label for="budget-period">Period</label>
      <select id="budget-period" value={period} onChange={(e) => setPeriod(e.currentTarget.value as "none" | "month")}>
        <option value="none">none (until changed)</option>
        <option value="month">month (resets at each UTC month's start)</option>
      </select>
      <button type="submit">Set budget</button>
    </form>
  );
}

function NewProject({ onDone }: { onDone: () => void }) {
  const [name, setName] = useState("");
  const [budget, setBudget] = useState("");
  const [error, setError] = useState<string | null>(null);
  async function submit(event: Event) {
    event.preventDefault();
    const { error: failed } = await client.POST("/v1/projects", {
      body: { name: name.trim(), budget: budget === "" ? null : Number(budget) },
    });
    if (failed) setError(message(failed));
    else {
      setName("");
      setBudget("");
      onDone();
    }
  }
  return (
    <form class="stack" onSubmit={submit}>
      <h2>New project</h2>
      <Problem text={error} />
      <label for="project-name">Project name</label>
      <input id="project-name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <label for="project-budget">Budget (tokens, optional)</label>
      <input id="project-budget" type="number" min={0} value={budget} onInput={(e) => setBudget(e.currentTarget.value)} />
      <button type="submit">Create project</button>
    </form>
  );
}
