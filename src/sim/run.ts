import type { HourlySeries } from "../energy/index.js";
import type { GittinsOptions } from "../scheduler/index.js";
import type { Fleet } from "./fleet.js";
import { replay } from "./engine.js";
import type { SimHooks, SimRun } from "./engine.js";
import { checkReplay } from "./checker.js";
import type { SimPolicyName } from "./policies.js";
import { SIM_POLICIES } from "./policies.js";
import { summarise } from "./result.js";
import type { SimResult } from "./result.js";
import type { TraceJob } from "./trace.js";
import {
  carbonDeferral,
  co2eBoundKg,
  curtailmentHooks,
  EnergyMeter,
  FLEX_SLACK_S,
  flexibleMask,
  perJobCo2eKg,
} from "./energy-sim.js";
import type { CurtailWindow } from "./energy-sim.js";

/** What one `zumbido sim` invocation asks for. */
export interface SimRequest {
  trace: TraceJob[];
  fleet: Fleet;
  policies: SimPolicyName[];
  /** Carbon series (gCO2e/kWh) and optional price series (EUR/MWh); trace second 0 is their first step. */
  energy?: { carbon: HourlySeries; price: HourlySeries | null };
  /** Share of jobs (drawn with `seed`) that are flexible: interruptible, deadline submit + duration + 24 h. */
  flexibleShare?: number;
  seed?: number;
  curtail?: CurtailWindow[];
  /** Margin zumbido-carbon keeps before a flexible job's deadline, seconds (default 2 h). */
  carbonMarginS?: number;
  /** GPU time a resumed job spends reloading and warming up, seconds (default 60). */
  restoreOverheadS?: number;
  /** Seconds of progress between checkpoints; preemption loses the work since the last one (default 1800, 0 = perfect). */
  checkpointIntervalS?: number;
  /** Fair share by tenant inside a level, as the control plane orders (default: FIFO inside a level). */
  fairShare?: boolean;
  /** Knobs of the zumbido policy (tuning experiments only). */
  gittins?: Partial<GittinsOptions>;
  /** Breaks the preemption choice's ties another way (SimOptions.tieSeed; 0 = the product's order). */
  tieSeed?: number;
  onProgress?: (policy: SimPolicyName, finished: number, total: number) => void;
}

/** Checks a policy name; throws a message listing the valid ones. */
export function parsePolicy(p: string): SimPolicyName {
  if (!(SIM_POLICIES as readonly string[]).includes(p))
    throw new Error(`unknown policy "${p}"; use one of ${SIM_POLICIES.join(", ")}`);
  return p as SimPolicyName;
}

const ZERO: HourlySeries = { startMs: 0, stepMs: 3_600_000, values: [0] };

/** Replays the trace once per policy, checks each replay, and summarises it (with energy fields when asked). */
export function runSimulation(req: SimRequest): { result: SimResult; run: SimRun }[] {
  const n = req.trace.length;
  const flexible =
    req.flexibleShare !== undefined ? flexibleMask(n, req.flexibleShare, req.seed ?? 1) : new Uint8Array(n);
  const interruptible = Uint8Array.from(req.trace, (j, k) =>
    flexible[k] === 1 || j.class === "interruptible" ? 1 : 0,
  );
  for (const w of req.curtail ?? [])
    if (w.siteIdx < 0 || w.siteIdx >= req.fleet.sites.length)
      throw new Error(
        `--curtail site index ${w.siteIdx} is not a site of the fleet (0..${req.fleet.sites.length - 1})`,
      );
  return req.policies.map((policy) => {
    if (policy === "zumbido-carbon" && !req.energy)
      throw new Error("policy zumbido-carbon needs --energy FILE (a carbon series)");
    const carbon = req.energy?.carbon ?? ZERO;
    const meter = new EnergyMeter(req.fleet.sites.length, carbon, req.energy?.price ?? null);
    const curtail = req.curtail?.length
      ? curtailmentHooks(req.fleet, req.curtail, 30, interruptible, (si) => meter.kw(si))
      : null;
    const deferral =
      policy === "zumbido-carbon"
        ? carbonDeferral(req.trace, flexible, carbon, req.carbonMarginS ?? 2 * 3600)
        : null;
    const hooks: SimHooks = {
      ...(deferral
        ? {
            defer: (j: number, t: number, rem: number) => deferral.defer!(j, t, rem),
            nextWake: (t: number) => deferral.nextWake!(t),
          }
        : {}),
      ...(curtail ? { wakeTimes: curtail.hooks.wakeTimes } : {}),
      onWake(t, ctl) {
        curtail?.hooks.onWake?.(t, ctl);
        deferral?.onWake?.(t, ctl);
      },
      onBusyChange(t, si, drawMilliW) {
        meter.change(t, si, drawMilliW);
        if (!curtail) return;
        for (const rep of curtail.reports) {
          const w = req.curtail!.find(
            (x) => x.startS === rep.startS && x.endS === rep.endS && x.maxKw === rep.maxKw,
          )!;
          if (
            w.siteIdx === si &&
            rep.metAtS === null &&
            t >= Math.max(0, w.startS - 30) &&
            t <= w.startS &&
            drawMilliW / 1e6 <= w.maxKw + 1e-9
          )
            rep.metAtS = t;
        }
      },
    };
    const run = replay(req.trace, req.fleet, {
      policy,
      interruptible,
      hooks,
      ...(req.restoreOverheadS !== undefined ? { restoreOverheadS: req.restoreOverheadS } : {}),
      ...(req.checkpointIntervalS !== undefined ? { checkpointIntervalS: req.checkpointIntervalS } : {}),
      ...(req.fairShare ? { fairShare: true } : {}),
      ...(req.gittins ? { gittins: req.gittins } : {}),
      ...(req.tieSeed ? { tieSeed: req.tieSeed } : {}),
      onProgress: (f, t) => req.onProgress?.(policy, f, t),
    });
    const violations = checkReplay(req.fleet, req.trace, run.log, curtail?.capAt);
    const result = summarise(run, violations.length);
    if (req.energy) {
      result.energyKwh = round3(meter.energyKwh);
      result.co2eKg = round3(meter.co2eG / 1000);
      result.energyCostMinor = req.energy.price ? meter.costMinor() : null;
      if (req.flexibleShare !== undefined) {
        const actual = perJobCo2eKg(req.fleet, req.trace, run.log, carbon);
        result.co2eBoundKg = round3(co2eBoundKg(req.fleet, req.trace, flexible, actual, carbon));
      }
    }
    if (req.flexibleShare !== undefined) {
      let missed = 0;
      let other = 0;
      let otherN = 0;
      req.trace.forEach((j, k) => {
        if (flexible[k]) {
          if (run.finish[k]! > j.submitS + j.durationS + FLEX_SLACK_S + 1e-6) missed++;
        } else {
          other += run.finish[k]! - j.submitS;
          otherN++;
        }
      });
      result.flexibleJobs = n - otherN;
      result.deadlinesMissed = missed;
      result.avgJctOtherS = round3(otherN ? other / otherN : 0);
    }
    if (curtail) {
      result.curtailments = curtail.reports.map((r) => ({
        ...r,
        kwBefore: round3(r.kwBefore),
        kwAtStart: round3(r.kwAtStart),
      }));
      for (const r of curtail.reports)
        if (r.metAtS === null || r.metAtS > r.startS || r.kwAtStart > r.maxKw + 1e-6) result.violations++;
    }
    return { result, run };
  });
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
