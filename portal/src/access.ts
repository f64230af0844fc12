// What the signed-in key may do: GET /v1/tenant answers the caller's role and its permissions, so the
// portal shows only the controls that role may use. The server still decides every request.
import type { Answer } from "./api/client";

export type Profile = Answer<"/v1/tenant", "get">;

export function can(profile: Profile, ...permissions: string[]): boolean {
  return permissions.some((permission) => profile.caller.permissions.includes(permission));
}
