// Small shared pieces: loading a route's answer, showing its error, formatting numbers and dates.
import { useCallback, useEffect, useState } from "preact/hooks";
import { message } from "../api/client";

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  reload: () => void;
}

/** Runs `load` (a typed client call) on mount and on `reload()`; `deps` re-run it. */
export function useLoad<T>(
  load: () => Promise<{ data?: T; error?: unknown }>,
  deps: unknown[] = [],
): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [round, setRound] = useState(0);
  useEffect(() => {
    let live = true;
    void load().then((answer) => {
      if (!live) return;
      if (answer.data !== undefined) {
        setData(answer.data);
        setError(null);
      } else if (answer.error !== undefined) {
        setError(message(answer.error));
      }
    });
    return () => {
      live = false;
    };
  }, [round, ...deps]);
  const reload = useCallback(() => setRound((r) => r + 1), []);
  return { data, error, reload };
}

export function Problem({ text }: { text: string | null }) {
  return text ? (
    <p role="alert" class="error">
      {text}
    </p>
  ) : null;
}

export const number = (value: number | null | undefined): string =>
  value === null || value === undefined ? "—" : value.toLocaleString("en-US");

export const when = (value: string | null | undefined): string =>
  value ? value.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", " UTC").replace(/Z$/, " UTC") : "—";

export function money(amount: number, currency: string): string {
  return `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;
}

/** A fresh Idempotency-Key for one logical request (reused by its retries). */
export const newIdempotencyKey = (): string => crypto.randomUUID();
