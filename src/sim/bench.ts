import { seededRng } from "../domain/index.js";
import type { JobRequest, Rng } from "../domain/index.js";
import {
  ClusterState,
  DEFAULT_POLICY,
  explainNoFit,
  referencePlacement,
  siteAllows,
} from "../scheduler/index.js";
import type { NodeView, Policy, SiteView } from "../scheduler/index.js";
import { lpLowerBound } from "./lp-bound.js";

/** A generated federation and job stream. */
export interface BenchInput {
  sites: SiteView[];
  nodes: NodeView[];
  jobs: JobRequest[];
  /** Lifetime of each job, in decisions, once placed. */
  lifetimes: number[];
}

/** What `zumbido bench scheduler` prints. */
export interface SchedulerBenchResult {
  gpus: number;
  nodes: number;
  sites: number;
  jobs: number;
  placementsPerSecond: number;
  decisionP50Us: number;
  decisionP99Us: number;
  referencePlacementsPerSecond: number;
  violations: number;
  /** Cost of the greedy placement of a static batch over the LP lower bound, percent. */
  lpGapPct: number;
  /** Jobs compared with the reference (a prefix of the stream). */
  referenceJobs: number;
  placed: number;
  /** Jobs that fit nowhere when they came, and the time to word their reasons (not in the figures above). */
  waits: number;
  waitReasonsP99Us: number;
  /** All decisions, wait reasons included, per second. */
  decisionsWithReasonsPerSecond: number;
  /** Placements per second of CPU time of the whole fast loop (wait reasons, checks and timers included): immune to a shared CPU. */
  placementsPerCpuSecond: number;
}

const COUNTRIES = ["ES", "DE", "FR", "SE", "FI", "NO", "IS", "PY", "US", "CA", "KZ", "GE"];
const MODELS: { id: string; w: number; mem: number; tdp: number; price: [number, number] }[] = [
  { id: "H100", w: 0.35, mem: 80, tdp: 700, price: [180, 320] },
  { id: "A100", w: 0.3, mem: 80, tdp: 400, price: [90, 180] },
  { id: "L40S", w: 0.2, mem: 48, tdp: 350, price: [60, 120] },
  { id: "RTX4090", w: 0.15, mem: 24, tdp: 450, price: [30, 70] },
];

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)]!;
const between = (rng: Rng, lo: number, hi: number): number => Math.floor(lo + rng.next() * (hi - lo + 1));

