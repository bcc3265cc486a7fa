import { useCallback, useEffect, useState } from "react";
import { ApiError, get } from "./api.js";

/** What a page gets from useApi: the latest data, the last error, and a way to reload. */
export interface ApiState<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/** Fetches a GET path (null: nothing yet), optionally polling every refreshMs while mounted. */
export function useApi<T>(path: string | null, refreshMs?: number): ApiState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    setData(undefined);
    setError(undefined);
    setLoading(path !== null);
  }, [path]);

  useEffect(() => {
    if (path === null) return;
    // One flag per path (per effect run), never shared across paths: a request still in flight for
    // the previous path must not stop the new path's first request (its answer is dropped, `live`).
    let live = true;
    let inFlight = false;
    const run = async (): Promise<void> => {
      if (inFlight) return;
      inFlight = true;
      try {
        const d = await get<T>(path);
        if (live) {
          setData(d);
          setError(undefined);
        }
      } catch (err) {
        if (live) setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
      } finally {
        inFlight = false;
        if (live) setLoading(false);
      }
    };
    void run();
    if (!refreshMs) return () => void (live = false);
    const t = setInterval(() => void run(), refreshMs);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [path, refreshMs, tick]);

  return { data, error, loading, reload };
}
