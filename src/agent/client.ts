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

/** A small JSON client for the control plane (used by the agent and the CLI). */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private token: string | null,
    private readonly timeoutMs = 10_000,
  ) {}

  setToken(token: string): void {
    this.token = token;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { text, res } = await this.send(
      method,
      path,
      body !== undefined ? JSON.stringify(body) : undefined,
      "application/json",
    );
    return this.parse<T>(res, text);
  }

  /** Sends a raw body (e.g. CSV) and returns the parsed JSON answer. */
  async requestRaw<T>(method: string, path: string, body: string, contentType: string): Promise<T> {
    const { text, res } = await this.send(method, path, body, contentType);
    return this.parse<T>(res, text);
  }

  /** GETs a text document (CSV, HTML). */
  async getText(path: string): Promise<string> {
    const { text, res } = await this.send("GET", path, undefined, "application/json");
    if (!res.ok) this.parse(res, text);
    return text;
  }

  private async send(
    method: string,
    path: string,
    body: string | undefined,
    contentType: string,
  ): Promise<{ res: Response; text: string }> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), {
        method,
        headers: {
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(body !== undefined ? { "content-type": contentType } : {}),
        },
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new Error(
        `cannot reach the Zumbido server at ${this.baseUrl} (${cause}); is it running? Set --server or ZUMBIDO_URL`,
      );
    }
    return { res, text: await res.text() };
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