/** Generates a heterogeneous federation of about `gpus` GPUs and a constrained job stream. */
export function generateBench(gpus: number, seed: number, jobCount?: number): BenchInput {
  const rng = seededRng(seed);
  const sites: SiteView[] = [];
  const nodes: NodeView[] = [];
  const siteCount = Math.max(3, Math.round(gpus / 400));
  const perSite = gpus / siteCount;
  let made = 0;
  for (let s = 0; s < siteCount && made < gpus; s++) {
    const id = `site-${String(s).padStart(4, "0")}`;
    const pue = 1.05 + rng.next() * 0.35;
    const overheadW = between(rng, 150, 500);
    const models = MODELS.filter(() => rng.next() < 0.55);
    if (models.length === 0) models.push(pick(rng, MODELS));
    const prices: SiteView["prices"] = {};
    for (const m of models) {
      const od = between(rng, m.price[0], m.price[1]);
      prices[m.id] = {
        onDemandMinorPerGpuHour: od,
        interruptibleMinorPerGpuHour: Math.floor(od * (0.4 + rng.next() * 0.2)),
      };
    }
    let siteGpus = 0;
    let fullW = 0;
    const target = s === siteCount - 1 ? gpus - made : Math.round(perSite * (0.5 + rng.next()));
    while (siteGpus < target) {
      const m = pick(rng, models);
      const size = Math.min(target - siteGpus, pick(rng, [1, 2, 4, 8, 8, 8]));
      nodes.push({
        id: `${id}-n${String(nodes.length).padStart(6, "0")}`,
        siteId: id,
        gpuModel: m.id,
        gpuMemoryGb: m.mem,
        gpuIndices: Array.from({ length: size }, (_, i) => i),
        gpuPowerW: m.tdp,
        schedulable: rng.next() > 0.01,
      });
      siteGpus += size;
      fullW += size * m.tdp * pue + overheadW * pue;
    }
    made += siteGpus;
    sites.push({
      id,
      name: id,
      country: pick(rng, COUNTRIES),
      pue,
      // Budgets bind: most sites may draw 70-100 % of their full-load power.
      powerCapKw: (fullW / 1000) * (0.7 + rng.next() * 0.3),
      nodeOverheadW: overheadW,
      carbonGPerKwh: between(rng, 20, 600),
      prices,
    });
  }
  const total = nodes.reduce((a, n) => a + n.gpuIndices.length, 0);
  const count = jobCount ?? Math.max(20_000, Math.min(200_000, total));
  const jobs: JobRequest[] = [];
  const lifetimes: number[] = [];
  const avgGpus = 3.3;
  const meanLife = Math.max(10, (0.8 * total) / avgGpus);
  for (let k = 0; k < count; k++) {
    const u = rng.next();
    const g = u < 0.4 ? 1 : u < 0.6 ? 2 : u < 0.8 ? 4 : u < 0.97 ? 8 : 16;
    const first = pick(rng, MODELS).id;
    const r: JobRequest = {
      gpuModels:
        rng.next() < 0.3
          ? [
              first,
              pick(
                rng,
                MODELS.filter((m) => m.id !== first),
              ).id,
            ]
          : [first],
      gpus: g,
      class: rng.next() < 0.2 ? "interruptible" : "on-demand",
    };
    if (rng.next() < 0.2) r.jurisdiction = "EU";
    if (rng.next() < 0.05) r.countries = [pick(rng, COUNTRIES), pick(rng, COUNTRIES)];
    if (rng.next() < 0.3) r.maxPriceMinorPerGpuHour = between(rng, 80, 300);
    if (rng.next() < 0.1) r.maxCarbonGPerKwh = between(rng, 100, 400);
    if (rng.next() < 0.1) r.minGpuMemoryGb = 48;
    jobs.push(r);
    lifetimes.push(Math.max(1, Math.round(meanLife * (0.5 + rng.next()))));
  }
  return { sites, nodes, jobs, lifetimes };
}

/**
 * Runs the scheduler bench: the fast indexed state against the linear-scan reference on one stream.
 * placementsPerSecond and the decision percentiles time each placement attempt (search and commit,
 * failed attempts included); wording the reasons of a wait is timed apart (waitReasonsP99Us) and
 * included in decisionsWithReasonsPerSecond.
 */
