import { seededRng } from "../domain/index.js";
import { co2eBound, planCurtailment } from "../energy/index.js";
import type { CurtailableLease, HourlySeries } from "../energy/index.js";
import type { ClusterState } from "../scheduler/index.js";
import type { LogEntry, SimControl, SimHooks } from "./engine.js";
import type { Fleet } from "./fleet.js";
import type { TraceJob } from "./trace.js";

/** Slack a flexible job gets past its run time: deadline = submit + duration + 24 h. */
export const FLEX_SLACK_S = 24 * 3600;

/** A facility cap on a site for simulated [startS, endS). */
export interface CurtailWindow {
  startS: number;
  endS: number;
  maxKw: number;
  siteIdx: number;
}

/** What the output reports for one curtailment. */
export interface CurtailReport {
  startS: number;
  endS: number;
  maxKw: number;
  kwBefore: number;
  kwAtStart: number;
  metAtS: number | null;
  stoppedInterruptible: number;
  stoppedOnDemand: number;
}

/** Parses `START_S:END_S:MAX_KW[:SITE_INDEX]`. */
export function parseCurtail(spec: string): CurtailWindow {
  const parts = spec.split(":");
  const [a, b, c, d] = parts.map(Number);
  if (parts.length < 3 || parts.length > 4 || ![a, b, c].every((x) => Number.isFinite(x)))
    throw new Error(
      `--curtail "${spec}" must be START_S:END_S:MAX_KW (simulated seconds, facility kW), e.g. 3600:7200:200`,
    );
  if (!(b! > a!) || a! < 0)
    throw new Error(`--curtail "${spec}": END_S must be after START_S, and START_S >= 0`);
  if (!(c! >= 0)) throw new Error(`--curtail "${spec}": MAX_KW must be >= 0`);
  return { startS: a!, endS: b!, maxKw: c!, siteIdx: parts.length === 4 ? d! : 0 };
}

/** Which jobs are flexible (interruptible with a deadline): a share drawn with a seed. */
export function flexibleMask(n: number, share: number, seed: number): Uint8Array {
  if (!(share >= 0 && share <= 1)) throw new Error(`--flexible-share must be between 0 and 1, got ${share}`);
  const rng = seededRng(seed);
  const m = new Uint8Array(n);
  for (let k = 0; k < n; k++) m[k] = rng.next() < share ? 1 : 0;
  return m;
}

/** Cyclic integral of a series with O(1) lookups: ∫ value dt over simulated seconds, in value × hours. */
export class CyclicIntegral {
  private cum: Float64Array;
  private periodS: number;
  private stepS: number;
  constructor(private s: HourlySeries) {
    this.stepS = s.stepMs / 1000;
    this.periodS = this.stepS * s.values.length;
    this.cum = new Float64Array(s.values.length + 1);
    s.values.forEach((v, k) => (this.cum[k + 1] = this.cum[k]! + v * this.stepS));
  }
  private F(t: number): number {
    const cycles = Math.floor(t / this.periodS);
    const r = t - cycles * this.periodS;
    const k = Math.min(this.s.values.length - 1, Math.floor(r / this.stepS));
    return cycles * this.cum[this.s.values.length]! + this.cum[k]! + this.s.values[k]! * (r - k * this.stepS);
  }
  /** ∫ over [a, b) seconds since the series' first step, in value × hours. */
  over(a: number, b: number): number {
    return (this.F(b) - this.F(a)) / 3600;
  }
}

/** Integrates facility power over the replay: kWh, kg CO2e and energy cost. */
export class EnergyMeter {
  private last: number[];
  private drawKw: number[];
  energyKwh = 0;
  co2eG = 0;
  costEur = 0;
  private carbonI: CyclicIntegral;
  private priceI: CyclicIntegral | null;
  constructor(siteCount: number, carbon: HourlySeries, price: HourlySeries | null) {
    this.last = new Array<number>(siteCount).fill(0);
    this.drawKw = new Array<number>(siteCount).fill(0);
    this.carbonI = new CyclicIntegral(carbon);
    this.priceI = price ? new CyclicIntegral(price) : null;
  }
  /** Site draw changed at t to drawMilliW (facility milliwatts). */
  change(t: number, si: number, drawMilliW: number): void {
    const kw = this.drawKw[si]!;
    const a = this.last[si]!;
    if (kw > 0 && t > a) {
      this.energyKwh += (kw * (t - a)) / 3600;
      this.co2eG += kw * this.carbonI.over(a, t);
      if (this.priceI) this.costEur += (kw * this.priceI.over(a, t)) / 1000;
    }
    this.last[si] = t;
    this.drawKw[si] = drawMilliW / 1e6;
  }
  /** Current draw of a site, kW. */
  kw(si: number): number {
    return this.drawKw[si]!;
  }
  /** Energy cost in minor units, rounded half up once, here. */
  costMinor(): number {
    return Math.floor(this.costEur * 100 + 0.5);
  }
}

