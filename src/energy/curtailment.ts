/**
 * Curtailment planning: which running leases to stop so that a site's facility draw falls under a
 * cap by the cap's start (docs/energy.md, "Curtailment"). Pure: the control loop or the simulator
 * executes the plan (checkpoint notice, then stop).
 *
 * The rule:
 * 1. Interruptible leases first, cheapest to stop first: least revenue lost per kW freed
 *    (price per GPU-hour x GPUs / facility kW), ties by most recently started, then by id.
 * 2. On-demand leases only if stopping every interruptible lease cannot meet the cap; then fewest
 *    on-demand leases: largest facility kW first (the k largest free the most any k can), ties by
 *    least revenue per kW, then most recently started, then by id.
 * 3. Prune: victims no longer needed are kept running, on-demand ones first, then the most
 *    valuable per kW first, as long as the cap is still met.
 * If even stopping every lease cannot meet the cap (the rest is base load), every lease is
 * stopped and capMet is false.
 */
import { invalid } from "../domain/errors.js";
import type { Minor } from "../domain/money.js";
import type { JobClass } from "../domain/types.js";

/** A running lease as curtailment sees it. */
export interface CurtailableLease {
  id: string;
  class: JobClass;
  /** The lease's share of the site's facility draw (IT x PUE), kW. */
  facilityKw: number;
  priceMinorPerGpuHour: Minor;
  gpus: number;
  startedAtMs: number;
}

/** A cap on a site's facility draw from a start time. */
export interface CurtailmentCap {
  maxKw: number;
  startMs: number;
  endMs?: number;
}

/** A lease chosen to stop, and why. */
export interface CurtailmentVictim {
  id: string;
  class: JobClass;
  facilityKw: number;
  /** Revenue lost per hour stopped, minor units (price x GPUs). */
  revenueMinorPerHour: Minor;
  /** Revenue lost per hour per kW freed, minor units. */
  revenuePerKw: number;
}

/** The plan for one cap. */
export interface CurtailmentPlan {
  /** Leases to stop, in the order they should get their notice. */
  victims: CurtailmentVictim[];
  stopInterruptible: string[];
  stopOnDemand: string[];
  kwBefore: number;
  kwAfter: number;
  maxKw: number;
  /** The time by which the victims must be stopped (the cap's start). */
  stopByMs: number;
  capMet: boolean;
  /** The reasoning, in words, one sentence per step. */
  reasoning: string[];
}

const EPS = 1e-9;

/** Revenue lost per hour if the lease stops, minor units. */
const revenue = (l: CurtailableLease): number => l.priceMinorPerGpuHour * l.gpus;
/** Revenue lost per hour per kW freed (a lease drawing nothing is never worth stopping: +Infinity). */
const perKw = (l: CurtailableLease): number => (l.facilityKw > 0 ? revenue(l) / l.facilityKw : Infinity);

