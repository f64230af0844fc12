// Projects and their budgets: one budget-row each (limit, used, held, left); owners and admins create
// projects and set budgets.
import { useState } from "preact/hooks";
import { client, message } from "../api/client";
import { can, type Profile } from "../access";
import { projectBudgetRows } from "../lib/budgets";
import { Problem, number, useLoad } from "../lib/ui";

export default function Projects({ profile }: { profile: Profile }) {
  const projects = useLoad(() => client.GET("/v1/projects"));
  const manage = can(profile, "projects:manage");
  const rows = projectBudgetRows(projects.data?.projects ?? []);
  return (
    <section>
      <h1>Projects</h1>
      <Problem text={projects.error} />
      <h2>Budgets</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">Project</th>
            <th scope="col">Scope</th>
            <th scope="col" class="n">Limit</th>
            <th scope="col" class="n">Used</th>
            <th scope="col" class="n">Held</th>
            <th scope="col" class="n">Left</th>
            {manage && <th scope="col">Change</th>}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr data-testid="budget-row" key={row.scope}>
              <td>{row.name}</td>
              <td>
                <code>{row.scope}</code>
              </td>
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
              {manage && (
                <td>
                  <SetBudget projectId={row.scope.slice("project:".length)} name={row.name} onDone={projects.reload} />
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {manage && <NewProject onDone={projects.reload} />}
    </section>
  );
}

function SetBudget({ projectId, name, onDone }: { projectId: string; name: string; onDone: () => void }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);
  async function submit(event: Event) {
    event.preventDefault();
    const { error: failed } = await client.PATCH("/v1/projects/{project_id}", {
      params: { path: { project_id: projectId } },
      body: { budget: value === "" ? null : Number(value) },
    });
    if (failed) setError(message(failed));
    else {
      setValue("");
      onDone();
    }
  }
  return (
    <form class="row" onSubmit={submit}>
      <label>
        Budget for {name}{" "}
        <input type="number" min={0} value={value} placeholder="none" onInput={(e) => setValue(e.currentTarget.value)} />
      </label>
      <button type="submit">Set budget</button>
      <Problem text={error} />
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
