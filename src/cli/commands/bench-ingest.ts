/**
 * `zumbido bench ingest`: usage ingestion through a real server process over real HTTP. Builds a
 * world through the API (operator, tenant, site, node, a running job), then posts usage records
 * for its lease in batches, and the same kind of records one per request (the reference), and
 * checks in the database that every acknowledged record is stored exactly once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import pg from "pg";
import { Pool } from "undici";
import { Store, parseStoreUrl } from "../../store/index.js";

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), "../../../bin/zumbido.js");

/** The figures `bench ingest --json` prints. */
export interface IngestBenchResult {
  store: "sqlite" | "postgres";
  records: number;
  recordsPerSecond: number;
  referenceRecordsPerSecond: number;
  lost: number;
  duplicated: number;
  /** Extra figures: batch size, connections, SQLite synchronous setting, the reference's size, checks. */
  batch: number;
  concurrency: number;
  synchronous?: "NORMAL" | "FULL";
  referenceRecords: number;
  ratio: number;
  /** CPU seconds the server process used during the batched phase (Linux /proc; null elsewhere). */
  serverCpuSeconds: number | null;
  /** Records per CPU-second of the server: the throughput a server with a core of its own would reach. */
  recordsPerServerCpuSecond: number | null;
  gpuMsMatches: boolean;
  resentDuplicatesReported: boolean;
}

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
    proc.once("exit", () => res());
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

