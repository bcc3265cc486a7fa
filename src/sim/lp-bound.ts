import { createRequire } from "node:module";
import type { JobRequest } from "../domain/index.js";
import { siteAllows } from "../scheduler/index.js";
import type { ClusterState } from "../scheduler/index.js";

/** The small part of the `highs` package this module uses (typed here: its own types need moduleResolution Bundler). */
interface Highs {
  solve(problem: string, options?: Record<string, unknown>): { Status: string; ObjectiveValue: number };
}
type HighsLoader = () => Promise<Highs>;

let highsPromise: Promise<Highs> | undefined;
function loadHighs(): Promise<Highs> {
  if (!highsPromise) {
    const require = createRequire(import.meta.url);
    highsPromise = (require("highs") as HighsLoader)();
  }
  return highsPromise;
}

/**
 * LP lower bound (HiGHS) on the total price per hour of placing every job: fractional assignment of
 * jobs to node classes with their free GPU capacity and each site's power cap (node overhead and
 * per-node packing relaxed away, so any real placement costs at least this much).
 */
export async function lpLowerBound(state: ClusterState, jobs: JobRequest[]): Promise<number> {
  const obj: string[] = [];
  const assign: string[] = [];
  const groupRows = new Map<number, string[]>();
  const siteRows = new Map<number, string[]>();
  const vars: string[] = [];
  jobs.forEach((r, j) => {
    const terms: string[] = [];
    state.groups.forEach((grp, g) => {
      if (!r.gpuModels.includes(grp.model) || r.gpus > grp.cap) return;
      const site = state.sites[grp.siteIdx]!;
      if (!siteAllows(site, r)) return;
      if (r.minGpuMemoryGb !== undefined && grp.memGb < r.minGpuMemoryGb) return;
      const pr = site.prices[grp.model];
      if (!pr) return;
      const price =
        r.class === "interruptible" ? pr.interruptibleMinorPerGpuHour : pr.onDemandMinorPerGpuHour;
      if (r.maxPriceMinorPerGpuHour !== undefined && price > r.maxPriceMinorPerGpuHour) return;
      const v = `x${j}_${g}`;
      vars.push(v);
      terms.push(v);
      obj.push(`${price * r.gpus} ${v}`);
      (groupRows.get(g) ?? groupRows.set(g, []).get(g)!).push(`${r.gpus} ${v}`);
      (siteRows.get(grp.siteIdx) ?? siteRows.set(grp.siteIdx, []).get(grp.siteIdx)!).push(
        `${(r.gpus * grp.powerMilliW) / 1e6} ${v}`,
      );
    });
    if (terms.length === 0)
      throw new Error(`job ${j} has no eligible node class; the LP bound needs every job placeable`);
    assign.push(` a${j}: ${terms.join("\n + ")} = 1`);
  });
  const rows: string[] = [...assign];
  for (const [g, terms] of groupRows) {
    const grp = state.groups[g]!;
    let free = 0;
    for (const i of grp.nodes) if (state.nodeOpen[i] === 1) free += state.nodeFree[i]!;
    rows.push(` g${g}: ${terms.join("\n + ")} <= ${free}`);
  }
  for (const [s, terms] of siteRows)
    rows.push(
      ` s${s}: ${terms.join("\n + ")} <= ${(state.siteCapMilliW[s]! - state.siteDrawMilliW[s]!) / 1e6}`,
    );
  const lp = `Minimize\n obj: ${obj.join("\n + ")}\nSubject To\n${rows.join("\n")}\nBounds\n${vars.map((v) => ` 0 <= ${v} <= 1`).join("\n")}\nEnd\n`;
  const highs = await loadHighs();
  const res = highs.solve(lp, { output_flag: false });
  if (res.Status !== "Optimal") throw new Error(`LP bound: HiGHS ended with status ${res.Status}`);
  return res.ObjectiveValue;
}