export async function runSchedulerBench(opts: {
  gpus: number;
  seed?: number;
  referenceJobs?: number;
  jobs?: number;
}): Promise<SchedulerBenchResult> {
  const seed = opts.seed ?? 1;
  const input = generateBench(opts.gpus, seed, opts.jobs);
  const policy: Policy = DEFAULT_POLICY;
  const refN = Math.min(
    input.jobs.length,
    opts.referenceJobs ?? Math.max(200, Math.min(3000, Math.floor(3e8 / (input.nodes.length * 50)))),
  );

  // 1. Fast scheduler over the whole stream, timing each decision (placement or explained wait).
  //    Three passes on fresh state (same stream): the timing figures come from the fastest pass, since
  //    a shared CPU only ever slows a pass down; the checks run in every pass.
  const passes = [0, 1, 2].map(() => fastPass(input, policy, refN));
  const fast = passes.reduce((a, b) => (b.totalMs < a.totalMs ? b : a));
  const { times, explainTimes, fastPicks, placed, loopCpuS, totalMs } = fast;
  let violations = Math.max(...passes.map((p) => p.violations));
  const explainMs = explainTimes.reduce((a, b) => a + b, 0);
  const sorted = Float64Array.from(times).sort();
  const sortedExplain = Float64Array.from(explainTimes).sort();
  const us = (ms: number | undefined): number => Math.round((ms ?? 0) * 1000 * 10) / 10;

  // 2. Reference scheduler over the prefix, same stream, same releases; every disagreement is a violation.
  const free = new Map(input.nodes.map((n) => [n.id, new Set(n.gpuIndices)]));
  const refExpiry = new Map<number, { id: string; gpus: number[] }[][]>();
  const r0 = performance.now();
  let refPlaced = 0;
  for (let k = 0; k < refN; k++) {
    for (const rel of refExpiry.get(k) ?? [])
      for (const p of rel) for (const g of p.gpus) free.get(p.id)!.add(g);
    const r = input.jobs[k]!;
    const pickRef = referencePlacement(input.sites, input.nodes, free, policy, r);
    const ids = pickRef ? pickRef.nodes.map((n) => n.id).join("+") : null;
    if (ids !== fastPicks[k]) violations++;
    if (pickRef) {
      refPlaced++;
      const held = pickRef.nodes.map((n, x) => {
        const f = [...free.get(n.id)!].sort((a, b) => a - b).slice(0, pickRef.takes[x]);
        for (const g of f) free.get(n.id)!.delete(g);
        return { id: n.id, gpus: f };
      });
      const at = k + input.lifetimes[k]!;
      refExpiry.set(at, [...(refExpiry.get(at) ?? []), held]);
    }
  }
  const refMs = performance.now() - r0;

  // 3. A static batch priced by cost against the LP lower bound.
  const lpGapPct = await lpGap(Math.min(opts.gpus, 2048), seed);
  return {
    gpus: input.nodes.reduce((a, n) => a + n.gpuIndices.length, 0),
    nodes: input.nodes.length,
    sites: input.sites.length,
    jobs: input.jobs.length,
    placementsPerSecond: Math.round(placed / (totalMs / 1000)),
    decisionP50Us: us(sorted[Math.floor(sorted.length * 0.5)]),
    decisionP99Us: us(sorted[Math.floor(sorted.length * 0.99)]),
    waits: explainTimes.length,
    waitReasonsP99Us: us(sortedExplain[Math.floor(sortedExplain.length * 0.99)]),
    decisionsWithReasonsPerSecond: Math.round(input.jobs.length / ((totalMs + explainMs) / 1000)),
    placementsPerCpuSecond: Math.round(placed / loopCpuS),
    referencePlacementsPerSecond: Math.round(refPlaced / (refMs / 1000)),
    violations,
    lpGapPct,
    referenceJobs: refN,
    placed,
  };
}

/** One timed pass of the fast scheduler over the stream, with the independent checker. */
function fastPass(input: BenchInput, policy: Policy, refN: number) {
  const state = new ClusterState(
    input.sites.map((s) => ({ ...s })),
    input.nodes,
    policy,
  );
  const times = new Float64Array(input.jobs.length);
  const explainTimes: number[] = [];
  const expiry = new Map<number, { nodes: number[]; masks: number[] }[]>();
  const fastPicks: (string | null)[] = [];
  let placed = 0;
  const checker = new PlacementChecker(input.sites, input.nodes);
  let violations = 0;
  const cpu0 = process.cpuUsage();
  for (let k = 0; k < input.jobs.length; k++) {
    for (const rel of expiry.get(k) ?? []) {
      rel.nodes.forEach((i, x) => state.releaseMask(i, rel.masks[x]!));
      checker.release(rel.nodes, rel.masks);
    }
    expiry.delete(k);
    const r = input.jobs[k]!;
    const t0 = performance.now();
    const c = state.findPlacement(r);
    let masks: number[] | null = null;
    if (c) masks = state.commit(c);
    times[k] = performance.now() - t0;
    if (!c) {
      const t1 = performance.now();
      explainNoFit(state, r);
      explainTimes.push(performance.now() - t1);
    }
    if (c && masks) {
      placed++;
      violations += checker.place(r, c.nodes, masks, c.siteIdx, c.price);
      const at = k + input.lifetimes[k]!;
      const list = expiry.get(at) ?? [];
      list.push({ nodes: c.nodes, masks });
      expiry.set(at, list);
    }
    if (k < refN) fastPicks.push(c ? c.nodes.map((i) => input.nodes[i]!.id).join("+") : null);
  }
  const cpu = process.cpuUsage(cpu0);
  const loopCpuS = (cpu.user + cpu.system) / 1e6;
  const totalMs = times.reduce((a, b) => a + b, 0);
  return { times, explainTimes, fastPicks, placed, violations, loopCpuS, totalMs };
}

