// Keys: the tenant's API keys (people and scripts using the portal API) and license keys (the vendor
// software's). A new or rotated secret appears once, in `secret`; it is kept nowhere and gone on the next
// action or page.
import { useState } from "preact/hooks";
import { client, message, type Answer, type Body } from "../api/client";
import { can, type Profile } from "../access";
import { Problem, useLoad, when } from "../lib/ui";

type Role = Answer<"/v1/api-keys", "get">["api_keys"][number]["role"];
const ROLES: Role[] = ["owner", "admin", "billing", "approver", "member", "auditor"];

type Open = "none" | "license" | "api";

export default function Keys({ profile }: { profile: Profile }) {
  const [open, setOpen] = useState<Open>("none");
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const licenseKeys = useLoad<Answer<"/v1/keys", "get">>(() =>
    can(profile, "license_keys:read") ? client.GET("/v1/keys") : Promise.resolve({}),
  );
  const apiKeys = useLoad<Answer<"/v1/api-keys", "get">>(() =>
    can(profile, "api_keys:read") ? client.GET("/v1/api-keys") : Promise.resolve({}),
  );
  const manageLicense = can(profile, "license_keys:manage");
  const manageApi = can(profile, "api_keys:manage");

  function shown(label: string, value: string) {
    setSecret({ label, value });
    setOpen("none");
  }

  async function rotate(id: string) {
    setSecret(null);
    const { data, error: failed } = await client.POST("/v1/keys/{key_id}/rotate", { params: { path: { key_id: id } } });
    if (data) shown(`New secret of ${data.key.name}`, data.secret);
    else setError(message(failed));
    licenseKeys.reload();
  }

  async function revokeLicense(id: string) {
    setSecret(null);
    const { error: failed } = await client.DELETE("/v1/keys/{key_id}", { params: { path: { key_id: id } } });
    setError(failed ? message(failed) : null);
    licenseKeys.reload();
  }

  async function revokeApi(id: string) {
    setSecret(null);
    const { error: failed } = await client.DELETE("/v1/api-keys/{key_id}", { params: { path: { key_id: id } } });
    setError(failed ? message(failed) : null);
    apiKeys.reload();
  }

  return (
    <section>
      <h1>Keys</h1>
      <Problem text={error} />
      {secret && (
        <div class="secret" role="status">
          <p>
            {secret.label}. Copy it now: it is shown once and cannot be read again.
          </p>
          <code data-testid="secret">{secret.value}</code>
          <p>
            <button type="button" onClick={() => setSecret(null)}>
              I have saved it
            </button>
          </p>
        </div>
      )}

      {can(profile, "license_keys:read") && (
        <>
          <h2>License keys</h2>
          {manageLicense && open !== "license" && (
            <button
              type="button"
              onClick={() => {
                setSecret(null);
                setOpen("license");
              }}
            >
              New license key
            </button>
          )}
          {manageLicense && open === "license" && (
            <NewLicenseKey
              onCreated={(name, value) => {
                shown(`Secret of ${name}`, value);
                licenseKeys.reload();
              }}
              onCancel={() => setOpen("none")}
            />
          )}
          <Problem text={licenseKeys.error} />
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Regions</th>
                <th scope="col">Features</th>
                <th scope="col">Expires</th>
                <th scope="col">State</th>
                {manageLicense && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {(licenseKeys.data?.keys ?? []).map((key) => (
                <tr data-testid="license-key-row" key={key.id}>
                  <td>{key.name}</td>
                  <td>
                    <code>{key.display}</code>
                  </td>
                  <td>{key.regions.join(", ")}</td>
                  <td>{key.features?.join(", ") ?? "all"}</td>
                  <td>{when(key.expires_at)}</td>
                  <td>{key.revoked_at ? `revoked ${when(key.revoked_at)}` : "active"}</td>
                  {manageLicense && (
                    <td>
                      {!key.revoked_at && (
                        <>
                          <button type="button" onClick={() => rotate(key.id)} aria-label={`Rotate ${key.name}`}>
                            Rotate
                          </button>{" "}
                          <button type="button" onClick={() => revokeLicense(key.id)} aria-label={`Revoke ${key.name}`}>
                            Revoke
                          </button>
                        </>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}

      {can(profile, "api_keys:read") && (
        <>
          <h2>API keys</h2>
          {manageApi && open !== "api" && (
            <button
              type="button"
              onClick={() => {
                setSecret(null);
                setOpen("api");
              }}
            >
              New API key
            </button>
          )}
          {manageApi && open === "api" && (
            <NewApiKey
              mayCreateOwner={profile.caller.role === "owner"}
              onCreated={(name, value) => {
                shown(`Secret of ${name}`, value);
                apiKeys.reload();
              }}
              onCancel={() => setOpen("none")}
            />
          )}
          <Problem text={apiKeys.error} />
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Role</th>
                <th scope="col">Created</th>
                <th scope="col">State</th>
                {manageApi && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {(apiKeys.data?.api_keys ?? []).map((key) => (
                <tr key={key.id}>
                  <td>{key.name}</td>
                  <td>
                    <code>{key.display}</code>
                  </td>
                  <td>{key.role}</td>
                  <td>{when(key.created_at)}</td>
                  <td>{key.revoked_at ? `revoked ${when(key.revoked_at)}` : "active"}</td>
                  {manageApi && (
                    <td>
                      {!key.revoked_at && key.id !== profile.caller.key_id && (
                        <button type="button" onClick={() => revokeApi(key.id)} aria-label={`Revoke ${key.name}`}>
                          Revoke
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function NewLicenseKey({ onCreated, onCancel }: { onCreated: (name: string, secret: string) => void; onCancel: () => void }) {
  const [name, setName] = useState("");
  const [regions, setRegions] = useState("");
  const [error, setError] = useState<string | null>(null);
  async function submit(event: Event) {
    event.preventDefault();
    const list = regions
      .split(/[\s,]+/)
      .map((r) => r.trim())
      .filter(Boolean) as Body<"/v1/keys", "post">["regions"]; // the server checks each name
    const { data, error: failed } = await client.POST("/v1/keys", { body: { name: name.trim(), regions: list } });
    if (data) onCreated(data.key.name, data.secret);
    else setError(message(failed));
  }
  return (
    <form class="stack" onSubmit={submit}>
      <Problem text={error} />
      <label for="license-name">Name</label>
      <input id="license-name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <label for="license-regions">Regions</label>
      <input
        id="license-regions"
        required
        placeholder="eu-west-1, us-east-1"
        aria-describedby="license-regions-note"
        value={regions}
        onInput={(e) => setRegions(e.currentTarget.value)}
      />
      <p id="license-regions-note" class="note">
        AWS regions, separated by commas.
      </p>
      <div class="row">
        <button type="submit">Create license key</button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function NewApiKey({
  mayCreateOwner,
  onCreated,
  onCancel,
}: {
  mayCreateOwner: boolean;
  onCreated: (name: string, secret: string) => void;
  onCancel: () => void;
}) {
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [error, setError] = useState<string | null>(null);
  async function submit(event: Event) {
    event.preventDefault();
    const { data, error: failed } = await client.POST("/v1/api-keys", { body: { name: name.trim(), role } });
    if (data) onCreated(data.api_key.name, data.api_key.secret);
    else setError(message(failed));
  }
  return (
    <form class="stack" onSubmit={submit}>
      <Problem text={error} />
      <label for="api-key-name">Name</label>
      <input id="api-key-name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <label for="api-key-role">Role</label>
      <select id="api-key-role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
        {ROLES.filter((r) => mayCreateOwner || r !== "owner").map((r) => (
          <option value={r} key={r}>
            {r}
          </option>
        ))}
      </select>
      <div class="row">
        <button type="submit">Create API key</button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
