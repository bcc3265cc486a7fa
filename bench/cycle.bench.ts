// Scheduling-cycle time against fleet size (issue 19): the cycle on the kept snapshot
// (src/control/kept-snapshot.ts) against the full-rebuild path (the whole fleet turned into the
// scheduler's input every cycle), run alternately in the same process on one SQLite store, at
// 1,000 / 10,000 / 20,000 nodes of 8 GPUs with a lease on every 20th node: an unchanged fleet (no
// pending job), then the same fleet with 5 jobs that stay pending (the scheduler runs every cycle).
// Target: the cycle over an unchanged fleet does not grow with the fleet (p50 at 20,000 nodes within
// 2x of 1,000). ZUMBIDO_BENCH_CYCLE_SIZES=1000,2000 picks other sizes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApi, makeServices } from "../src/api/server.js";
import { Metrics } from "../src/api/metrics.js";
import { DEFAULT_API_SETTINGS } from "../src/api/settings.js";
import { ClusterView, SchedulerLoop, SecretBox, sequentialIds, type Ctx } from "../src/control/index.js";
import { ManualClock, type Gpu } from "../src/domain/index.js";
import { DEFAULT_POLICY } from "../src/scheduler/index.js";
import { Store } from "../src/store/index.js";

const SIZES = (process.env.ZUMBIDO_BENCH_CYCLE_SIZES ?? "1000,10000,20000").split(",").map(Number);
const CYCLES = 80;

interface Figures {
  p50: number;
  p99: number;
}

