/**
 * `zumbido bench ingest`: usage ingestion through a real server process over real HTTP. One server
 * (bench-ingest-server.ts) holds two worlds; in alternating rounds it ingests the same kind of
 * records through the bounded product route (POST /v1/agent/usage) and through the baseline route
 * (the ingest before usage bounds), so both see the same machine load and the same store size.
 * Then records one per request (the reference), a re-send of acknowledged batches, and checks in
 * the database that every acknowledged record is stored exactly once.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import pg from "pg";
import { Pool } from "undici";
import { Store, parseStoreUrl } from "../../store/index.js";
import {
  backdateLease,
  benchRecord,
  buildIngestWorld,
  procCpuSeconds,
  startBenchServer,
  stopProc,
  type IngestWorld,
} from "./bench-ingest.js";

const HERE = fileURLToPath(import.meta.url);
/** The bench server beside this module: TypeScript through tsx in a checkout, compiled JavaScript in the package. */
const SERVER_ENTRY = HERE.endsWith(".ts")
  ? ["--import", "tsx", resolve(dirname(HERE), "bench-ingest-server.ts")]
  : [resolve(dirname(HERE), "bench-ingest-server.js")];
/** The baseline route of bench-ingest-server.ts. */
export const BASELINE_USAGE_PATH = "/v1/bench/usage-unbounded";
const USAGE_PATH = "/v1/agent/usage";

/** Median and range of per-round figures. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** One ingest path's figures over the rounds. */
export interface PathFigures {
  recordsPerSecond: Spread;
  /** Records per CPU-second of the server (Linux /proc; null elsewhere): less sensitive to other load. */
  recordsPerServerCpuSecond: Spread | null;
}

/** The figures `bench ingest --json` prints. */
export interface IngestBenchResult {
  store: "sqlite" | "postgres";
  /** Records sent in batches through each path. */
  records: number;
  /** Bounded ingest (the product), median of the rounds. */
  recordsPerSecond: number;
  referenceRecordsPerSecond: number;
  lost: number;
  duplicated: number;
  batch: number;
  concurrency: number;
  synchronous?: "NORMAL" | "FULL";
  referenceRecords: number;
  /** Batched over one-per-request. */
  ratio: number;
  /** Rounds, each sending records/rounds through either path (order alternating). */
  rounds: number;
  bounded: PathFigures;
  /** The ingest before usage bounds (issue 12), measured in the same run and process. */
  baseline: PathFigures;
  /** Per round, bounded over baseline (1 = as fast; issue 12 asks for >= 0.9). */
  vsBaseline: { recordsPerSecond: Spread; recordsPerServerCpuSecond: Spread | null };
  /** Server CPU seconds over the bounded rounds. */
  serverCpuSeconds: number | null;
  /** Bounded: records per server CPU-second (median of the rounds). */
  recordsPerServerCpuSecond: number | null;
  gpuMsMatches: boolean;
  resentDuplicatesReported: boolean;
}

type Ack = { accepted: number; duplicates: number };

