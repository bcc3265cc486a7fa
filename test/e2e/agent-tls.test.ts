// TLS between agent and server with a private CA made by openssl at test time: the server serves HTTPS
// (with HSTS); `zumbido agent --ca-file` enrols and heartbeats; without the CA file, or with another
// CA's, the agent refuses the certificate and exits with a message naming --ca-file.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent as Dispatcher, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient, TlsTrustError } from "../../src/agent/client.js";
import { parseServerConfig } from "../../src/config.js";
import { startServer, type ServerHandle } from "../../src/server.js";
import { makePki } from "../helpers/pki.js";
import { BIN, kill, waitFor } from "../helpers/processes.js";

/** Runs `zumbido agent` against the server; resolves with its exit code and output once it exits. */
function agentProc(url: string, stateDir: string, token: string, extra: string[]) {
  const proc = spawn(
    process.execPath,
    [
      BIN,
      "agent",
      "--server",
      url,
      "--token",
      token,
      "--simulate-gpus",
      "H100x2",
      "--state-dir",
      stateDir,
      "--heartbeat-ms",
      "200",
      "--name",
      "tls-node",
      "--executor",
      "local",
      "--unsafe-host-processes",
      ...extra,
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ZUMBIDO_CA_FILE: "" } },
  );
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((res) => proc.once("exit", (c) => res(c)));
  return { proc, exited, output: () => out };
}

describe("agent over TLS with a private CA", () => {
  let dir: string;
  let server: ServerHandle;
  let ca: string;
  let admin: ApiClient;
  let operatorKey: string;
  let siteId: string;

  const token = async (): Promise<string> =>
    (
      await new ApiClient(server.url, operatorKey, 10_000, { ca }).post<{ token: string }>(
        `/v1/sites/${siteId}/enrolment-tokens`,
      )
    ).token;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "zumbido-tls-"));
    makePki(dir);
    ca = readFileSync(join(dir, "ca.pem"), "utf8");
    server = await startServer(
      parseServerConfig(
        {},
        {
          port: "0",
          store: `sqlite:${join(dir, "z.db")}`,
          logLevel: "silent",
          tlsCert: join(dir, "server.pem"),
          tlsKey: join(dir, "server.key"),
        },
      ),
    );
    admin = new ApiClient(server.url, server.bootstrapAdminKey!, 10_000, { ca });
    const op = await admin.post<{ key: string }>("/v1/operators", { name: "TLS Hall" });
    operatorKey = op.key;
    const site = await new ApiClient(server.url, operatorKey, 10_000, { ca }).post<{ id: string }>(
      "/v1/sites",
      {
        name: "Oviedo",
        country: "ES",
        lat: 43,
        lon: -6,
        powerKw: 100,
        pue: 1.2,
        cooling: "air",
      },
    );
    siteId = site.id;
  }, 120_000);
  afterAll(async () => {
    await admin?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves HTTPS with HSTS, and a client without the CA refuses the certificate, naming --ca-file", async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const dispatcher = new Dispatcher({ connect: { ca } });
    const res = await undiciFetch(`${server.url}/healthz`, { dispatcher });
    expect(res.status).toBe(200);
    expect(res.headers.get("strict-transport-security")).toMatch(/max-age=\d+/);
    await dispatcher.close();
    const plain = new ApiClient(server.url, null);
    await expect(plain.get("/healthz")).rejects.toThrow(TlsTrustError);
    await expect(plain.get("/healthz")).rejects.toThrow(/does not trust .*--ca-file/);
  });

  it("enrols and heartbeats with --ca-file; exits with a clear message without it or with another CA", async () => {
    // The three refusals run side by side (each is a CLI start).
    const [t1, t2, t3] = [await token(), await token(), await token()];
    const none = agentProc(server.url, join(dir, "a-none"), t1, []);
    const wrong = agentProc(server.url, join(dir, "a-wrong"), t2, ["--ca-file", join(dir, "other-ca.pem")]);
    const missing = agentProc(server.url, join(dir, "a-missing"), t3, ["--ca-file", join(dir, "nope.pem")]);
    expect(await none.exited).not.toBe(0);
    expect(none.output()).toMatch(/does not trust/);
    expect(none.output()).toMatch(/--ca-file/);
    expect(await wrong.exited).not.toBe(0);
    expect(wrong.output()).toMatch(/does not trust .*not signed by the CA in --ca-file/);
    expect(await missing.exited).not.toBe(0);
    expect(missing.output()).toMatch(/cannot read the CA file .*nope\.pem/);

    const good = agentProc(server.url, join(dir, "a-good"), await token(), [
      "--ca-file",
      join(dir, "ca.pem"),
    ]);
    try {
      const node = await waitFor(async () => {
        const nodes = await admin.get<{ name: string; lastHeartbeatAt?: number | null }[]>("/v1/nodes");
        const n = nodes.find((x) => x.name === "tls-node");
        return n?.lastHeartbeatAt ? n : undefined;
      }, `the agent's first heartbeat over TLS (agent output: ${good.output()})`);
      const first = node.lastHeartbeatAt!;
      await waitFor(async () => {
        const nodes = await admin.get<{ name: string; lastHeartbeatAt?: number | null }[]>("/v1/nodes");
        return (nodes.find((x) => x.name === "tls-node")?.lastHeartbeatAt ?? 0) > first;
      }, "a later heartbeat");
      expect(good.output()).toMatch(/agent ready/);
    } finally {
      await kill(good.proc);
    }
  });
});
