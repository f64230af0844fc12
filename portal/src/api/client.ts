// The typed client: openapi-fetch over the types openapi-typescript generates from the API's contract
// (shared/tollgate/edge/contract/openapi.json, `npm run generate`). Code calls routes by path
// (client.GET("/v1/balance")) and takes its types from `paths`, never from component-schema names, so a
// renamed schema in the document changes nothing here.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";
import { forgetKey, storedKey } from "../session";

export const SIGNED_OUT = "tollgate:signed-out";

const withKey: Middleware = {
  onRequest({ request }) {
    const key = storedKey();
    if (key) request.headers.set("Authorization", `Bearer ${key}`);
    return request;
  },
  onResponse({ response }) {
    // A key revoked (or the tenant's keys rotated) while the portal is open: back to the sign-in form.
    if (response.status === 401) {
      forgetKey();
      window.dispatchEvent(new Event(SIGNED_OUT));
    }
    return response;
  },
};

// Same origin: the portal is served beside the API (the local gateway; CloudFront in front of both).
export const client = createClient<paths>({ baseUrl: window.location.origin });
client.use(withKey);

type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;

/** The JSON body a route answers with `status` (200 unless said), read from the contract's paths. */
export type Answer<
  P extends keyof paths,
  M extends keyof paths[P],
  S extends number = 200,
> = paths[P][M] extends { responses: infer R } ? (S extends keyof R ? Json<R[S]> : never) : never;

/** A route's JSON request body. */
export type Body<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  requestBody?: { content: { "application/json": infer B } };
}
  ? B
  : never;

/** The error envelope's message, or a plain one for answers without it. */
export function message(error: unknown, fallback = "the request failed"): string {
  if (error && typeof error === "object" && "error" in error) {
    const inner = (error as { error?: { message?: unknown; code?: unknown } }).error;
    if (inner && typeof inner.message === "string") return `${String(inner.code ?? "ERROR")}: ${inner.message}`;
  }
  return fallback;
}