function cmpCheapest(a: CurtailableLease, b: CurtailableLease): number {
  return perKw(a) - perKw(b) || b.startedAtMs - a.startedAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function cmpFewest(a: CurtailableLease, b: CurtailableLease): number {
  return b.facilityKw - a.facilityKw || cmpCheapest(a, b);
}

/** Chooses which leases to stop to bring currentKw under the cap (see the rule above). */
export function planCurtailment(
  leases: CurtailableLease[],
  currentKw: number,
  cap: CurtailmentCap,
): CurtailmentPlan {
  validate(leases, currentKw, cap);
  const fmt = (x: number): string => String(Math.round(x * 1000) / 1000);
  const reasoning: string[] = [];
  const need = currentKw - cap.maxKw;
  const base = { kwBefore: currentKw, maxKw: cap.maxKw, stopByMs: cap.startMs };
  if (need <= EPS) {
    reasoning.push(
      `The site draws ${fmt(currentKw)} kW, already within the cap of ${fmt(cap.maxKw)} kW: nothing to stop.`,
    );
    return {
      ...base,
      victims: [],
      stopInterruptible: [],
      stopOnDemand: [],
      kwAfter: currentKw,
      capMet: true,
      reasoning,
    };
  }
  reasoning.push(
    `The site draws ${fmt(currentKw)} kW against a cap of ${fmt(cap.maxKw)} kW: ${fmt(need)} kW must be freed.`,
  );
  const interruptible = leases
    .filter((l) => l.class === "interruptible" && l.facilityKw > 0)
    .sort(cmpCheapest);
  const onDemand = leases.filter((l) => l.class === "on-demand" && l.facilityKw > 0).sort(cmpFewest);
  const intKw = interruptible.reduce((s, l) => s + l.facilityKw, 0);
  const odKw = onDemand.reduce((s, l) => s + l.facilityKw, 0);

  // 1. Interruptible, cheapest to stop first.
  const chosen: CurtailableLease[] = [];
  let freed = 0;
  for (const l of interruptible) {
    if (freed >= need - EPS) break;
    chosen.push(l);
    freed += l.facilityKw;
  }
  reasoning.push(
    `Interruptible leases hold ${fmt(intKw)} kW; taking them cheapest to stop first (least revenue per kW, then most recently started) frees ${fmt(freed)} kW from ${chosen.length} lease(s).`,
  );
  // 2. On-demand, only if interruptible work alone cannot meet the cap.
  if (freed < need - EPS) {
    if (intKw + odKw < need - EPS)
      reasoning.push(
        `Even stopping every lease frees only ${fmt(intKw + odKw)} kW: the cap cannot be met (${fmt(currentKw - intKw - odKw)} kW is not lease load); every lease is stopped.`,
      );
    else
      reasoning.push(
        `That is not enough: on-demand leases must be stopped, fewest first (largest draw first, then least revenue per kW).`,
      );
    for (const l of onDemand) {
      if (freed >= need - EPS) break;
      chosen.push(l);
      freed += l.facilityKw;
    }
  } else if (onDemand.length > 0) reasoning.push(`No on-demand lease is stopped.`);

  // 3. Prune victims that are not needed (on-demand first, then most valuable per kW first).
  if (freed >= need - EPS) {
    const order = [...chosen].sort(
      (a, b) =>
        (a.class === "on-demand" ? 0 : 1) - (b.class === "on-demand" ? 0 : 1) ||
        perKw(b) - perKw(a) ||
        (a.id < b.id ? -1 : 1),
    );
    const kept: string[] = [];
    for (const l of order)
      if (freed - l.facilityKw >= need - EPS) {
        freed -= l.facilityKw;
        chosen.splice(chosen.indexOf(l), 1);
        kept.push(l.id);
      }
    if (kept.length > 0)
      reasoning.push(
        `${kept.length} chosen lease(s) turned out not to be needed and keep running: ${kept.join(", ")}.`,
      );
  }
  const kwAfter = currentKw - freed;
  const capMet = kwAfter <= cap.maxKw + EPS;
  const victims = chosen.map((l) => ({
    id: l.id,
    class: l.class,
    facilityKw: l.facilityKw,
    revenueMinorPerHour: revenue(l),
    revenuePerKw: perKw(l),
  }));
  const stopInterruptible = victims.filter((v) => v.class === "interruptible").map((v) => v.id);
  const stopOnDemand = victims.filter((v) => v.class === "on-demand").map((v) => v.id);
  reasoning.push(
    `Stopping ${stopInterruptible.length} interruptible and ${stopOnDemand.length} on-demand lease(s) brings the site from ${fmt(currentKw)} to ${fmt(kwAfter)} kW${capMet ? `, within the cap` : `, still above the cap`}; revenue lost ${victims.reduce((s, v) => s + v.revenueMinorPerHour, 0)} minor units per hour.`,
  );
  return { ...base, victims, stopInterruptible, stopOnDemand, kwAfter, capMet, reasoning };
}

function validate(leases: CurtailableLease[], currentKw: number, cap: CurtailmentCap): void {
  if (!Number.isFinite(currentKw) || currentKw < 0)
    throw invalid(`currentKw must be a number of kW >= 0, got ${currentKw}`, { field: "currentKw" });
  if (!Number.isFinite(cap.maxKw) || cap.maxKw < 0)
    throw invalid(`cap.maxKw must be a number of kW >= 0, got ${cap.maxKw}`, { field: "maxKw" });
  if (cap.endMs !== undefined && !(cap.endMs > cap.startMs))
    throw invalid(`cap.endMs must be after cap.startMs`, { field: "endMs" });
  const ids = new Set<string>();
  leases.forEach((l, i) => {
    const where = `leases[${i}] (${l.id})`;
    if (ids.has(l.id)) throw invalid(`${where}: duplicate lease id; list each lease once`, { field: "id" });
    ids.add(l.id);
    if (!Number.isFinite(l.facilityKw) || l.facilityKw < 0)
      throw invalid(`${where}: facilityKw must be a number >= 0, got ${l.facilityKw}`, {
        field: "facilityKw",
      });
    if (!Number.isSafeInteger(l.priceMinorPerGpuHour) || l.priceMinorPerGpuHour < 0)
      throw invalid(`${where}: priceMinorPerGpuHour must be an integer >= 0`, {
        field: "priceMinorPerGpuHour",
      });
    if (!Number.isSafeInteger(l.gpus) || l.gpus < 0)
      throw invalid(`${where}: gpus must be an integer >= 0`, { field: "gpus" });
  });
}

/** A declared curtailment window: the site may draw at most maxKw in [startMs, endMs). */
export interface CurtailmentWindow {
  startMs: number;
  endMs: number;
  maxKw: number;
}

/** The site's power budget at time t: the contracted kW, lowered by every window in force. */
export function powerBudgetAt(contractedKw: number, windows: CurtailmentWindow[], t: number): number {
  let kw = contractedKw;
  for (const w of windows) if (t >= w.startMs && t < w.endMs && w.maxKw < kw) kw = w.maxKw;
  return kw;
}

/** The next instant after t at which the power budget may change (a window starts or ends), or null. */
export function nextBudgetChange(windows: CurtailmentWindow[], t: number): number | null {
  let next: number | null = null;
  for (const w of windows)
    for (const x of [w.startMs, w.endMs]) if (x > t && (next === null || x < next)) next = x;
  return next;
}
