// Events: what happened recently (GET /v1/events, 30 days) and, for owners and admins, the webhook endpoints
// that hear about it (a new endpoint's signing secret is shown once).
import { useState } from "preact/hooks";
import { client, message, type Body } from "../api/client";
import { can, type Profile } from "../access";
import { Problem, useLoad, when } from "../lib/ui";

export default function Events({ profile }: { profile: Profile }) {
  return (
    <section>
      <h1>Events</h1>
      {can(profile, "events:read") && <Recent />}
      {can(profile, "webhooks:manage") && <Endpoints />}
    </section>
  );
}

/** The event's plain fields, a few of them, for a one-line summary (the whole payload on opening it). */
function summary(data: Record<string, unknown>): string {
  const plain = Object.entries(data).filter(([, v]) => v !== null && typeof v !== "object");
  return plain
    .slice(0, 5)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(" · ");
}

function Recent() {
  const events = useLoad(() => client.GET("/v1/events", { params: { query: { limit: 50 } } }));
  return (
    <>
      <h2>Recent events</h2>
      <Problem text={events.error} />
      <table>
        <thead>
          <tr>
            <th scope="col">When (UTC)</th>
            <th scope="col">Type</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {(events.data?.events ?? []).map((e) => (
            <tr data-testid="event-row" key={e.id}>
              <td>{when(e.created_at)}</td>
              <td>{e.type}</td>
              <td>
                <details>
                  <summary>{summary(e.data)}</summary>
                  <code class="wrap">{JSON.stringify(e.data, null, 1)}</code>
                </details>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {events.data && events.data.events.length === 0 && <p class="note">No events in the last 30 days.</p>}
    </>
  );
}

function Endpoints() {
  const endpoints = useLoad(() => client.GET("/v1/webhook-endpoints"));
  const [url, setUrl] = useState("");
  const [types, setTypes] = useState("*");
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function create(event: Event) {
    event.preventDefault();
    setSecret(null);
    // The server checks each name against the event catalogue; the form sends what was typed.
    const list = types.split(/[\s,]+/).filter(Boolean) as Body<"/v1/webhook-endpoints", "post">["events"];
    const { data, error: failed } = await client.POST("/v1/webhook-endpoints", { body: { url: url.trim(), events: list } });
    if (data) {
      setSecret(data.endpoint.secret);
      setUrl("");
      endpoints.reload();
    } else setError(message(failed));
  }

  async function remove(id: string) {
    setSecret(null);
    const { error: failed } = await client.DELETE("/v1/webhook-endpoints/{endpoint_id}", {
      params: { path: { endpoint_id: id } },
    });
    setError(failed ? message(failed) : null);
    endpoints.reload();
  }

  return (
    <>
      <h2>Webhook endpoints</h2>
      <Problem text={endpoints.error ?? error} />
      {secret && (
        <div class="secret" role="status">
          <p>The endpoint's signing secret, shown once:</p>
          <code data-testid="secret">{secret}</code>
        </div>
      )}
      <table>
        <thead>
          <tr>
            <th scope="col">URL</th>
            <th scope="col">Events</th>
            <th scope="col">Status</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {(endpoints.data?.endpoints ?? []).map((e) => (
            <tr key={e.id}>
              <td>
                <code>{e.url}</code>
              </td>
              <td>{e.events.join(", ")}</td>
              <td>{e.status}</td>
              <td>
                <button type="button" onClick={() => remove(e.id)} aria-label={`Delete endpoint ${e.url}`}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="stack" onSubmit={create}>
        <h3>New endpoint</h3>
        <label for="endpoint-url">Endpoint URL</label>
        <input id="endpoint-url" type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
        <label for="endpoint-events">Event types</label>
        <input id="endpoint-events" required value={types} onInput={(e) => setTypes(e.currentTarget.value)} />
        <button type="submit">Add endpoint</button>
      </form>
    </>
  );
}
