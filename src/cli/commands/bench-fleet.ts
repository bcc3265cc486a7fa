/**
 * `zumbido bench fleet`: the control plane at fleet scale, over real HTTP on loopback. Starts one or
 * two real server processes on one store, enrols N simulated 8-GPU nodes that speak the agent
 * protocol (heartbeats, workload reports, usage), submits jobs at a steady rate, and measures
 * heartbeat and submission latency, submission-to-assignment time and errors. With two replicas it
 * kills the leader (the process, or only its PostgreSQL lock session) and measures the takeover and
 * checks that nothing was placed twice, no GPU was leased twice and no usage record was lost.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Command } from "commander";
import pg from "pg";
import { Pool } from "undici";
import { LEADER_LOCK_KEY } from "../../control/leader.js";
import { Store, parseStoreUrl } from "../../store/index.js";
import { checkFleetStore, type FleetCheck, type SentUsage } from "./fleet-check.js";
import { api, startBenchServer, stopProc, type BenchServer } from "./bench-ingest.js";
import { NodeFleet } from "./bench-fleet-nodes.js";

/** The figures `bench fleet --json` prints. */
export interface FleetBenchResult {
  store: "sqlite" | "postgres";
  nodes: number;
  replicas: number;
  seconds: number;
  heartbeatsPerS: number;
  heartbeatP99Ms: number;
  /** Heartbeat p99 of the steady beats only (renewals that report no change), and how many there were. */
  heartbeatSteadyP99Ms: number;
  heartbeatSteadyShare: number;
  /** Heartbeat p99 of the beats that reported a start or an end. */
  heartbeatBusyP99Ms: number;
  submitP99Ms: number;
  submitToAssignP99Ms: number | null;
  /** Scheduling cycle p99 from the leader's /metrics (phase "total"; null when the server has none). */
  cycleP99Ms: number | null;
  /** Each cycle phase's p99 (ms, bucket upper bound; the larger over the replicas running at the end). */
  cyclePhasesP99Ms: Record<string, number>;
  /** Failed requests in the measured seconds. */
  errors: number;
  /** Failed requests while the nodes enrolled and warmed up (not measured, reported). */
  warmUpErrors: number;
  jobsSubmitted: number;
  jobsAssigned: number;
  /** Jobs the scheduler placed (a lease in the store), whether or not a node has seen it yet. */
  jobsPlaced: number;
  /** Submission to first lease in the store, p50 and p99 (ms; null when nothing was placed). */
  submitToPlaceP50Ms: number | null;
  submitToPlaceP99Ms: number | null;
  /** Placement to a node seeing the assignment in a heartbeat answer, p99 (ms; null when none was seen). */
  placeToAssignP99Ms: number | null;
  /** Jobs with two placements alive at once, from the store's rows (fleet-check.ts). */
  jobsPlacedTwice: number;
  /** Leases overlapping on one GPU in the store, plus assignments a node got onto a GPU it was running. */
  gpuDoubleLeased: number;
  /** Usage records the nodes sent that are not in the store. */
  lostUsageRecords: number;
  usageSent: number;
  /** Of the lost records, those no replica ever acknowledged (the driver gave up after a minute). */
  usageUnacked: number;
  /** The first few offenders the checks found (empty when all is well). */
  checkExamples: string[];
  kills: number;
  /** Each kill to the next leader term in leader_terms (ms). */
  takeoverMs: number[];
  /** Each kill to the first placement the new term committed (lease commit time, ms). */
  resumeMs: number[];
  /** Leader terms started during the run (more than `kills`: a leader lost its lock unprovoked). */
  termsStarted: number;
  /** Heartbeat interval the server asked for at the end (ms; null when it names none). */
  serverIntervalMs: number | null;
  /** Warm-up before the measured seconds (each node beats from its enrolment on; the fleet settles 5 s), s. */
  warmUpS: number;
  /** Nodes enrolled a second (the enrolment phase, before the measured seconds). */
  enrolPerS: number;
  /** Orders long-polls answered (0 with --no-orders-poll). */
  ordersPolls: number;
  /** CPU the first server used over the measured seconds, % of one core (null off Linux, or when it was restarted). */
  serverCpuPct: number | null;
  /** The first server's event-loop delay over the measured seconds, p99 and max (ms; null without /metrics). */
  serverLoopDelayP99Ms: number | null;
  serverLoopDelayMaxMs: number | null;
  /** The driver's own event-loop delay over the measured seconds, p99 and max (ms): a late driver inflates every latency. */
  driverLoopDelayP99Ms: number;
  driverLoopDelayMaxMs: number;
  /** CPU the driver (this process: nodes and tenants) used over the measured seconds, % of one core. */
  driverCpuPct: number;
}

