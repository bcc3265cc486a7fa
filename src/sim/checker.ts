import type { Fleet } from "./fleet.js";
import type { LogEntry } from "./engine.js";
import type { TraceJob } from "./trace.js";

/** Facility power cap of a site at a time, kW (curtailment aware). */
export type CapAt = (siteIdx: number, t: number) => number;

/**
 * Independent check of a whole replay from its hand-over log, with its own bookkeeping (it shares
 * no code with the scheduler): no GPU held twice, gangs whole and on one site (one node when one
 * node holds them), acceptable GPU models, site power (GPU power × PUE + busy-node overhead × PUE)
 * within the cap at every start, no start before submit, every job run for its full duration.
 * Returns one line per violation.
 */
export function checkReplay(fleet: Fleet, jobs: TraceJob[], log: LogEntry[], capAt?: CapAt): string[] {
  const out: string[] = [];
  const siteIdx = new Map(fleet.sites.map((s, i) => [s.id, i]));
  const held = fleet.nodes.map(() => 0);
  const owner = new Map<string, number>();
  const busyGpus = fleet.nodes.map(() => 0);
  const nodeSite = fleet.nodes.map((nd) => siteIdx.get(nd.siteId)!);
  const drawW = fleet.sites.map(() => 0);
  const heldSince = new Map<number, number>();
  const heldTotal = new Float64Array(jobs.length);
  const maxCapOf = new Map<string, number>();
  for (const nd of fleet.nodes)
    maxCapOf.set(nd.gpuModel, Math.max(maxCapOf.get(nd.gpuModel) ?? 0, nd.gpuIndices.length));
  const recompute = (s: number): number => {
    const site = fleet.sites[s]!;
    let w = 0;
    fleet.nodes.forEach((nd, i) => {
      if (nodeSite[i] === s && busyGpus[i]! > 0)
        w += busyGpus[i]! * nd.gpuPowerW * site.pue + site.nodeOverheadW * site.pue;
    });
    return w;
  };
  for (const e of log) {
    const j = jobs[e.job]!;
    if (e.start) {
      if (e.t + 1e-9 < j.submitS) out.push(`${j.id}: started at ${e.t} before its submit ${j.submitS}`);
      let total = 0;
      const sitesUsed = new Set<number>();
      e.nodes.forEach((i, k) => {
        const nd = fleet.nodes[i]!;
        const m = e.masks[k]! >>> 0;
        if (m >>> nd.gpuIndices.length !== 0 && nd.gpuIndices.length < 32)
          out.push(`${j.id}: GPU position beyond node ${nd.id}`);
        if ((held[i]! & m) !== 0) out.push(`${j.id}: GPU of node ${nd.id} given twice`);
        held[i] = (held[i]! | m) >>> 0;
        for (let b = 0; b < 32; b++) if (m & (1 << b)) owner.set(`${i}#${b}`, e.job);
        const cnt = bits(m);
        total += cnt;
        busyGpus[i]! += cnt;
        sitesUsed.add(nodeSite[i]!);
        if (j.gpuModel && nd.gpuModel !== j.gpuModel)
          out.push(`${j.id}: ran on ${nd.gpuModel}, asked for ${j.gpuModel}`);
      });
      if (total !== j.gpus) out.push(`${j.id}: gang not whole (${total} of ${j.gpus} GPUs)`);
      if (sitesUsed.size !== 1) out.push(`${j.id}: gang spans ${sitesUsed.size} sites`);
      const model = fleet.nodes[e.nodes[0]!]?.gpuModel ?? "";
      if (e.nodes.length > 1 && j.gpus <= (maxCapOf.get(model) ?? 0))
        out.push(`${j.id}: split over nodes although one node holds it`);
      for (const s of sitesUsed) {
        drawW[s] = recompute(s);
        const cap = (capAt ? capAt(s, e.t) : fleet.sites[s]!.powerCapKw) * 1000;
        if (drawW[s]! > cap + 1)
          out.push(
            `${j.id}: site ${fleet.sites[s]!.id} draws ${drawW[s]!.toFixed(0)} W above its cap ${cap.toFixed(0)} W at ${e.t}`,
          );
      }
      heldSince.set(e.job, e.t);
    } else {
      e.nodes.forEach((i, k) => {
        const m = e.masks[k]! >>> 0;
        for (let b = 0; b < 32; b++)
          if (m & (1 << b) && owner.get(`${i}#${b}`) !== e.job)
            out.push(`${j.id}: released a GPU it did not hold`);
        held[i] = (held[i]! & ~m) >>> 0;
        busyGpus[i]! -= bits(m);
      });
      heldTotal[e.job]! += e.t - (heldSince.get(e.job) ?? e.t);
      heldSince.delete(e.job);
    }
  }
  jobs.forEach((j, k) => {
    if (heldSince.has(k)) out.push(`${j.id}: never released its GPUs`);
    if (heldTotal[k]! + 1e-6 < j.durationS)
      out.push(`${j.id}: held GPUs ${heldTotal[k]} s, less than its ${j.durationS} s of work`);
  });
  return out;
}

function bits(x: number): number {
  let c = 0;
  for (let v = x >>> 0; v !== 0; v &= v - 1) c++;
  return c;
}
