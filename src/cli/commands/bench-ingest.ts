/**
 * What `zumbido bench ingest` (bench-ingest-run.ts), `bench fleet` and the crash test share: a real
 * server child process, JSON over HTTP, a world built through the API (operator, tenant, site, node,
 * a running job) and honest usage records for its lease.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Store, parseStoreUrl } from "../../store/index.js";

export const BIN = resolve(dirname(fileURLToPath(import.meta.url)), "../../../bin/zumbido.js");

/** A server child process. */
export interface BenchServer {
  proc: ChildProcess;
  url: string;
  adminKey: string;
}

/** Starts `node <entry> serve --store URL --port 0 --ready-json` (entry: bin/zumbido.js unless given) and waits for its ready line. */
export async function startBenchServer(
  store: string,
  opts: { entry?: string[]; env?: Record<string, string>; adminKey?: string } = {},
): Promise<BenchServer> {
  const args = [
    ...(opts.entry ?? [BIN]),
    "serve",
    "--port",
    "0",
    "--store",
    store,
    "--ready-json",
    "--log-level",
    "warn",
  ];
  const proc = spawn(process.execPath, args, {
    env: {
      ...process.env,
      ZUMBIDO_SCHEDULE_INTERVAL_MS: "200",
      // The bench measures ingest throughput, not the rate limiter (one node key sends as fast as it can).
      ZUMBIDO_RATE_LIMITS: "off",
      ...(opts.adminKey ? { ZUMBIDO_ADMIN_KEY: opts.adminKey } : {}),
      ...opts.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const line = await new Promise<string>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`server did not start in 60 s: ${stderr}`)), 60_000);
    proc.once("exit", (c) => {
      clearTimeout(t);
      rej(new Error(`server exited (${c}): ${stderr}`));
    });
    createInterface({ input: proc.stdout! }).once("line", (l) => {
      clearTimeout(t);
      res(l);
    });
  });
  const r = JSON.parse(line) as { url: string; adminKey?: string };
  const adminKey = r.adminKey ?? opts.adminKey;
  if (!adminKey) throw new Error("the server printed no admin key and none was given");
  return { proc, url: r.url, adminKey };
}

/** Sends SIGKILL (or another signal) and waits for the process to be gone. */
export async function stopProc(proc: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  await new Promise<void>((res) => {
    // A process that has not exited 30 s after the signal is killed: a bench never hangs on a server.
    const kill = setTimeout(() => proc.kill("SIGKILL"), 30_000);
    proc.once("exit", () => {
      clearTimeout(kill);
      res();
    });
    proc.kill(signal);
  });
}

