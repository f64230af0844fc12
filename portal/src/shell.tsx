// The signed-in portal: navigation (only to pages the role may use) and the pages, each loaded on demand.
import lazy from "preact-iso/lazy";
import { Route, Router, useLocation } from "preact-iso/router";
import { can, type Profile } from "./access";

const BASE = import.meta.env.BASE_URL.replace(/\/$/, ""); // "/portal"

const Overview = lazy(() => import("./pages/overview"));
const Buy = lazy(() => import("./pages/buy"));
const PurchaseStatus = lazy(() => import("./pages/purchase"));
const Usage = lazy(() => import("./pages/usage"));
const Projects = lazy(() => import("./pages/projects"));
const Keys = lazy(() => import("./pages/keys"));
const Approvals = lazy(() => import("./pages/approvals"));
const Events = lazy(() => import("./pages/events"));

interface Page {
  path: string;
  name: string;
  shown: (profile: Profile) => boolean;
}

const PAGES: Page[] = [
  { path: "/", name: "Overview", shown: () => true },
  { path: "/buy", name: "Buy tokens", shown: (p) => can(p, "purchases:create", "purchases:read") },
  { path: "/usage", name: "Usage", shown: (p) => can(p, "usage:read") },
  { path: "/projects", name: "Projects", shown: () => true },
  { path: "/keys", name: "Keys", shown: (p) => can(p, "api_keys:read", "license_keys:read") },
  { path: "/approvals", name: "Approvals", shown: () => true },
  { path: "/events", name: "Events", shown: (p) => can(p, "events:read", "webhooks:manage") },
];

function Nav({ profile }: { profile: Profile }) {
  const { path } = useLocation();
  return (
    <nav aria-label="Portal">
      <ul>
        {PAGES.filter((page) => page.shown(profile)).map((page) => {
          const href = `${BASE}${page.path}`;
          const current = path === href || (page.path === "/" && path === `${BASE}`);
          return (
            <li key={page.path}>
              <a href={href} aria-current={current ? "page" : undefined}>
                {page.name}
              </a>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}

export default function Shell({ profile, onSignOut }: { profile: Profile; onSignOut: () => void }) {
  return (
    <div class="shell">
      <header>
        <strong>{profile.tenant.name}</strong>
        <span class="who">
          {profile.caller.role} · {profile.caller.key_id}
        </span>
        <button type="button" class="link" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <Nav profile={profile} />
      <main>
        <Router>
          <Route path={`${BASE}/`} component={Overview} profile={profile} />
          <Route path={`${BASE}`} component={Overview} profile={profile} />
          <Route path={`${BASE}/buy`} component={Buy} profile={profile} />
          <Route path={`${BASE}/purchases/:id`} component={PurchaseStatus} profile={profile} />
          <Route path={`${BASE}/usage`} component={Usage} profile={profile} />
          <Route path={`${BASE}/projects`} component={Projects} profile={profile} />
          <Route path={`${BASE}/keys`} component={Keys} profile={profile} />
          <Route path={`${BASE}/approvals`} component={Approvals} profile={profile} />
          <Route path={`${BASE}/events`} component={Events} profile={profile} />
          <Route default component={NotFound} />
        </Router>
      </main>
    </div>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>
        <a href={`${BASE}/`}>Back to the overview</a>
      </p>
    </section>
  );
}