/** Options of runFleetBench. */
export interface FleetBenchOptions {
  store: "sqlite" | "postgres";
  nodes: number;
  seconds: number;
  jobsPerS: number;
  heartbeatMs: number;
  replicas: 1 | 2;
  killLeader?: "process" | "lock";
  kills: number;
  pgUrl?: string;
  /** Server entry (e.g. another checkout's bin/zumbido.js) to measure a baseline. */
  serverEntry?: string;
  /** Hold an orders long-poll per node as the agent does (default); false: heartbeats carry the orders. */
  ordersPoll?: boolean;
  /** The servers' ZUMBIDO_LIVENESS_BATCH_MS (0: every heartbeat written at once); default theirs. */
  livenessBatchMs?: number;
  /** Progress lines (enrolment, warm-up, the measured run); the command prints them on stderr. */
  progress?: (line: string) => void;
}

/** The q-quantile (default p99) of xs, 0 when empty. */
const p99 = (xs: number[], q = 0.99): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(s.length * q))]! * 10) / 10;
};

/** Runs the fleet bench; every figure is measured, nothing is assumed. */
export async function runFleetBench(o: FleetBenchOptions): Promise<FleetBenchResult> {
  let storeUrl: string;
  let cleanup: () => Promise<void>;
  const base = o.pgUrl ?? "postgres://postgres@127.0.0.1:5432/test";
  if (o.store === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "zumbido-fleet-"));
    storeUrl = `sqlite:${join(dir, "fleet.db")}`;
    cleanup = () => Promise.resolve(rmSync(dir, { recursive: true, force: true }));
  } else {
    const name = `zumbido_fleet_${randomBytes(5).toString("hex")}`;
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
  const adminKey = `zk_admin_${randomBytes(16).toString("hex")}`;
  const entry = o.serverEntry ? { entry: [o.serverEntry] } : {};
  const env: Record<string, string> = {
    ZUMBIDO_SCHEDULE_INTERVAL_MS: "1000",
    ZUMBIDO_DEMO: "",
    ...(o.livenessBatchMs !== undefined ? { ZUMBIDO_LIVENESS_BATCH_MS: String(o.livenessBatchMs) } : {}),
  };
  const servers: BenchServer[] = [await startBenchServer(storeUrl, { ...entry, adminKey, env })];
  if (o.replicas === 2) servers.push(await startBenchServer(storeUrl, { ...entry, adminKey, env }));
  const pools = servers.map((s) => new Pool(s.url, { connections: 64, headersTimeout: 10_000 }));
  const errors = { n: 0, warm: 0 };
  const submittedAt = new Map<string, number>();
  let fleet: NodeFleet | undefined;
  const req = async <T>(
    replica: number,
    key: string | null,
    method: "GET" | "POST",
    path: string,
    body?: unknown,
  ): Promise<T> => {
    const r = await pools[replica]!.request({
      path,
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.body.text();
    if (r.statusCode >= 300) throw new Error(`${method} ${path}: ${r.statusCode} ${text.slice(0, 200)}`);
    return JSON.parse(text) as T;
  };
  const url0 = servers[0]!.url;
  try {
    // The world: one operator, sites of up to 1,000 nodes, two tenants with room to spend.
    const op = await api<{ key: string }>(url0, adminKey, "POST", "/v1/operators", { name: "Fleet Hall" });
    const tenants: string[] = [];
    for (const name of ["Fleet Lab A", "Fleet Lab B"]) {
      const t = await api<{ key: string }>(url0, adminKey, "POST", "/v1/tenants", {
        name,
        country: "ES",
        creditLimitMinor: 10_000_000_000,
      });
      tenants.push(t.key);
    }
    const sites: string[] = [];
    for (let i = 0; i < Math.ceil(o.nodes / 1000); i++) {
      const s = await api<{ id: string }>(url0, op.key, "POST", "/v1/sites", {
        name: `Fleet Site ${i + 1}`,
        country: "ES",
        lat: 43.4,
        lon: -5.8,
        powerKw: 1_000_000,
        pue: 1.2,
        cooling: "air",
      });
      await api(url0, op.key, "PUT", `/v1/sites/${s.id}/prices/H100`, {
        onDemandMinorPerGpuHour: 240,
        interruptibleMinorPerGpuHour: 120,
      });
      sites.push(s.id);
    }
    // Enrol the nodes, then run them (src/cli/commands/bench-fleet-nodes.ts).
    fleet = new NodeFleet({
      urls: () => servers.map((x) => x.url),
      heartbeatMs: o.heartbeatMs,
      ordersPoll: o.ordersPoll !== false,
      submittedAt,
      onError: (measured) => (measured ? errors.n++ : errors.warm++),
    });
    await fleet.enrol(
      o.nodes,
      (n) => sites[Math.floor(n / 1000)]!,
      op.key,
      (done, perS) => o.progress?.(`enrolled ${done} of ${o.nodes} nodes (${perS}/s)`),
    );
    // Warm-up (not measured): each node has beaten since its enrolment; the fleet settles 5 s.
    const spreadMs = 0;
    // Tenants: jobsPerS submissions a second, 1-8 GPUs each, from `from` until stopped. The warm-up
    // submits too (not measured), so the first measured submissions do not pay the server's first
    // run of the path (a cold path in a 150-submission sample is its p99).
    const subLat: number[] = [];
    /** Submissions sent and not answered yet (the window's last ones are awaited before the fleet stops). */
    const inFlight = new Set<Promise<unknown>>();
    let stop = false;
    let measured = false;
    const submit = async (from: number, until: () => boolean): Promise<void> => {
      let i = 0;
      while (!until()) {
        const due = from + (i * 1000) / o.jobsPerS;
        await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
        if (until()) return;
        const replica = i % servers.length;
        const key = tenants[i % tenants.length]!;
        i++;
        const s = performance.now();
        const at = Date.now();
        const counted = measured;
        const sent = req<{ id: string }>(replica, key, "POST", "/v1/jobs", {
          gpus: 1 + (i % 8),
          gpuModels: ["H100"],
          countries: ["ES"],
          command: ["train"],
        }).then(
          (j) => {
            if (counted) {
              subLat.push(performance.now() - s);
              submittedAt.set(j.id, at);
            }
          },
          () => (counted ? errors.n++ : errors.warm++),
        );
        inFlight.add(sent);
        void sent.finally(() => inFlight.delete(sent));
      }
    };
    o.progress?.("warm-up, 5 s");
    let warm = true;
    const warmSubmits = submit(Date.now(), () => !warm);
    await fleet.warmUp(spreadMs, spreadMs + 5000);
    warm = false;
    await warmSubmits;
    o.progress?.(`measuring, ${o.seconds} s`);

    measured = true;
    const t0 = Date.now();
    const pid0 = servers[0]!.proc.pid;
    const cpu0 = { server: procCpuMs(pid0), driver: process.cpuUsage() };
    // Event-loop delay over the measured seconds: the server's monitor restarts at each /metrics read.
    await serverLoopDelay(url0);
    const driverLoop = monitorEventLoopDelay({ resolution: 10 });
    driverLoop.enable();
    const deadline = t0 + o.seconds * 1000;

    // Failovers: kill the leader (process or lock session) evenly over the run. takeoverMs: the kill to
    // the next term in leader_terms; resumeMs: the kill to the first lease the new term commits.
    const takeoverMs: number[] = [];
    const resumeMs: number[] = [];
    let termsStarted = 0;
    let kills = 0;
    const failovers = async (): Promise<void> => {
      if (o.replicas !== 2 || !o.killLeader || o.store !== "postgres") return;
      const c = new pg.Client({ connectionString: storeUrl });
      await c.connect();
      const term = async (): Promise<{ term: number; holder: string; at: number } | undefined> => {
        const r = await c.query<{ term: string; holder: string; acquired_at: string }>(
          "select term, holder, acquired_at from leader_terms where name = 'scheduler'",
        );
        const x = r.rows[0];
        return x && { term: Number(x.term), holder: x.holder, at: Number(x.acquired_at) };
      };
      const poll = async <T>(since: number, f: () => Promise<T | undefined>): Promise<T | undefined> => {
        for (;;) {
          const v = await f();
          if (v !== undefined || performance.now() - since > 30_000) return v;
          await new Promise((r) => setTimeout(r, 5));
        }
      };
      const startTerm = await term();
      try {
        for (let k = 0; k < o.kills && !stop; k++) {
          await new Promise((r) => setTimeout(r, (o.seconds * 1000) / (o.kills + 1)));
          const before = await term();
          if (!before) continue;
          const killedAt = performance.now();
          const killedWall = Date.now();
          let restart = (): Promise<void> => Promise.resolve();
          if (o.killLeader === "lock") {
            await c.query(
              "select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and granted and objid = $1",
              [LEADER_LOCK_KEY],
            );
          } else {
            const idx = servers.findIndex((s) => before.holder.endsWith(`pid ${s.proc.pid}`));
            if (idx < 0) continue;
            await stopProc(servers[idx]!.proc, "SIGKILL");
            // The killed replica comes back as a follower (on a new port) once the other has taken over
            // and placed again: starting a server (tsx) takes seconds of CPU that would skew the timing.
            restart = async () => {
              const again = await startBenchServer(storeUrl, { ...entry, adminKey, env });
              servers[idx] = again;
              const old = pools[idx]!;
              pools[idx] = new Pool(again.url, { connections: 64, headersTimeout: 10_000 });
              await old.close();
            };
          }
          kills++;
          const next = await poll(killedAt, async () => {
            const t = await term();
            return t && t.term > before.term ? t : undefined;
          });
          if (next) {
            takeoverMs.push(Math.round(performance.now() - killedAt));
            const first = await poll(killedAt, async () => {
              const r = await c.query<{ at: string | null }>(
                "select min(created_at) as at from leases where created_at >= $1",
                [next.at],
              );
              return r.rows[0]?.at == null ? undefined : Number(r.rows[0].at);
            });
            if (first !== undefined) resumeMs.push(first - killedWall);
          }
          await restart();
        }
        // Terms started during the run: more than the kills means a leader lost its lock unprovoked.
        termsStarted = ((await term())?.term ?? 0) - (startTerm?.term ?? 0);
      } finally {
        await c.end();
      }
    };
    // The load runs for --seconds and on until the last failover has been timed (a restarted process
    // takes seconds), so every kill lands under load and the new leader has jobs to place.
    const load = Promise.all([fleet.run(deadline + 30 * 60_000), submit(t0, () => stop)]);
    await Promise.all([new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()))), failovers()]);
    driverLoop.disable();
    const serverLoop = await serverLoopDelay(servers[0]!.url);
    stop = true;
    // Submissions sent inside the window finish under the window's load, not under the teardown
    // (stopping 10,000 nodes' long-polls at once holds the server's event loop for seconds).
    await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => setTimeout(r, 30_000))]);
    fleet.stop();
    // The measured window ends here; rates and CPU shares are over it, not over the drain below.
    const seconds = (Date.now() - t0) / 1000;
    // A replica killed and restarted in the window is another process: its CPU is not comparable.
    const serverCpu = servers[0]!.proc.pid === pid0 ? procCpuMs(pid0) : null;
    const driverCpu = process.cpuUsage(cpu0.driver);
    await load;
    // Usage records still being retried land (or are given up on) before the store is checked.
    await fleet.drainUsage(65_000);
    // Let usage and submissions in flight land.
    await new Promise((r) => setTimeout(r, 1500));
    let cycleP99Ms: number | null = null;
    try {
      const text = await (await fetch(`${servers[0]!.url}/metrics`)).text();
      cycleP99Ms = histogramP99(text, "zumbido_scheduler_cycle_seconds_bucket", 'phase="total"');
    } catch {
      cycleP99Ms = null;
    }
    // Each cycle phase's p99 over the replicas now running (the larger of the two), to see what a
    // slow cycle spends its time on; a killed process's histograms went with it.
    const cyclePhasesP99Ms: Record<string, number> = {};
    for (const srv of servers) {
      const text = await fetch(`${srv.url}/metrics`).then(
        (r) => r.text(),
        () => "",
      );
      const phases = new Set(
        [...text.matchAll(/zumbido_scheduler_cycle_seconds_bucket\{[^}]*phase="([^"]+)"/g)].map((m) => m[1]!),
      );
      for (const ph of phases) {
        const v = histogramP99(text, "zumbido_scheduler_cycle_seconds_bucket", `phase="${ph}"`);
        if (v !== null) cyclePhasesP99Ms[ph] = Math.max(cyclePhasesP99Ms[ph] ?? 0, v);
      }
    }
    const f = fleet.figures;
    // Checks in the store (src/cli/commands/fleet-check.ts): jobs placed twice, GPUs leased twice,
    // usage lost; read from the rows, not asked of the servers. A node's usage seqs run 1, 2, ...
    const sentUsage: SentUsage[] = fleet.nodes.flatMap((n) =>
      Array.from({ length: n.usageSeq }, (_, i) => ({ nodeId: n.id, seq: i + 1 })),
    );
    const store = await Store.open(parseStoreUrl(storeUrl));
    let check: FleetCheck;
    try {
      check = await checkFleetStore(store.db.kysely, sentUsage);
    } finally {
      await store.close();
    }
    const placeLat: number[] = [];
    const deliverLat: number[] = [];
    for (const [job, at] of check.firstLeaseAt) {
      const sub = submittedAt.get(job);
      if (sub !== undefined) placeLat.push(at - sub);
      const seen = f.seenAt.get(job);
      if (seen !== undefined) deliverLat.push(seen - at);
    }
    return {
      store: o.store,
      nodes: o.nodes,
      replicas: o.replicas,
      seconds: Math.round(seconds * 10) / 10,
      heartbeatsPerS: Math.round(f.hbLat.length / seconds),
      heartbeatP99Ms: p99(f.hbLat),
      heartbeatSteadyP99Ms: p99(f.hbSteadyLat),
      heartbeatSteadyShare: f.hbLat.length
        ? Math.round((f.hbSteadyLat.length / f.hbLat.length) * 100) / 100
        : 0,
      heartbeatBusyP99Ms: p99(f.hbBusyLat),
      submitP99Ms: p99(subLat),
      submitToAssignP99Ms: f.assignLat.length ? p99(f.assignLat) : null,
      cycleP99Ms,
      cyclePhasesP99Ms,
      errors: errors.n,
      warmUpErrors: errors.warm,
      jobsSubmitted: submittedAt.size,
      // Of the measured submissions (the warm-up's are placed and run too, but not counted).
      jobsAssigned: [...f.assignedJobs].filter((j) => submittedAt.has(j)).length,
      jobsPlaced: [...check.firstLeaseAt.keys()].filter((j) => submittedAt.has(j)).length,
      submitToPlaceP50Ms: placeLat.length ? p99(placeLat, 0.5) : null,
      submitToPlaceP99Ms: placeLat.length ? p99(placeLat) : null,
      placeToAssignP99Ms: deliverLat.length ? p99(deliverLat) : null,
      jobsPlacedTwice: check.jobsPlacedTwice,
      gpuDoubleLeased: check.gpuDoubleLeased + f.nodeConflicts,
      lostUsageRecords: check.lostUsageRecords,
      usageSent: sentUsage.length,
      usageUnacked: f.usageUnacked,
      checkExamples: check.examples,
      kills,
      takeoverMs,
      resumeMs,
      termsStarted,
      serverIntervalMs: f.serverIntervalMs,
      warmUpS: (spreadMs + 5000) / 1000,
      enrolPerS: f.enrolPerS,
      ordersPolls: f.ordersAnswered,
      serverCpuPct:
        serverCpu !== null && cpu0.server !== null
          ? Math.round((serverCpu - cpu0.server) / seconds / 10)
          : null,
      serverLoopDelayP99Ms: serverLoop?.p99 ?? null,
      serverLoopDelayMaxMs: serverLoop?.max ?? null,
      driverLoopDelayP99Ms: Math.round(driverLoop.percentile(99) / 1e5) / 10,
      driverLoopDelayMaxMs: Math.round(driverLoop.max / 1e5) / 10,
      driverCpuPct: Math.round((driverCpu.user + driverCpu.system) / 1000 / seconds / 10),
    };
  } finally {
    await fleet?.close();
    for (const p of pools) await p.close().catch(() => undefined);
    for (const s of servers) await stopProc(s.proc);
    await cleanup();
  }
}