function pct(xs: number[]): Figures {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

const fmt = (x: number): string => (x < 10 ? x.toFixed(2) : x.toFixed(0));

/** One fleet of `nodes` nodes on a fresh SQLite store, with a kept-snapshot loop and a rebuild loop. */
async function fleet(nodes: number) {
  const dir = mkdtempSync(join(tmpdir(), "zumbido-cycle-bench-"));
  const store = await Store.open({ kind: "sqlite", path: join(dir, "zumbido.db") });
  const clock = new ManualClock(Date.UTC(2026, 11, 2, 8, 0, 0));
  const ctx: Ctx = {
    store,
    clock,
    ids: sequentialIds(),
    config: {
      currency: "EUR",
      logCapBytes: 64 * 1024,
      heartbeatTimeoutMs: 3_600_000,
      stopGraceS: 10,
      enrolmentTokenTtlMs: 3_600_000,
      policy: DEFAULT_POLICY,
      region: "EU (ES)",
      deferFlexible: false,
    },
    nudge: () => undefined,
    secrets: SecretBox.random(),
  };
  const kept = new SchedulerLoop(ctx);
  ctx.view = kept.view;
  const rebuild = new SchedulerLoop({
    ...ctx,
    view: new ClusterView(store, undefined, { keepSnapshot: false }),
  });
  const app = await buildApi(
    makeServices(ctx, new Metrics(false), {
      ...DEFAULT_API_SETTINGS,
      rate: { ...DEFAULT_API_SETTINGS.rate, enabled: false },
    }),
  );
  const { key: admin } = await store.accounts.createKey({
    id: "key_admin",
    role: "admin",
    ownerId: null,
    name: "admin",
    now: clock.now(),
  });
  const call = async (key: string, method: "POST" | "PUT", url: string, body: unknown) => {
    const r = await app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key}` },
      payload: body as object,
    });
    if (r.statusCode >= 300) throw new Error(`${method} ${url}: ${r.statusCode} ${r.body}`);
    return r.json<Record<string, unknown>>();
  };
  const op = await call(admin, "POST", "/v1/operators", { name: "Bench Power" });
  const t = await call(admin, "POST", "/v1/tenants", {
    name: "Bench AI",
    country: "ES",
    creditLimitMinor: 1e12,
  });
  const opKey = op.key as string;
  const tenantKey = t.key as string;
  const sites: string[] = [];
  for (const [name, country] of [
    ["Asturias", "ES"],
    ["Kajaani", "FI"],
  ] as const) {
    const s = await call(opKey, "POST", "/v1/sites", {
      name,
      country,
      lat: 40,
      lon: -3,
      powerKw: 1_000_000,
      pue: 1.2,
      cooling: "air",
    });
    sites.push(s.id as string);
    await call(opKey, "PUT", `/v1/sites/${s.id as string}/prices/H100`, {
      onDemandMinorPerGpuHour: 240,
      interruptibleMinorPerGpuHour: 120,
    });
  }
  // Nodes straight into the store (enrolment through the API would dominate the setup).
  const now = clock.now();
  const db = store.db.kysely;
  for (let b = 0; b < nodes; b += 500) {
    const rows = [];
    for (let i = b; i < Math.min(nodes, b + 500); i++) {
      const gpus: Gpu[] = Array.from({ length: 8 }, (_, k) => ({
        index: k,
        uuid: `GPU-${i}-${k}`,
        model: "H100",
        name: "NVIDIA H100 80GB HBM3",
        memoryMb: 81_559,
        powerLimitW: 700,
        healthy: true,
      }));
      rows.push({
        id: `node_${String(i).padStart(6, "0")}`,
        site_id: sites[i % sites.length]!,
        name: `n${i}`,
        state: "ready",
        state_reason: null,
        executor: "local",
        gpus_json: JSON.stringify(gpus),
        approved_gpus_json: JSON.stringify(gpus),
        inventory_changed_at: null,
        driver_version: "550.54",
        last_heartbeat_at: now,
        created_at: now,
        runtime_json: null,
        cluster_json: null,
      });
    }
    await db.insertInto("nodes").values(rows).execute();
  }
  // A lease on every 20th node: whole-node jobs, placed by the loop.
  for (let i = 0; i < nodes / 20; i++)
    await call(tenantKey, "POST", "/v1/jobs", { gpus: 8, gpuModels: ["H100"], command: ["train"] });
  const first = await kept.tick();
  if (first.placed < Math.floor(nodes / 20)) throw new Error(`placed ${first.placed} of ${nodes / 20} jobs`);
  await rebuild.tick();
  return {
    kept,
    rebuild,
    clock,
    /** The failure detection's scan of the nodes (step 1, at most once a second), ms, median of 5. */
    async detectionMs(): Promise<number> {
      const xs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await store.fleet.markStaleNodesOffline(clock.now() - ctx.config.heartbeatTimeoutMs);
        xs.push(performance.now() - t0);
      }
      return pct(xs).p50;
    },
    /** Jobs that stay pending: they ask for a country without sites (the scheduler runs each cycle). */
    async addPending(n: number): Promise<void> {
      for (let i = 0; i < n; i++)
        await call(tenantKey, "POST", "/v1/jobs", {
          gpus: 8,
          gpuModels: ["H100"],
          countries: ["PY"],
          command: ["wait"],
        });
    },
    async close(): Promise<void> {
      await kept.stop();
      await rebuild.stop();
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Cycles of the two loops, in blocks; wall time of each tick, ms. */
async function measure(
  f: Awaited<ReturnType<typeof fleet>>,
): Promise<{ kept: Figures; rebuild: Figures; phases: string }> {
  const times = { kept: [] as number[], rebuild: [] as number[] };
  const phases = new Map<string, number[]>();
  // Blocks of each path in turn (the machine's load changes; one path's garbage should not be
  // collected in the other's cycles), the first cycles of each block dropped.
  for (let b = 0; b < 4; b++)
    for (let i = -5; i < CYCLES / 4; i++) {
      const which = b % 2 === 0 ? "kept" : "rebuild";
      f.clock.advance(20);
      const t0 = performance.now();
      const r = await f[which].tick();
      if (i < 0) continue;
      times[which].push(performance.now() - t0);
      if (which === "kept")
        for (const [k, v] of Object.entries(r.phasesMs)) phases.set(k, [...(phases.get(k) ?? []), v]);
    }
  // The kept path's slowest phases at their median, for the curious (ZUMBIDO_BENCH_CYCLE_PHASES=1).
  const top = [...phases]
    .filter(([k]) => k !== "total")
    .map(([k, v]) => [k, pct(v).p50] as const)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(", ");
  return { kept: pct(times.kept), rebuild: pct(times.rebuild), phases: top };
}

/** Prints cycle p50/p99 at each fleet size for both paths, and their ratio. */
export default async function cycleBench(): Promise<void> {
  const idleAt: number[] = [];
  for (const n of SIZES) {
    const f = await fleet(n);
    try {
      const idle = await measure(f);
      await f.addPending(5);
      const busy = await measure(f);
      idleAt.push(idle.kept.p50);
      const detect = await f.detectionMs();
      for (const [label, r] of [
        ["unchanged fleet", idle],
        ["5 pending jobs ", busy],
      ] as const)
        console.log(
          `cycle ${String(n).padStart(6)} nodes, ${label}: kept p50 ${fmt(r.kept.p50)} ms p99 ${fmt(r.kept.p99)} ms; ` +
            `rebuild p50 ${fmt(r.rebuild.p50)} ms p99 ${fmt(r.rebuild.p99)} ms [baseline]; ` +
            `rebuild/kept x${(r.rebuild.p50 / r.kept.p50).toFixed(1)} (p50), x${(r.rebuild.p99 / r.kept.p99).toFixed(1)} (p99)` +
            (process.env.ZUMBIDO_BENCH_CYCLE_PHASES ? `; kept phases p50 ms: ${r.phases}` : ""),
        );
      console.log(
        `cycle ${String(n).padStart(6)} nodes: failure detection's node scan ${fmt(detect)} ms (once a second, in the cycle that runs it; not in the figures above unless it fell in a measured cycle)`,
      );
    } finally {
      await f.close();
    }
  }
  if (idleAt.length > 1) {
    const growth = idleAt[idleAt.length - 1]! / idleAt[0]!;
    console.log(
      `unchanged-fleet cycle p50 growth ${SIZES[0]} -> ${SIZES[SIZES.length - 1]} nodes: x${growth.toFixed(2)} (target <= 2): ${growth <= 2 ? "met" : "MISSED"}`,
    );
  }
}