/** Facility kW one GPU of a node draws while busy (TDP or the fleet's figure, times PUE). */
function gpuKw(fleet: Fleet, state: ClusterState, node: number): number {
  const n = fleet.nodes[node]!;
  const site = fleet.sites[state.siteIndex.get(n.siteId)!]!;
  return (n.gpuPowerW * site.pue) / 1000;
}

/** CO2e per job (kg) from the hand-over log: GPUs held × power × PUE × grid intensity over each hold. */
export function perJobCo2eKg(
  fleet: Fleet,
  jobs: TraceJob[],
  log: LogEntry[],
  carbon: HourlySeries,
): Float64Array {
  const I = new CyclicIntegral(carbon);
  const siteOf = new Map(fleet.sites.map((s) => [s.id, s]));
  const out = new Float64Array(jobs.length);
  const since = new Map<number, number>();
  for (const e of log) {
    if (e.start) {
      since.set(e.job, e.t);
      continue;
    }
    const a = since.get(e.job)!;
    let kw = 0;
    e.nodes.forEach((i, k) => {
      const n = fleet.nodes[i]!;
      let c = 0;
      for (let v = e.masks[k]! >>> 0; v !== 0; v &= v - 1) c++;
      kw += (c * n.gpuPowerW * siteOf.get(n.siteId)!.pue) / 1000;
    });
    out[e.job]! += (kw * I.over(a, e.t)) / 1000;
  }
  return out;
}

/**
 * The CO2e bound: every flexible job run in the cleanest hours its window allows (capacity ignored,
 * in any pieces: the limit even for a policy that suspends and resumes), every other job as it ran.
 */
export function co2eBoundKg(
  fleet: Fleet,
  jobs: TraceJob[],
  flexible: Uint8Array,
  actualKg: Float64Array,
  carbon: HourlySeries,
): number {
  const gpuKwOf = (fleet.nodes[0]!.gpuPowerW * fleet.sites[0]!.pue) / 1000;
  let sum = 0;
  jobs.forEach((j, k) => {
    if (!flexible[k]) {
      sum += actualKg[k]!;
      return;
    }
    const ms = (s: number): number => carbon.startMs + s * 1000;
    const energyKwh = (j.gpus * gpuKwOf * j.durationS) / 3600;
    sum += co2eBound(
      {
        earliestStartMs: ms(j.submitS),
        deadlineMs: ms(j.submitS + j.durationS + FLEX_SLACK_S),
        durationMs: j.durationS * 1000,
        energyKwh,
      },
      carbon,
      "split",
    );
  });
  return sum;
}

/**
 * Hooks of the `zumbido-carbon` policy. A flexible job runs only while the grid is at least as clean
 * as the cleanest stretch of its remaining window that still fits its remaining run time before the
 * deadline (less a margin): waiting jobs are held, and running ones get a checkpoint notice at the
 * hour the grid turns dirtier than their threshold. Its run time is the tenant's estimate, which in
 * the simulator is the trace duration (its deadline is defined from it). Other jobs are untouched.
 */
export function carbonDeferral(
  jobs: TraceJob[],
  flexible: Uint8Array,
  carbon: HourlySeries,
  marginS: number,
): SimHooks {
  const stepS = carbon.stepMs / 1000;
  const n = carbon.values.length;
  const valueAtS = (t: number): number => carbon.values[((Math.floor(t / stepS) % n) + n) % n]!;
  const cacheStep = new Float64Array(jobs.length).fill(-1);
  const cacheRem = new Float64Array(jobs.length);
  const cacheHold = new Uint8Array(jobs.length);
  /** True when job j, needing remS more seconds, should not run at t. */
  const hold = (j: number, t: number, remS: number): boolean => {
    const step = Math.floor(t / stepS);
    if (cacheStep[j] === step && Math.abs(cacheRem[j]! - remS) < stepS / 4) return cacheHold[j] === 1;
    const job = jobs[j]!;
    const end = job.submitS + job.durationS + FLEX_SLACK_S - marginS;
    let h = false;
    if (end - t > remS) {
      const pieces: { v: number; len: number }[] = [];
      for (let a = t; a < end;) {
        const b = Math.min(end, (Math.floor(a / stepS) + 1) * stepS);
        pieces.push({ v: valueAtS(a), len: b - a });
        a = b;
      }
      pieces.sort((x, y) => x.v - y.v);
      let left = remS;
      let threshold = Infinity;
      for (const p of pieces) {
        threshold = p.v;
        left -= p.len;
        if (left <= 0) break;
      }
      h = valueAtS(t) > threshold;
    }
    cacheStep[j] = step;
    cacheRem[j] = remS;
    cacheHold[j] = h ? 1 : 0;
    return h;
  };
  return {
    defer(j, t, remainingS) {
      return flexible[j] === 1 && hold(j, t, remainingS);
    },
    nextWake(t) {
      return (Math.floor(t / stepS) + 1) * stepS;
    },
    onWake(t, ctl) {
      for (const j of ctl.running())
        if (flexible[j] === 1 && hold(j, t, ctl.remainingS(j, t))) ctl.preemptWithNotice(j, t);
    },
  };
}

