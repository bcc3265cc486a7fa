import { Agent as Dispatcher, fetch as undiciFetch } from "undici";

/** An HTTP error from the control plane, with its problem detail. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}: ${detail}`);
    this.name = "ApiError";
  }
}

/** How the client checks the server's TLS certificate. */
export interface ClientTls {
  /** PEM certificate(s) of a private CA to trust (instead of the system's CAs). */
  ca?: string;
}

// Certificate verification failures as Node's TLS layer names them.
const TLS_TRUST = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS/;

/** A small JSON client for the control plane (used by the agent and the CLI). */
export class ApiClient {
  private readonly dispatcher: Dispatcher | undefined;

  constructor(
    readonly baseUrl: string,
    private token: string | null,
    private readonly timeoutMs = 10_000,
    tls: ClientTls = {},
  ) {
    this.dispatcher = tls.ca ? new Dispatcher({ connect: { ca: tls.ca } }) : undefined;
  }

  /** Closes the connections kept for a private CA (no-op otherwise). */
  async close(): Promise<void> {
    await this.dispatcher?.close();
  }

  setToken(token: string): void {
    this.token = token;
  }

  async request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const { text, res } = await this.send(
      method,
      path,
      body !== undefined ? JSON.stringify(body) : undefined,
      "application/json",
      signal,
    );
    return this.parse<T>(res, text);
  }

  /** Sends a raw body (e.g. CSV) and returns the parsed JSON answer. */
  async requestRaw<T>(method: string, path: string, body: string, contentType: string): Promise<T> {
    const { text, res } = await this.send(method, path, body, contentType);
    return this.parse<T>(res, text);
  }

  /** Sends bytes (or nothing) and returns the raw answer: status, headers and body bytes (volume chunks). */
  async bytes(
    method: "GET" | "PUT",
    path: string,
    body?: Uint8Array,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: Headers; data: Buffer }> {
    const init = {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(body !== undefined ? { "content-type": "application/octet-stream" } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: new Uint8Array(body) } : {}),
      signal: AbortSignal.timeout(Math.max(this.timeoutMs, 60_000)),
    };
    const url = new URL(path, this.baseUrl);
    const res = this.dispatcher
      ? ((await undiciFetch(url, { ...init, dispatcher: this.dispatcher })) as unknown as Response)
      : await fetch(url, init);
    return { status: res.status, headers: res.headers, data: Buffer.from(await res.arrayBuffer()) };
  }

  /** GETs a text document (CSV, HTML). */
  async getText(path: string): Promise<string> {
    const { text, res } = await this.send("GET", path, undefined, "application/json");
    if (!res.ok) this.parse(res, text);
    return text;
  }

  /**
   * Sends bytes (or nothing) and returns the answer's status, headers and bytes (a checkpoint chunk);
   * an error status throws ApiError with the problem's detail.
   */
  async requestBytes(
    method: string,
    path: string,
    o: { body?: Uint8Array; contentType?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<{ status: number; headers: Headers; bytes: Buffer }> {
    const { res, raw } = await this.exchange(
      method,
      path,
      o.body,
      o.contentType ?? "application/octet-stream",
      o,
    );
    const bytes = Buffer.from(raw);
    if (!res.ok) this.parse(res, bytes.toString("utf8"));
    return { status: res.status, headers: res.headers, bytes };
  }

  private async send(
    method: string,
    path: string,
    body: string | undefined,
    contentType: string,
    signal?: AbortSignal,
  ): Promise<{ res: Response; text: string }> {
    const { res, raw } = await this.exchange(method, path, body, contentType, signal ? { signal } : {});
    return { res, text: Buffer.from(raw).toString("utf8") };
  }

  private async exchange(
    method: string,
    path: string,
    body: string | Uint8Array | undefined,
    contentType: string,
    o: { headers?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal },
  ): Promise<{ res: Response; raw: ArrayBuffer }> {
    let res: Response;
    const init = {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(body !== undefined ? { "content-type": contentType } : {}),
        ...o.headers,
      },
      // Bytes go as they are (fetch takes a Uint8Array; its typing wants an ArrayBuffer-backed one).
      ...(body !== undefined ? { body: body as string } : {}),
      signal: o.signal
        ? AbortSignal.any([o.signal, AbortSignal.timeout(o.timeoutMs ?? this.timeoutMs)])
        : AbortSignal.timeout(o.timeoutMs ?? this.timeoutMs),
    };
    try {
      const url = new URL(path, this.baseUrl);
      res = this.dispatcher
        ? ((await undiciFetch(url, { ...init, dispatcher: this.dispatcher })) as unknown as Response)
        : await fetch(url, init);
    } catch (err) {
      const c = (err as { cause?: { code?: string; message?: string } }).cause;
      const cause = c?.code ?? (err as Error).name;
      if (TLS_TRUST.test(cause))
        throw new TlsTrustError(
          `the Zumbido server at ${this.baseUrl} presented a TLS certificate this client does not trust (${cause}: ${c?.message ?? ""}); ` +
            (this.dispatcher
              ? "it is not signed by the CA in --ca-file (ZUMBIDO_CA_FILE), or it does not name this host"
              : "if a private CA signed it, give that CA's certificate with --ca-file PATH (or ZUMBIDO_CA_FILE)"),
        );
      throw new Error(
        `cannot reach the Zumbido server at ${this.baseUrl} (${cause}); is it running? Set --server or ZUMBIDO_URL`,
      );
    }
    return { res, raw: await res.arrayBuffer() };
  }

  private parse<T>(res: Response, text: string): T {
    let json: unknown = undefined;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
    }
    if (!res.ok) {
      const detail =
        (json as { detail?: string } | undefined)?.detail ??
        (typeof json === "string" ? json : res.statusText);
      throw new ApiError(res.status, detail, json);
    }
    return json as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body ?? {});
  }
  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PUT", path, body);
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, body);
  }
  delete<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path);
  }
}

/** The server's TLS certificate failed verification (untrusted CA, wrong host name, expired). */
export class TlsTrustError extends Error {
  override name = "TlsTrustError";
}
