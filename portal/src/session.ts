// The signed-in API key lives in this tab's sessionStorage only (SPEC: never localStorage, never a cookie),
// so it survives the round trip to Stripe Checkout within the tab and is gone when the tab closes.
const KEY = "tollgate.portal.api_key";

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function keepKey(key: string): void {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}
