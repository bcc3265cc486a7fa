import { getKey } from "./session.js";

/** One field problem from a problem+json `errors[]`. */
export interface FieldError {
  path: string;
  message: string;
}

/** A failed API call, with what the server said (RFC 9457 problem details). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly errors: FieldError[] = [],
    readonly type = "",
  ) {
    super(detail);
  }

  /** The server has no such route (an older server, or a part not installed yet). */
  get notAvailable(): boolean {
    return this.status === 404 && this.type.endsWith("/no-route");
  }
}

/** Calls the API with the signed-in key; throws ApiError with the server's words on failure. */
export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  key: string | null = getKey(),
): Promise<T> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new ApiError(
      0,
      `cannot reach the Zumbido server (${(err as Error).message}); check that it is running and reload`,
    );
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const p = (json ?? {}) as { detail?: string; errors?: FieldError[]; type?: string; title?: string };
    throw new ApiError(
      res.status,
      p.detail ?? p.title ?? `the server answered ${res.status}`,
      p.errors ?? [],
      p.type ?? "",
    );
  }
  return json as T;
}

/** GET with the signed-in key. */
export const get = <T>(path: string): Promise<T> => api<T>("GET", path);

/** Downloads an API resource as a file (the key goes in a header, so a plain link cannot do it). */
export async function download(path: string, filename: string): Promise<void> {
  const key = getKey();
  const res = await fetch(path, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  if (!res.ok) {
    const p = (await res.json().catch(() => ({}))) as {
      detail?: string;
      errors?: FieldError[];
      type?: string;
    };
    throw new ApiError(
      res.status,
      p.detail ?? `the server answered ${res.status}`,
      p.errors ?? [],
      p.type ?? "",
    );
  }
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
