// Browser access to an instance's HTTP port. A browser cannot send the API key on a plain link, so
// the console (which holds the key) asks for a port session: a short-lived token signed with a
// server secret, set as an HttpOnly cookie scoped to that one port's path. No key goes in a URL.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { notFound } from "../domain/index.js";
import type { Ctx, Principal } from "./context.js";

/** The cookie that carries a port session (one per port: the cookie's path is the port's). */
export const PORT_COOKIE = "zumbido_port";
/** How long a port session lasts, seconds (the console renews it while the page is open). */
export const PORT_SESSION_S = 3600;
const SECRET_SETTING = "port_session_secret";

/** The URL path of a job's port on the control plane (with its trailing slash). */
export const portPath = (jobId: string, port: number): string =>
  `/v1/jobs/${encodeURIComponent(jobId)}/ports/${port}/`;

interface Claims {
  j: string;
  p: number;
  t: string;
  k: string;
  e: number;
}

/** Issues and checks port sessions. */
export class PortSessions {
  private secret?: Buffer;
  constructor(private readonly ctx: Ctx) {}

  private async key(): Promise<Buffer> {
    if (this.secret) return this.secret;
    const accounts = this.ctx.store.accounts;
    let hex = await accounts.getSetting(SECRET_SETTING);
    if (!hex) {
      await accounts.setSetting(SECRET_SETTING, randomBytes(32).toString("hex"));
      hex = (await accounts.getSetting(SECRET_SETTING))!;
    }
    return (this.secret = Buffer.from(hex, "hex"));
  }

  /** The job if `p` is its tenant and `port` one it declared; 404 for anyone else (admins and operators too). */
  async instancePort(p: Principal, jobId: string, port: number): Promise<void> {
    const job = p.role === "tenant" && p.ownerId ? await this.ctx.store.jobs.getJob(jobId) : undefined;
    if (!job || job.tenantId !== p.ownerId) throw notFound("job", jobId);
    if (!job.spec.instance?.ports.includes(port))
      throw notFound(
        "declared port",
        `${port} of job ${jobId} (declare it at submit: --instance --port ${port})`,
      );
  }

  /** A session for the job's port, for its tenant only. */
  async issue(p: Principal, jobId: string, port: number): Promise<{ token: string; expiresAt: number }> {
    await this.instancePort(p, jobId, port);
    const expiresAt = this.ctx.clock.now() + PORT_SESSION_S * 1000;
    const claims: Claims = { j: jobId, p: port, t: p.ownerId!, k: p.keyId, e: expiresAt };
    const body = Buffer.from(JSON.stringify(claims)).toString("base64url");
    return { token: `${body}.${await this.sign(body)}`, expiresAt };
  }

  /** The tenant of a valid, unexpired session for exactly this job and port, whose key still works; else undefined. */
  async verify(token: string, jobId: string, port: number): Promise<Principal | undefined> {
    const [body, sig] = token.split(".");
    if (!body || !sig || sig.length > 100) return undefined;
    const want = Buffer.from(await this.sign(body));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
    let c: Claims;
    try {
      c = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as Claims;
    } catch {
      return undefined;
    }
    if (c.j !== jobId || c.p !== port || !(c.e > this.ctx.clock.now())) return undefined;
    // A revoked or expired key ends its sessions too.
    const key = (await this.ctx.store.accounts.listKeys(c.t)).find((k) => k.id === c.k);
    if (!key || key.role !== "tenant" || key.revokedAt !== null) return undefined;
    if (key.expiresAt !== null && key.expiresAt <= this.ctx.clock.now()) return undefined;
    return { role: "tenant", ownerId: c.t, keyId: c.k };
  }

  private async sign(body: string): Promise<string> {
    return createHmac("sha256", await this.key())
      .update(`port-session:${body}`)
      .digest("base64url");
  }
}