/** JSON over HTTP with a bearer key; throws with the problem's detail on a non-2xx answer. */
export async function api<T>(
  url: string,
  key: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A node holding a running lease, built through the API. */
export interface IngestWorld {
  nodeId: string;
  nodeKey: string;
  leaseId: string;
  jobId: string;
  tenantId: string;
  tenantKey: string;
  operatorId: string;
  startedAt: number;
  /** GPUs the lease holds (records claim at most this many GPU-ms per ms). */
  gpus: number;
}

const GPUS = Array.from({ length: 8 }, (_, i) => ({
  index: i,
  uuid: `GPU-bench-${i}`,
  model: "H100",
  name: "NVIDIA H100",
  memoryMb: 81_559,
  powerLimitW: 700,
  healthy: true,
}));
const gpusOf = (tag: string): typeof GPUS => GPUS.map((g) => ({ ...g, uuid: `GPU-bench${tag}-${g.index}` }));

/**
 * Admin creates operator and tenant; operator a site, price and enrolment token; a node enrols; the
 * tenant's job is placed and started. `tag` tells apart several worlds on one server (names, GPU ids).
 */
export async function buildIngestWorld(
  url: string,
  adminKey: string,
  gpus = 8,
  tag = "",
): Promise<IngestWorld> {
  const op = await api<{ key: string; operator: { id: string } }>(url, adminKey, "POST", "/v1/operators", {
    name: `Bench Hall${tag}`,
  });
  const t = await api<{ key: string; tenant: { id: string } }>(url, adminKey, "POST", "/v1/tenants", {
    name: `Bench Lab${tag}`,
    country: "ES",
    creditLimitMinor: 100_000_000,
  });
  const site = await api<{ id: string }>(url, op.key, "POST", "/v1/sites", {
    name: `Bench Site${tag}`,
    country: "ES",
    lat: 43.4,
    lon: -5.8,
    powerKw: 500,
    pue: 1.2,
    cooling: "air",
  });
  await api(url, op.key, "PUT", `/v1/sites/${site.id}/prices/H100`, {
    onDemandMinorPerGpuHour: 240,
    interruptibleMinorPerGpuHour: 120,
  });
  const tok = await api<{ token: string }>(url, op.key, "POST", `/v1/sites/${site.id}/enrolment-tokens`);
  const node = await api<{ key: string; nodeId: string }>(url, null, "POST", "/v1/agent/enrol", {
    token: tok.token,
    name: `bench-node${tag}`,
    gpus: gpusOf(tag),
    executor: "local",
  });
  const hb = () =>
    api<{ assignments: { leaseId: string; jobId: string }[] }>(url, node.key, "POST", "/v1/agent/heartbeat", {
      gpus: gpusOf(tag),
      health: { healthy: true, reasons: [] },
      workloads: [],
    });
  await hb();
  const job = await api<{ id: string }>(url, t.key, "POST", "/v1/jobs", {
    gpuModels: ["H100"],
    countries: ["ES"],
    command: ["train"],
    gpus,
  });
  const end = Date.now() + 30_000;
  for (;;) {
    const a = (await hb()).assignments.find((x) => x.jobId === job.id);
    if (a) {
      const startedAt = Date.now();
      await api(url, node.key, "POST", "/v1/agent/workloads", {
        workloads: [{ leaseId: a.leaseId, phase: "running", startedAt }],
      });
      return {
        nodeId: node.nodeId,
        nodeKey: node.key,
        leaseId: a.leaseId,
        jobId: job.id,
        tenantId: t.tenant.id,
        tenantKey: t.key,
        operatorId: op.operator.id,
        startedAt,
        gpus,
      };
    }
    if (Date.now() > end) throw new Error("the scheduler did not place the bench job within 30 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Moves the world's lease back in time by `ms` (its assignment and start, in the store), so that
 * the bench's records, which follow each other 10 ms apart from the start, all lie in the past:
 * the server refuses future-dated usage. Returns the world with its new start.
 */
export async function backdateLease(storeUrl: string, w: IngestWorld, ms: number): Promise<IngestWorld> {
  const store = await Store.open(parseStoreUrl(storeUrl));
  try {
    await store.db.kysely
      .updateTable("leases")
      .set((eb) => ({
        created_at: eb("created_at", "-", ms),
        started_at: eb("started_at", "-", ms),
      }))
      .where("id", "=", w.leaseId)
      .execute();
  } finally {
    await store.close();
  }
  return { ...w, startedAt: w.startedAt - ms };
}

/** The usage record with sequence number `seq` for the world's lease (deterministic, inside the billing window, honest: at most GPUs x 10 GPU-ms). */
export function benchRecord(
  w: IngestWorld,
  seq: number,
): {
  nodeId: string;
  seq: number;
  leaseId: string;
  fromMs: number;
  toMs: number;
  gpuMs: number;
  energyMilliWh: number;
  energySource: "modelled";
} {
  const fromMs = w.startedAt + seq * 10;
  return {
    nodeId: w.nodeId,
    seq,
    leaseId: w.leaseId,
    fromMs,
    toMs: fromMs + 10,
    gpuMs: w.gpus * 10 - (seq % (w.gpus + 3)),
    energyMilliWh: 2 + (seq % 3),
    energySource: "modelled",
  };
}

/** User + system CPU seconds of a process so far (Linux /proc/PID/stat), or null where unavailable. */
export function procCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 of stat (utime, stime) in clock ticks; 100 ticks per second on Linux.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}