/** Admin creates operator and tenant; operator a site, price and enrolment token; a node enrols; the tenant's job is placed and started. */
export async function buildIngestWorld(url: string, adminKey: string, gpus = 8): Promise<IngestWorld> {
  const op = await api<{ key: string; operator: { id: string } }>(url, adminKey, "POST", "/v1/operators", {
    name: "Bench Hall",
  });
  const t = await api<{ key: string; tenant: { id: string } }>(url, adminKey, "POST", "/v1/tenants", {
    name: "Bench Lab",
    country: "ES",
    creditLimitMinor: 100_000_000,
  });
  const site = await api<{ id: string }>(url, op.key, "POST", "/v1/sites", {
    name: "Bench Site",
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
    name: "bench-node",
    gpus: GPUS,
    executor: "local",
  });
  const hb = () =>
    api<{ assignments: { leaseId: string; jobId: string }[] }>(url, node.key, "POST", "/v1/agent/heartbeat", {
      gpus: GPUS,
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
  energyMwh: number;
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
    energyMwh: 2 + (seq % 3),
    energySource: "modelled",
  };
}

/** Posts pre-serialised bodies over `concurrency` keep-alive connections; returns the acks in body order and the seconds taken. */
async function post(
  pool: Pool,
  key: string,
  bodies: string[],
  concurrency: number,
): Promise<{ acks: { accepted: number; duplicates: number }[]; seconds: number }> {
  const acks = new Array<{ accepted: number; duplicates: number }>(bodies.length);
  let next = 0;
  const t0 = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= bodies.length) return;
      const res = await pool.request({
        path: "/v1/agent/usage",
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: bodies[i],
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`usage batch ${i}: ${res.statusCode} ${text}`);
      acks[i] = JSON.parse(text) as { accepted: number; duplicates: number };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { acks, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
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

/** Options of one ingest bench run. */
export interface IngestBenchOptions {
  store: "sqlite" | "postgres";
  records: number;
  batch?: number;
  concurrency?: number;
  referenceRecords?: number;
  synchronous?: "NORMAL" | "FULL";
  /** PostgreSQL server to create the bench database on. */
  pgUrl?: string;
}

/** Runs the bench: a fresh store, a real server child process, batches, then the one-record reference. */
export async function runIngestBench(o: IngestBenchOptions): Promise<IngestBenchResult> {
  const batch = o.batch ?? 5_000;
  const concurrency = o.concurrency ?? 4;
  const refN = o.referenceRecords ?? 2_000;
  let storeUrl: string;
  let cleanup: () => Promise<void>;
  if (o.store === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "zumbido-bench-"));
    storeUrl = `sqlite:${join(dir, "bench.db")}${o.synchronous ? `?synchronous=${o.synchronous}` : ""}`;
    cleanup = () => Promise.resolve(rmSync(dir, { recursive: true, force: true }));
  } else {
    const base = o.pgUrl ?? "postgres://postgres@127.0.0.1:5432/test";
    const name = `zumbido_bench_${randomBytes(5).toString("hex")}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    storeUrl = base.replace(/\/[^/]*$/, `/${name}`);
    cleanup = async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  }
  const server = await startBenchServer(storeUrl);
  const pool = new Pool(server.url, { connections: concurrency, keepAliveTimeout: 60_000 });
  try {
    const w = await backdateLease(
      storeUrl,
      await buildIngestWorld(server.url, server.adminKey),
      (o.records + refN + 10) * 10 + 60_000,
    );
    const bodies: string[] = [];
    for (let s = 1; s <= o.records; s += batch) {
      const recs = [];
      for (let q = s; q < Math.min(s + batch, o.records + 1); q++) recs.push(benchRecord(w, q));
      bodies.push(JSON.stringify({ records: recs }));
    }
    const refBodies = Array.from({ length: refN }, (_, i) =>
      JSON.stringify({ records: [benchRecord(w, o.records + 1 + i)] }),
    );
    // Warm up the connections and the server's code paths with the first reference records.
    const warm = 200;
    await post(pool, w.nodeKey, refBodies.slice(0, warm), concurrency);
    const cpu0 = procCpuSeconds(server.proc.pid);
    const main = await post(pool, w.nodeKey, bodies, concurrency);
    const cpu1 = procCpuSeconds(server.proc.pid);
    const serverCpuSeconds = cpu0 !== null && cpu1 !== null ? Math.round((cpu1 - cpu0) * 100) / 100 : null;
    const ref = await post(pool, w.nodeKey, refBodies.slice(warm), concurrency);
    // Re-send three batches: the server must report every record as a duplicate.
    const resend = bodies.slice(0, 3);
    const again = await post(pool, w.nodeKey, resend, concurrency);
    const resentRecords = resend.reduce(
      (s, b) => s + (JSON.parse(b) as { records: unknown[] }).records.length,
      0,
    );
    const accepted = [...main.acks, ...ref.acks].reduce((s, a) => s + a.accepted, 0);
    const sent = o.records + refN - warm;
    const store = await Store.open(parseStoreUrl(storeUrl));
    let stored: { records: number; gpuMs: number };
    try {
      stored = await store.usage.totals();
    } finally {
      await store.close();
    }
    const expectGpuMs = Array.from(
      { length: o.records + refN },
      (_, i) => benchRecord(w, i + 1).gpuMs,
    ).reduce((a, b) => a + b, 0);
    const total = o.records + refN;
    const recordsPerSecond = Math.round(o.records / main.seconds);
    const referenceRecordsPerSecond = Math.round((refN - warm) / ref.seconds);
    return {
      store: o.store,
      records: o.records,
      recordsPerSecond,
      referenceRecordsPerSecond,
      lost: Math.max(0, total - stored.records),
      duplicated: Math.max(0, stored.records - total) + Math.max(0, accepted - sent),
      batch,
      concurrency,
      ...(o.store === "sqlite" ? { synchronous: o.synchronous ?? "NORMAL" } : {}),
      referenceRecords: refN - warm,
      ratio: Math.round((recordsPerSecond / referenceRecordsPerSecond) * 10) / 10,
      serverCpuSeconds,
      recordsPerServerCpuSecond: serverCpuSeconds ? Math.round(o.records / serverCpuSeconds) : null,
      gpuMsMatches: stored.gpuMs === expectGpuMs,
      resentDuplicatesReported:
        again.acks.reduce((s, a) => s + a.duplicates, 0) === resentRecords &&
        again.acks.every((a) => a.accepted === 0),
    };
  } finally {
    await pool.close();
    await stopProc(server.proc);
    await cleanup();
  }
}

function positiveInt(name: string, v: string, min: number, max: number): number | null {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) {
    console.error(`zumbido: ${name} must be a whole number from ${min} to ${max}, got "${v}"`);
    process.exitCode = 2;
    return null;
  }
  return n;
}

/** Adds `ingest --json [--store sqlite|postgres] [--records N]` under the `zumbido bench` command. */
export function registerBenchIngestCommand(bench: Command): void {
  bench
    .command("ingest")
    .description(
      "post usage batches to a real server process over HTTP; compare with one record per request; check nothing is lost or doubled",
    )
    .option("--store <kind>", "sqlite or postgres", "sqlite")
    .option("--records <n>", "records to send in batches", "1000000")
    .option("--batch <n>", "records per request", "5000")
    .option("--concurrency <n>", "requests in flight", "4")
    .option("--reference <n>", "records to send one per request (the reference)", "2000")
    .option(
      "--synchronous <mode>",
      "SQLite: NORMAL (the product's setting) or FULL (fsync on every commit)",
      "NORMAL",
    )
    .option("--pg-url <url>", "PostgreSQL server to create the bench database on (ZUMBIDO_TEST_PG_URL)")
    .option("--json", "print the figures as JSON")
    .action(
      async (
        o: {
          store: string;
          records: string;
          batch: string;
          concurrency: string;
          reference: string;
          synchronous: string;
          pgUrl?: string;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        // --json may be this command's or the program's global one.
        const json = o.json === true || (cmd.optsWithGlobals() as { json?: boolean }).json === true;
        if (o.store !== "sqlite" && o.store !== "postgres") {
          console.error(`zumbido: --store must be sqlite or postgres, got "${o.store}"`);
          process.exitCode = 2;
          return;
        }
        const sync = o.synchronous.toUpperCase();
        if (sync !== "NORMAL" && sync !== "FULL") {
          console.error(`zumbido: --synchronous must be NORMAL or FULL, got "${o.synchronous}"`);
          process.exitCode = 2;
          return;
        }
        const records = positiveInt("--records", o.records, 1, 50_000_000);
        const batch = positiveInt("--batch", o.batch, 1, 100_000);
        const concurrency = positiveInt("--concurrency", o.concurrency, 1, 64);
        const reference = positiveInt("--reference", o.reference, 201, 1_000_000);
        if (records === null || batch === null || concurrency === null || reference === null) return;
        const pgUrl = o.pgUrl ?? process.env.ZUMBIDO_TEST_PG_URL;
        const r = await runIngestBench({
          store: o.store,
          records,
          batch,
          concurrency,
          referenceRecords: reference,
          synchronous: sync,
          ...(pgUrl ? { pgUrl } : {}),
        });
        if (json) console.log(JSON.stringify(r));
        else
          console.log(
            `${r.store}${r.synchronous ? ` (synchronous=${r.synchronous})` : ""}: ${r.records} records in batches of ${r.batch}: ${r.recordsPerSecond} records/s; one per request: ${r.referenceRecordsPerSecond} records/s (x${r.ratio}); lost ${r.lost}, duplicated ${r.duplicated}`,
          );
      },
    );
}
