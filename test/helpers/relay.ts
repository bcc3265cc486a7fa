// Relay calls for tests: the status of an upgrade, raw echo round trips, exec runs; and the relay hub
// fixture (a listening control plane with a running job and a scripted agent).
import type { AddressInfo } from "node:net";
import { PassThrough, Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { WebSocket } from "ws";
import { buildWorld, simGpus, type World } from "./fixtures.js";
import { call, startHarness, type Harness } from "./harness.js";
import { STORES } from "./stores.js";
import { connectWs, runExec, UpgradeRefused, wsUrl } from "../../src/relay/client.js";
import { Mux, type MuxStream } from "../../src/relay/mux.js";

/** 101 when the upgrade is accepted (the socket is closed again), else the HTTP status of the refusal. */
export async function wsStatus(url: string, key: string | null): Promise<number> {
  try {
    const ws = await connectWs(wsUrl(url, url), key);
    ws.terminate();
    return 101;
  } catch (err) {
    if (err instanceof UpgradeRefused) return err.status;
    throw err;
  }
}

/** Sends bytes over a raw TCP stream and collects as many bytes back (an echo), then closes. */
export async function rawOverWs(url: string, key: string, data: Buffer): Promise<Buffer> {
  const ws = await connectWs(wsUrl(url, url), key);
  const got: Buffer[] = [];
  let n = 0;
  return new Promise((resolve, reject) => {
    ws.on("message", (m: Buffer) => {
      got.push(m);
      n += m.length;
      if (n >= data.length) {
        ws.close(1000);
        resolve(Buffer.concat(got));
      }
    });
    ws.on("close", () => resolve(Buffer.concat(got)));
    ws.on("error", reject);
    for (let off = 0; off < data.length; off += 256 * 1024) ws.send(data.subarray(off, off + 256 * 1024));
  });
}

/** Runs the exec protocol with a string on stdin; returns stdout, stderr and the exit code. */
export async function execOverWs(
  url: string,
  key: string,
  stdin: string,
): Promise<{ stdout: string; stderr: string; exitCode: number | null }> {
  const ws = await connectWs(wsUrl(url, url), key);
  const out = new PassThrough();
  const err = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  out.on("data", (c: Buffer) => o.push(c));
  err.on("data", (c: Buffer) => e.push(c));
  const exitCode = await runExec(ws, Readable.from([Buffer.from(stdin)]), out, err);
  return { stdout: Buffer.concat(o).toString(), stderr: Buffer.concat(e).toString(), exitCode };
}

/** Enrols a node over the API, runs one job of the tenant on it (`job` adds to a 1-GPU H100 request), and returns the ids and the node's key. */
export async function runningJob(
  h: { app: FastifyInstance; loop: { tick(): Promise<unknown> }; clock: { now(): number } },
  w: { operatorKey: string; tenantKey: string; sites: { es: string } },
  job: Record<string, unknown> = { command: ["sleep", "infinity"] },
): Promise<{ jobId: string; leaseId: string; nodeKey: string }> {
  const tok = await call(h.app, w.operatorKey, "POST", `/v1/sites/${w.sites.es}/enrolment-tokens`);
  const e = await call(h.app, null, "POST", "/v1/agent/enrol", {
    token: tok.json.token,
    name: "n1",
    gpus: simGpus("H100", 8),
  });
  const nodeKey = e.json.key as string;
  const beat = (workloads: unknown[] = []) =>
    call(h.app, nodeKey, "POST", "/v1/agent/heartbeat", {
      gpus: simGpus("H100", 8),
      health: { healthy: true, reasons: [] },
      workloads,
    });
  await beat();
  const j = await call(h.app, w.tenantKey, "POST", "/v1/jobs", { gpus: 1, gpuModels: ["H100"], ...job });
  if (j.status !== 201) throw new Error(`submit: expected 201, got ${j.status}: ${JSON.stringify(j.json)}`);
  await h.loop.tick();
  const a = (await beat()).json.assignments[0];
  await beat([{ leaseId: a.leaseId, phase: "running", startedAt: h.clock.now() }]);
  return { jobId: j.json.id as string, leaseId: a.leaseId as string, nodeKey };
}

/** A scripted agent's relay connection (the real Mux on the node side): each stream the hub opens goes to `serve`. */
export async function connectScriptedAgent(
  base: string,
  nodeKey: string,
  serve: (s: MuxStream) => void,
): Promise<WebSocket> {
  const ws = new WebSocket(`${base.replace("http", "ws")}/v1/agent/relay`, {
    headers: { authorization: `Bearer ${nodeKey}` },
  });
  new Mux(ws, { onOpen: serve });
  await new Promise<void>((res, rej) => {
    ws.once("open", () => res());
    ws.once("error", rej);
  });
  return ws;
}

/** The relay hub over real HTTP (SQLite store, the world of buildWorld), one running job, and a scripted agent connected. */
export interface RelayHubFixture {
  h: Harness;
  w: World;
  /** http://127.0.0.1:port of the listening control plane. */
  base: string;
  jobId: string;
  leaseId: string;
  nodeKey: string;
  agentWs: WebSocket;
}

/** Starts a relay hub with a scripted agent serving `serve`; `job` adds to the 1-GPU H100 request. */
export async function startRelayHub(
  serve: (s: MuxStream) => void,
  job?: Record<string, unknown>,
): Promise<RelayHubFixture> {
  const h = await startHarness(STORES[0]!);
  const w = await buildWorld(h.app, h.adminKey);
  await h.app.listen({ host: "127.0.0.1", port: 0 });
  const base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  const { jobId, leaseId, nodeKey } = await runningJob(h, w, job);
  const agentWs = await connectScriptedAgent(base, nodeKey, serve);
  return { h, w, base, jobId, leaseId, nodeKey, agentWs };
}
