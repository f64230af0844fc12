// The entry: what loads before sign-in is this, the sign-in form and the typed client. Every page, and the
// chart library, loads on demand after sign-in (lazy chunks), keeping the first load small.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import lazy, { ErrorBoundary } from "preact-iso/lazy";
import { LocationProvider } from "preact-iso/router";
import { SIGNED_OUT, client, message } from "./api/client";
import { forgetKey, keepKey, storedKey } from "./session";
import "./style.css";

import type { Profile } from "./access";

const Shell = lazy(() => import("./shell"));

function SignIn({ onSignedIn }: { onSignedIn: (profile: Profile) => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    keepKey(key.trim());
    const { data, error: failed } = await client.GET("/v1/tenant");
    setBusy(false);
    if (data) {
      onSignedIn(data);
    } else {
      forgetKey();
      setError(message(failed, "That key was not accepted."));
    }
  }

  return (
    <main class="signin">
      <h1>Tollgate portal</h1>
      <form onSubmit={submit}>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          required
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
      </form>
      <p class="note">The key stays in this tab only and is forgotten when the tab closes.</p>
    </main>
  );
}

function Portal() {
  const [profile, setProfile] = useState<Profile | null>(null);
  const [checking, setChecking] = useState(storedKey() !== null);

  useEffect(() => {
    const signedOut = () => setProfile(null);
    window.addEventListener(SIGNED_OUT, signedOut);
    return () => window.removeEventListener(SIGNED_OUT, signedOut);
  }, []);

  useEffect(() => {
    if (!checking) return;
    // A key kept in this tab (back from Checkout, a reload): sign in with it again, quietly.
    void client.GET("/v1/tenant").then(({ data }) => {
      if (data) setProfile(data);
      else forgetKey();
      setChecking(false);
    });
  }, []);

  if (checking) return <p class="loading">Loading…</p>;
  if (profile === null) return <SignIn onSignedIn={setProfile} />;
  return (
    <LocationProvider>
      <ErrorBoundary>
        <Shell
          profile={profile}
          onSignOut={() => {
            forgetKey();
            setProfile(null);
          }}
        />
      </ErrorBoundary>
    </LocationProvider>
  );
}

render(<Portal />, document.getElementById("app")!);