/** Hooks that enforce curtailment windows: notice at start − grace, victims by planCurtailment, report per window. */
export function curtailmentHooks(
  fleet: Fleet,
  windows: CurtailWindow[],
  graceS: number,
  interruptible: Uint8Array,
  meterDraw: (si: number) => number,
): { hooks: SimHooks; reports: CurtailReport[]; capAt: (si: number, t: number) => number } {
  const contracted = fleet.sites.map((s) => s.powerCapKw);
  const notice = windows.map((w) => Math.max(0, w.startS - graceS));
  const reports: CurtailReport[] = windows.map((w) => ({
    startS: w.startS,
    endS: w.endS,
    maxKw: w.maxKw,
    kwBefore: 0,
    kwAtStart: 0,
    metAtS: null,
    stoppedInterruptible: 0,
    stoppedOnDemand: 0,
  }));
  const capAt = (si: number, t: number): number => {
    let c = contracted[si]!;
    windows.forEach((w) => {
      if (w.siteIdx === si && t >= w.startS && t < w.endS) c = Math.min(c, w.maxKw);
    });
    return c;
  };
  /** The engine's cap from the notice on, so nothing new starts above it. */
  const engineCapAt = (si: number, t: number): number => {
    let c = contracted[si]!;
    windows.forEach((w, k) => {
      if (w.siteIdx === si && t >= notice[k]! && t < w.endS) c = Math.min(c, w.maxKw);
    });
    return c;
  };
  const hooks: SimHooks = {
    wakeTimes: [...new Set([...notice, ...windows.map((w) => w.startS), ...windows.map((w) => w.endS)])].sort(
      (a, b) => a - b,
    ),
    onWake(t: number, ctl: SimControl) {
      fleet.sites.forEach((_, si) => ctl.state.setPowerCap(si, engineCapAt(si, t)));
      windows.forEach((w, k) => {
        const rep = reports[k]!;
        const si = w.siteIdx;
        if (t === notice[k]) {
          rep.kwBefore = meterDraw(si);
          const leases: CurtailableLease[] = [];
          for (const j of ctl.running()) {
            const nodes = ctl.jobNodes(j);
            if (nodes.length === 0 || ctl.state.groups[ctl.state.groupOf(nodes[0]!)]!.siteIdx !== si)
              continue;
            const kw = ctl.jobGpus(j) * gpuKw(fleet, ctl.state, nodes[0]!);
            const site = fleet.sites[si]!;
            const pr = site.prices[fleet.nodes[nodes[0]!]!.gpuModel];
            const cls = interruptible[j] === 1 ? "interruptible" : "on-demand";
            leases.push({
              id: String(j),
              class: cls,
              facilityKw: kw,
              priceMinorPerGpuHour:
                (cls === "interruptible" ? pr?.interruptibleMinorPerGpuHour : pr?.onDemandMinorPerGpuHour) ??
                0,
              gpus: ctl.jobGpus(j),
              startedAtMs: 0,
            });
          }
          const plan = planCurtailment(leases, rep.kwBefore, {
            maxKw: w.maxKw,
            startMs: w.startS * 1000,
            endMs: w.endS * 1000,
          });
          for (const v of plan.victims) ctl.preemptWithNotice(Number(v.id), t);
          rep.stoppedInterruptible = plan.stopInterruptible.length;
          rep.stoppedOnDemand = plan.stopOnDemand.length;
          if (rep.kwBefore <= w.maxKw + 1e-9) rep.metAtS = t;
        }
        if (t === w.startS) {
          rep.kwAtStart = meterDraw(si);
          if (rep.metAtS === null && rep.kwAtStart <= w.maxKw + 1e-9) rep.metAtS = t;
        }
      });
    },
  };
  return { hooks, reports, capAt };
}