/** CPU time a process has used, ms (from /proc; null where there is none). */
function procCpuMs(pid: number | undefined): number | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    // utime and stime, fields 14 and 15 of stat, in clock ticks (100 a second on Linux).
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}

/** The p99 of a Prometheus histogram (upper bound of the bucket holding it, ms), or null without data. */
/** The server's event-loop delay p99 and max (ms) since the last /metrics read (prom-client restarts it). */
async function serverLoopDelay(url: string): Promise<{ p99: number; max: number } | null> {
  const text = await fetch(`${url}/metrics`).then(
    (r) => r.text(),
    () => "",
  );
  const gauge = (name: string): number | null => {
    const m = new RegExp(`^zumbido_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, "m").exec(text);
    return m ? Math.round(Number(m[1]) * 10_000) / 10 : null;
  };
  const p99 = gauge("p99");
  const max = gauge("max");
  return p99 === null || max === null ? null : { p99, max };
}

function histogramP99(text: string, prefix: string, label: string): number | null {
  const rows = text
    .split("\n")
    .filter((l) => l.startsWith(prefix) && l.includes(label))
    .map((l) => {
      const le = /le="([^"]+)"/.exec(l)?.[1] ?? "+Inf";
      return { le: le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le), n: Number(l.split(" ").pop()) };
    });
  const total = rows.find((r) => r.le === Number.POSITIVE_INFINITY)?.n ?? 0;
  if (total === 0) return null;
  const hit = rows.find((r) => r.n >= total * 0.99);
  return hit && Number.isFinite(hit.le) ? hit.le * 1000 : null;
}

const int = (name: string, v: string, min: number, max: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${v}"`);
  return n;
};

/** Adds `fleet --nodes N --store sqlite|postgres [--replicas 2 --kill-leader process|lock] --json` under `zumbido bench`. */
export function registerBenchFleetCommand(bench: Command): void {
  bench
    .command("fleet")
    .description(
      "N simulated 8-GPU nodes speaking the agent protocol to real server processes on loopback, tenants submitting jobs; latency, errors, failover checks",
    )
    .option("--nodes <n>", "simulated nodes (8 GPUs each), 1-20000", "200")
    .option("--store <kind>", "sqlite or postgres", "sqlite")
    .option("--seconds <n>", "measured seconds after enrolment, 5-600", "30")
    .option("--jobs-per-s <n>", "job submissions a second, 1-100", "5")
    .option("--heartbeat-ms <n>", "the nodes' heartbeat interval until the server names one", "1000")
    .option("--replicas <n>", "1 or 2 server processes on one store (2 needs postgres)", "1")
    .option("--kill-leader <how>", "with 2 replicas: process (SIGKILL) or lock (terminate its lock session)")
    .option("--kills <n>", "failovers during the run, 1-50", "10")
    .option("--no-orders-poll", "nodes hold no orders long-poll (assignments wait for the next heartbeat)")
    .option("--liveness-batch-ms <n>", "the servers' liveness batch interval, 0 (off) to 5000")
    .option("--server-entry <path>", "run another checkout's bin/zumbido.js (a baseline)")
    .option("--pg-url <url>", "PostgreSQL server to create the bench database on (ZUMBIDO_TEST_PG_URL)")
    .option("--json", "print the figures as JSON")
    .action(async (o: Record<string, string | boolean | undefined>, cmd: Command) => {
      const json = o.json === true || (cmd.optsWithGlobals() as { json?: boolean }).json === true;
      try {
        if (o.store !== "sqlite" && o.store !== "postgres")
          throw new Error(`--store must be sqlite or postgres, got "${String(o.store)}"`);
        const replicas = int("--replicas", String(o.replicas), 1, 2) as 1 | 2;
        const kill = o.killLeader as string | undefined;
        if (kill !== undefined && kill !== "process" && kill !== "lock")
          throw new Error(`--kill-leader must be process or lock, got "${kill}"`);
        if ((replicas === 2 || kill) && o.store !== "postgres")
          throw new Error("--replicas 2 and --kill-leader need --store postgres (SQLite has one replica)");
        if (kill && replicas !== 2) throw new Error("--kill-leader needs --replicas 2");
        const pgUrl = (o.pgUrl as string | undefined) ?? process.env.ZUMBIDO_TEST_PG_URL;
        const r = await runFleetBench({
          store: o.store,
          nodes: int("--nodes", String(o.nodes), 1, 20_000),
          seconds: int("--seconds", String(o.seconds), 5, 600),
          jobsPerS: int("--jobs-per-s", String(o.jobsPerS), 1, 100),
          heartbeatMs: int("--heartbeat-ms", String(o.heartbeatMs), 100, 60_000),
          replicas,
          ...(kill ? { killLeader: kill } : {}),
          kills: int("--kills", String(o.kills), 1, 50),
          ...(pgUrl ? { pgUrl } : {}),
          ordersPoll: (o.ordersPoll as boolean | undefined) !== false,
          ...(typeof o.serverEntry === "string" ? { serverEntry: o.serverEntry } : {}),
          ...(o.livenessBatchMs !== undefined
            ? { livenessBatchMs: int("--liveness-batch-ms", String(o.livenessBatchMs), 0, 5000) }
            : {}),
          progress: (line) => console.error(`bench fleet: ${line}`),
        });
        if (json) console.log(JSON.stringify(r));
        else
          console.log(
            `${r.store}, ${r.nodes} nodes, ${r.replicas} replica(s), ${r.seconds} s: ${r.heartbeatsPerS} heartbeats/s, heartbeat p99 ${r.heartbeatP99Ms} ms (steady ${r.heartbeatSteadyP99Ms}, busy ${r.heartbeatBusyP99Ms}), submit p99 ${r.submitP99Ms} ms, submit->assign p99 ${r.submitToAssignP99Ms ?? "-"} ms, cycle p99 ${r.cycleP99Ms ?? "-"} ms, errors ${r.errors} (${r.warmUpErrors} while enrolling), placed twice ${r.jobsPlacedTwice}, GPUs double-leased ${r.gpuDoubleLeased}, usage lost ${r.lostUsageRecords}, takeover ${r.takeoverMs.join("/") || "-"} ms, first placement after ${r.resumeMs.join("/") || "-"} ms, event-loop delay p99/max server ${r.serverLoopDelayP99Ms ?? "-"}/${r.serverLoopDelayMaxMs ?? "-"} ms, driver ${r.driverLoopDelayP99Ms}/${r.driverLoopDelayMaxMs} ms`,
          );
      } catch (err) {
        console.error(`zumbido: bench fleet: ${(err as Error).message}`);
        process.exitCode = 2;
      }
    });
}
