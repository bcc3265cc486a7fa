// The agent's relay client against an in-process control plane over real sockets: it connects
// through an HTTP CONNECT proxy (a tiny one here), serves exec streams with real child processes,
// and reconnects (exponential backoff with jitter) when its connection drops.
import { spawn } from "node:child_process";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backoffDelay, RelayClient } from "../../src/agent/relay-client.js";
import { HostStreams, serveStream, type StreamTargets } from "../../src/agent/relay-streams.js";
import { tmpdir } from "node:os";
import { proxyFor } from "../../src/relay/proxy.js";
import { buildWorld, type World } from "../helpers/fixtures.js";
import { startHarness, type Harness } from "../helpers/harness.js";
import { waitFor } from "../helpers/processes.js";
import { execOverWs, rawOverWs, runningJob, wsStatus } from "../helpers/relay.js";
import { STORES } from "../helpers/stores.js";

/** A minimal HTTP CONNECT proxy: records each CONNECT target; drop() cuts every tunnel. */
function connectProxy(): { server: net.Server; targets: string[]; drop(): void } {
  const targets: string[] = [];
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    open.add(client);
    client.once("close", () => open.delete(client));
    client.once("data", (head: Buffer) => {
      const m = /^CONNECT ([^ ]+):(\d+) HTTP\/1\.1\r\n/.exec(head.toString());
      if (!m) return void client.end("HTTP/1.1 405 Method Not Allowed\r\n\r\n");
      targets.push(`${m[1]}:${m[2]}`);
      const up = net.connect(Number(m[2]), m[1], () => {
        client.write("HTTP/1.1 200 Connection established\r\n\r\n");
        client.pipe(up).pipe(client);
      });
      open.add(up);
      up.once("close", () => open.delete(up));
      up.on("error", () => client.destroy());
      client.on("error", () => up.destroy());
    });
  });
  return { server, targets, drop: () => open.forEach((s) => s.destroy()) };
}

/** Exec streams as host processes (the podman targets do the same through `podman exec`); TCP through the real forwarder. */
const forwarder = new HostStreams({
  workDirOf: () => tmpdir(),
  env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
});
const hostTargets: StreamTargets = {
  open: (lease, target) =>
    new Promise((resolve, reject) => {
      if (target.kind === "tcp") return resolve(forwarder.open(lease, target));
      const c = spawn(target.argv[0]!, target.argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
      c.once("spawn", () => resolve(c));
      c.once("error", reject);
    }),
};

describe("agent relay client (in-process control plane, SQLite)", () => {
  let h: Harness;
  let w: World;
  let base: string;
  let job: { jobId: string; leaseId: string; nodeKey: string };
  let proxy: ReturnType<typeof connectProxy>;
  let client: RelayClient;

  beforeAll(async () => {
    h = await startHarness(STORES[0]!);
    w = await buildWorld(h.app, h.adminKey);
    await h.app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    job = await runningJob(h, w);
    proxy = connectProxy();
    await new Promise<void>((r) => proxy.server.listen(0, "127.0.0.1", r));
    const proxyUrl = `http://127.0.0.1:${(proxy.server.address() as AddressInfo).port}`;
    client = new RelayClient({
      server: base,
      key: () => job.nodeKey,
      env: { HTTP_PROXY: proxyUrl },
      baseDelayMs: 50,
      maxDelayMs: 400,
      onStream: (s) => serveStream(s, hostTargets, (l, j) => l === job.leaseId && j === job.jobId),
    });
    client.start();
    await waitFor(async () => client.connected, "the relay to connect");
  });
  afterAll(async () => {
    await client?.stop();
    proxy?.drop();
    proxy?.server.close();
    await h?.close();
  });

  it("connects through the CONNECT proxy and serves exec with a real process", async () => {
    expect(proxy.targets).toEqual([new URL(base).host]);
    const r = await execOverWs(
      `${base}/v1/jobs/${job.jobId}/exec?argv=sh&argv=-c&argv=tr a-z A-Z; exit 5`,
      w.tenantKey,
      "abc",
    );
    expect(r).toEqual({ stdout: "ABC", stderr: "", exitCode: 5 });
  });

  it("reconnects after the connection drops, and serves again", async () => {
    proxy.drop();
    await waitFor(async () => client.connections >= 2 && client.connected, "the relay to reconnect", 10_000);
    expect(proxy.targets.length).toBeGreaterThanOrEqual(2);
    const r = await execOverWs(`${base}/v1/jobs/${job.jobId}/exec?argv=cat`, w.tenantKey, "again");
    expect(r).toEqual({ stdout: "again", stderr: "", exitCode: 0 });
  });

  it("carries megabytes both ways through the TCP forwarder child", async () => {
    const echo = net.createServer((c) => c.pipe(c));
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    const port = (echo.address() as AddressInfo).port;
    const big = Buffer.alloc(8 * 1024 * 1024, 9);
    const back = await rawOverWs(`${base}/v1/jobs/${job.jobId}/ports/${port}/tcp`, w.tenantKey, big);
    echo.close();
    expect(back.equals(big)).toBe(true);
  });

  it("carries a process flooding stdout and stderr at once (one credit window, two writers)", async () => {
    const mb = 4 * 1024 * 1024;
    const r = await execOverWs(
      `${base}/v1/jobs/${job.jobId}/exec?argv=sh&argv=-c&argv=${encodeURIComponent(
        `head -c ${mb} /dev/zero >&2 & head -c ${mb} /dev/zero; wait`,
      )}`,
      w.tenantKey,
      "",
    );
    expect([r.stdout.length, r.stderr.length, r.exitCode]).toEqual([mb, mb, 0]);
  });

  it("answers 409 with the node's reason when it cannot open a stream", async () => {
    const other = await waitFor(
      async () => wsStatus(`${base}/v1/jobs/${job.jobId}/ports/1/tcp`, w.tenantKey),
      "a status",
    );
    expect(other).toBe(409);
  });
});

describe("relay backoff and proxy settings", () => {
  it("doubles the retry ceiling up to the cap, with full jitter", () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 500, 30_000, () => 0.999))).toEqual([
      499, 999, 1998, 3996, 29970,
    ]);
    expect(backoffDelay(5, 500, 30_000, () => 0)).toBe(0);
  });

  it("picks HTTPS_PROXY for wss, HTTP_PROXY for ws, and honours NO_PROXY", () => {
    const env = {
      HTTPS_PROXY: "http://p:3128",
      HTTP_PROXY: "http://q:8080",
      NO_PROXY: "internal.example,.corp",
    };
    expect(proxyFor("wss://cp.example/v1", env)?.host).toBe("p:3128");
    expect(proxyFor("ws://cp.example/v1", env)?.host).toBe("q:8080");
    expect(proxyFor("wss://internal.example/v1", env)).toBeUndefined();
    expect(proxyFor("wss://a.corp/v1", env)).toBeUndefined();
    expect(proxyFor("wss://cp.example/v1", {})).toBeUndefined();
  });
});