/** Greedy placement cost of a static batch over its LP lower bound (HiGHS), in percent. */
export async function lpGap(gpus: number, seed: number): Promise<number> {
  const input = generateBench(gpus, seed + 7, 1);
  for (const s of input.sites) s.carbonGPerKwh = undefined;
  const costPolicy: Policy = { ...DEFAULT_POLICY, carbonWeight: 0, packingWeight: 0 };
  const state = new ClusterState(input.sites, input.nodes, costPolicy);
  const rng = seededRng(seed + 11);
  const total = input.nodes.reduce((a, n) => a + n.gpuIndices.length, 0);
  const batch: JobRequest[] = [];
  let demand = 0;
  while (demand < total * 0.85) {
    const g = pick(rng, [1, 1, 2, 4, 8]);
    const r: JobRequest = { gpuModels: [pick(rng, MODELS).id], gpus: g, class: "on-demand" };
    if (rng.next() < 0.25) r.jurisdiction = "EU";
    if (rng.next() < 0.2) r.maxPriceMinorPerGpuHour = between(rng, 150, 320);
    batch.push(r);
    demand += g;
  }
  let greedy = 0;
  const placedJobs: JobRequest[] = [];
  for (const r of batch) {
    const c = state.findPlacement(r);
    if (!c) continue;
    state.commit(c);
    greedy += c.price * r.gpus;
    placedJobs.push(r);
  }
  const fresh = new ClusterState(input.sites, input.nodes, costPolicy);
  const bound = await lpLowerBound(fresh, placedJobs);
  return Math.round(((greedy - bound) / bound) * 100 * 1000) / 1000;
}

/** Independent running check of the bench's placements (own GPU and power bookkeeping). */
class PlacementChecker {
  private held: Uint32Array;
  private busy: Int32Array;
  private drawW: Float64Array;
  private siteOf: Int32Array;
  constructor(
    private sites: SiteView[],
    private nodes: NodeView[],
  ) {
    this.held = new Uint32Array(nodes.length);
    this.busy = new Int32Array(nodes.length);
    this.drawW = new Float64Array(sites.length);
    const idx = new Map(sites.map((s, i) => [s.id, i]));
    this.siteOf = Int32Array.from(nodes, (n) => idx.get(n.siteId)!);
  }
  private delta(i: number, d: number): void {
    const s = this.siteOf[i]!;
    const site = this.sites[s]!;
    const before = this.busy[i]!;
    this.busy[i] = before + d;
    this.drawW[s]! += d * this.nodes[i]!.gpuPowerW * site.pue;
    if (before === 0 && d > 0) this.drawW[s]! += site.nodeOverheadW * site.pue;
    if (before + d === 0 && d < 0) this.drawW[s]! -= site.nodeOverheadW * site.pue;
  }
  place(r: JobRequest, nodes: number[], masks: number[], siteIdx: number, price: number): number {
    let bad = 0;
    let total = 0;
    nodes.forEach((i, k) => {
      const m = masks[k]! >>> 0;
      if ((this.held[i]! & m) !== 0) bad++;
      this.held[i] = (this.held[i]! | m) >>> 0;
      let c = 0;
      for (let v = m; v !== 0; v &= v - 1) c++;
      total += c;
      this.delta(i, c);
      const n = this.nodes[i]!;
      if (this.siteOf[i] !== siteIdx || !r.gpuModels.includes(n.gpuModel) || !n.schedulable) bad++;
      if (r.minGpuMemoryGb !== undefined && n.gpuMemoryGb < r.minGpuMemoryGb) bad++;
    });
    if (total !== r.gpus) bad++;
    const site = this.sites[siteIdx]!;
    if (!siteAllows(site, r)) bad++;
    if (r.maxPriceMinorPerGpuHour !== undefined && price > r.maxPriceMinorPerGpuHour) bad++;
    // The scheduler rounds each GPU and node to whole milliwatts; allow that rounding (under 1 W per site).
    if (this.drawW[siteIdx]! > site.powerCapKw * 1000 + 1) bad++;
    return bad;
  }
  release(nodes: number[], masks: number[]): void {
    nodes.forEach((i, k) => {
      const m = masks[k]! >>> 0;
      this.held[i] = (this.held[i]! & ~m) >>> 0;
      let c = 0;
      for (let v = m; v !== 0; v &= v - 1) c++;
      this.delta(i, -c);
    });
  }
}