/** Posts pre-serialised bodies over `concurrency` keep-alive connections; returns the acks in body order and the seconds taken. */
async function post(
  pool: Pool,
  key: string,
  bodies: string[],
  concurrency: number,
  path = USAGE_PATH,
): Promise<{ acks: Ack[]; seconds: number }> {
  const acks = new Array<Ack>(bodies.length);
  let next = 0;
  const t0 = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= bodies.length) return;
      const res = await pool.request({
        path,
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: bodies[i],
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`usage batch ${i} to ${path}: ${res.statusCode} ${text}`);
      acks[i] = JSON.parse(text) as Ack;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { acks, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** Median, min and max (null when any figure is missing). */
export function spread(xs: readonly (number | null)[]): Spread | null {
  if (xs.length === 0 || xs.some((x) => x === null)) return null;
  const s = (xs as number[]).slice().sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  const r = (x: number): number => (Math.abs(x) >= 100 ? Math.round(x) : Math.round(x * 1000) / 1000);
  return { median: r(median), min: r(s[0]!), max: r(s[s.length - 1]!) };
}

/** Bodies of `batch` records with seqs [from, to] of a world. */
function bodiesOf(w: IngestWorld, from: number, to: number, batch: number): string[] {
  const out: string[] = [];
  for (let s = from; s <= to; s += batch) {
    const recs = [];
    for (let q = s; q <= Math.min(s + batch - 1, to); q++) recs.push(benchRecord(w, q));
    out.push(JSON.stringify({ records: recs }));
  }
  return out;
}

/** Sum of the GPU-ms of a world's records with seqs [1, n]. */
const gpuMsOf = (w: IngestWorld, n: number): number => {
  let s = 0;
  for (let q = 1; q <= n; q++) s += benchRecord(w, q).gpuMs;
  return s;
};

/** Options of one ingest bench run. */
export interface IngestBenchOptions {
  store: "sqlite" | "postgres";
  records: number;
  batch?: number;
  concurrency?: number;
  referenceRecords?: number;
  /** Alternating rounds (default 10). */
  rounds?: number;
  synchronous?: "NORMAL" | "FULL";
  /** PostgreSQL server to create the bench database on. */
  pgUrl?: string;
}

async function freshStore(o: IngestBenchOptions): Promise<{ url: string; cleanup: () => Promise<void> }> {
  if (o.store === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "zumbido-bench-"));
    return {
      url: `sqlite:${join(dir, "bench.db")}${o.synchronous ? `?synchronous=${o.synchronous}` : ""}`,
      cleanup: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
    };
  }
  const base = o.pgUrl ?? "postgres://postgres@127.0.0.1:5432/test";
  const name = `zumbido_bench_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: base.replace(/\/[^/]*$/, `/${name}`),
    cleanup: async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** Runs the bench: a fresh store, a real server child process, alternating rounds, the one-record reference, checks. */
export async function runIngestBench(o: IngestBenchOptions): Promise<IngestBenchResult> {
  const batch = o.batch ?? 5_000;
  const concurrency = o.concurrency ?? 4;
  const refN = o.referenceRecords ?? 2_000;
  const warm = 200;
  const nBatches = Math.ceil(o.records / batch);
  const rounds = Math.max(1, Math.min(o.rounds ?? 10, nBatches));
  const store = await freshStore(o);
  const server = await startBenchServer(store.url, { entry: SERVER_ENTRY });
  const pool = new Pool(server.url, { connections: concurrency, keepAliveTimeout: 60_000 });
  try {
    const back = (o.records + refN + 10) * 10 + 60_000;
    // wb: the bounded path (the product); wa: the baseline, on another node of the same server.
    const wb = await backdateLease(store.url, await buildIngestWorld(server.url, server.adminKey), back);
    const wa = await backdateLease(
      store.url,
      await buildIngestWorld(server.url, server.adminKey, 8, " A"),
      back,
    );
    const bodies = { b: bodiesOf(wb, 1, o.records, batch), a: bodiesOf(wa, 1, o.records, batch) };
    const refBodies = Array.from({ length: refN }, (_, i) =>
      JSON.stringify({ records: [benchRecord(wb, o.records + 1 + i)] }),
    );
    // Warm up the connections and both routes' code paths with single records.
    await post(pool, wb.nodeKey, refBodies.slice(0, warm), concurrency);
    const warmA = Array.from({ length: warm }, (_, i) =>
      JSON.stringify({ records: [benchRecord(wa, o.records + 1 + i)] }),
    );
    await post(pool, wa.nodeKey, warmA, concurrency, BASELINE_USAGE_PATH);
    const per = {
      b: { rate: [] as number[], cpu: [] as (number | null)[] },
      a: { rate: [] as number[], cpu: [] as (number | null)[] },
    };
    const acks: Ack[] = [];
    let boundedCpu: number | null = 0;
    for (let r = 0; r < rounds; r++) {
      const lo = Math.floor((r * nBatches) / rounds);
      const hi = Math.floor(((r + 1) * nBatches) / rounds);
      for (const k of r % 2 === 0 ? (["a", "b"] as const) : (["b", "a"] as const)) {
        const part = bodies[k].slice(lo, hi);
        const n = part.reduce((s, b) => s + (JSON.parse(b) as { records: unknown[] }).records.length, 0);
        const w = k === "b" ? wb : wa;
        const cpu0 = procCpuSeconds(server.proc.pid);
        const res = await post(
          pool,
          w.nodeKey,
          part,
          concurrency,
          k === "b" ? USAGE_PATH : BASELINE_USAGE_PATH,
        );
        const cpu1 = procCpuSeconds(server.proc.pid);
        const cpu = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
        per[k].rate.push(n / res.seconds);
        per[k].cpu.push(cpu ? n / cpu : null);
        if (k === "b") {
          acks.push(...res.acks);
          boundedCpu = boundedCpu !== null && cpu !== null ? boundedCpu + cpu : null;
        }
      }
    }
    const ref = await post(pool, wb.nodeKey, refBodies.slice(warm), concurrency);
    // Re-send three batches: the server must report every record as a duplicate.
    const resend = bodies.b.slice(0, 3);
    const again = await post(pool, wb.nodeKey, resend, concurrency);
    const resentRecords = resend.reduce(
      (s, b) => s + (JSON.parse(b) as { records: unknown[] }).records.length,
      0,
    );
    const accepted = [...acks, ...ref.acks].reduce((s, a) => s + a.accepted, 0);
    const sent = o.records + refN - warm;
    const db = await Store.open(parseStoreUrl(store.url));
    let stored: { records: number; gpuMs: number };
    try {
      stored = await db.usage.totals();
    } finally {
      await db.close();
    }
    // Both worlds: the bounded one's batches and references, the baseline's warm-up and batches.
    const total = o.records + refN + o.records + warm;
    let expectGpuMs = gpuMsOf(wb, o.records + refN) + gpuMsOf(wa, o.records);
    for (let i = 0; i < warm; i++) expectGpuMs += benchRecord(wa, o.records + 1 + i).gpuMs;
    const ratio = (k: "rate" | "cpu"): (number | null)[] =>
      per.b[k].map((x, i) => (x !== null && per.a[k][i] != null ? x / per.a[k][i]! : null));
    const figures = (k: "a" | "b"): PathFigures => ({
      recordsPerSecond: spread(per[k].rate)!,
      recordsPerServerCpuSecond: spread(per[k].cpu),
    });
    const bounded = figures("b");
    const referenceRecordsPerSecond = Math.round((refN - warm) / ref.seconds);
    return {
      store: o.store,
      records: o.records,
      recordsPerSecond: bounded.recordsPerSecond.median,
      referenceRecordsPerSecond,
      lost: Math.max(0, total - stored.records),
      duplicated: Math.max(0, stored.records - total) + Math.max(0, accepted - sent),
      batch,
      concurrency,
      ...(o.store === "sqlite" ? { synchronous: o.synchronous ?? "NORMAL" } : {}),
      referenceRecords: refN - warm,
      ratio: Math.round((bounded.recordsPerSecond.median / referenceRecordsPerSecond) * 10) / 10,
      rounds,
      bounded,
      baseline: figures("a"),
      vsBaseline: {
        recordsPerSecond: spread(ratio("rate"))!,
        recordsPerServerCpuSecond: spread(ratio("cpu")),
      },
      serverCpuSeconds: boundedCpu === null ? null : Math.round(boundedCpu * 100) / 100,
      recordsPerServerCpuSecond: bounded.recordsPerServerCpuSecond?.median ?? null,
      gpuMsMatches: stored.gpuMs === expectGpuMs,
      resentDuplicatesReported:
        again.acks.reduce((s, a) => s + a.duplicates, 0) === resentRecords &&
        again.acks.every((a) => a.accepted === 0),
    };
  } finally {
    await pool.close();
    await stopProc(server.proc);
    await store.cleanup();
  }
}

const fmt = (s: Spread | null, unit = ""): string => (s ? `${s.median}${unit} (${s.min}-${s.max})` : "?");

/** One line per run: the bounded path, the baseline and their ratio (median over rounds, range in brackets). */
export function describeIngest(r: IngestBenchResult): string {
  return (
    `${r.store}${r.synchronous ? ` (synchronous=${r.synchronous})` : ""}: ${r.records} records per path in batches of ${r.batch}, ${r.rounds} alternating rounds; ` +
    `bounded ${fmt(r.bounded.recordsPerSecond)} records/s, ${fmt(r.bounded.recordsPerServerCpuSecond)} per server CPU-s; ` +
    `baseline (before bounds) ${fmt(r.baseline.recordsPerSecond)} records/s, ${fmt(r.baseline.recordsPerServerCpuSecond)} per server CPU-s; ` +
    `bounded/baseline x${fmt(r.vsBaseline.recordsPerSecond)} (wall), x${fmt(r.vsBaseline.recordsPerServerCpuSecond)} (CPU); ` +
    `one per request: ${r.referenceRecordsPerSecond} records/s; lost ${r.lost}, duplicated ${r.duplicated}, sums match: ${r.gpuMsMatches}`
  );
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

/** Adds `ingest --json [--store sqlite|postgres] [--records N] [--rounds N]` under the `zumbido bench` command. */
export function registerBenchIngestCommand(bench: Command): void {
  bench
    .command("ingest")
    .description(
      "post usage batches to a real server process over HTTP, bounded and (baseline) as before bounds, in alternating rounds; compare with one record per request; check nothing is lost or doubled",
    )
    .option("--store <kind>", "sqlite or postgres", "sqlite")
    .option("--records <n>", "records to send in batches through each path", "1000000")
    .option("--batch <n>", "records per request", "5000")
    .option("--concurrency <n>", "requests in flight", "4")
    .option("--rounds <n>", "alternating rounds of bounded and baseline ingest", "10")
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
          rounds: string;
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
        const rounds = positiveInt("--rounds", o.rounds, 1, 1_000);
        const reference = positiveInt("--reference", o.reference, 201, 1_000_000);
        if (
          records === null ||
          batch === null ||
          concurrency === null ||
          rounds === null ||
          reference === null
        )
          return;
        const pgUrl = o.pgUrl ?? process.env.ZUMBIDO_TEST_PG_URL;
        const r = await runIngestBench({
          store: o.store,
          records,
          batch,
          concurrency,
          rounds,
          referenceRecords: reference,
          synchronous: sync,
          ...(pgUrl ? { pgUrl } : {}),
        });
        console.log(json ? JSON.stringify(r) : describeIngest(r));
      },
    );
}
