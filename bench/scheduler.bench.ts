// Scheduler speed: the fast indexed scheduler against the linear-scan reference on the same generated
// federation and job stream, at 10,000 and 100,000 GPUs; then the Philly replay timing when
// ZUMBIDO_DATA_DIR is set. Targets (issue 3): >= 100,000 placements/s and p99 < 1 ms at 100,000 GPUs;
// the full Philly trace (82,247 jobs) on 1,024 GPUs in < 10 s.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runSchedulerBench } from "../src/sim/bench.js";
import { parseTraceCsv, replay, uniformFleet } from "../src/sim/index.js";

export default async (): Promise<void> => {
  for (const gpus of [10_000, 100_000]) {
    const r = await runSchedulerBench({ gpus, seed: 1 });
    console.log(
      `scheduler ${gpus} GPUs (${r.nodes} nodes, ${r.sites} sites, ${r.jobs} jobs): ${r.placementsPerSecond} placements/s, p50 ${r.decisionP50Us} us, p99 ${r.decisionP99Us} us; ` +
        `reference ${r.referencePlacementsPerSecond}/s (fast/reference x${(r.placementsPerSecond / Math.max(1, r.referencePlacementsPerSecond)).toFixed(0)}); ` +
        `with wait reasons ${r.decisionsWithReasonsPerSecond} decisions/s; violations ${r.violations}; LP gap ${r.lpGapPct} %`,
    );
  }
  const dir = process.env.ZUMBIDO_DATA_DIR;
  if (!dir) {
    console.log("philly replay: skipped (set ZUMBIDO_DATA_DIR to the shared data folder to time it)");
    return;
  }
  const trace = parseTraceCsv(readFileSync(join(dir, "traces/philly-pollux/philly.csv"), "utf8"));
  for (const policy of ["fifo", "zumbido"] as const) {
    const t0 = performance.now();
    const run = replay(trace, uniformFleet(1024), { policy });
    const s = (performance.now() - t0) / 1000;
    console.log(
      `philly full (${trace.length} jobs) on 1,024 GPUs, ${policy}: ${s.toFixed(2)} s wall (target < 10 s)${policy === "zumbido" ? "" : " [baseline]"}; ${run.preemptions} preemptions`,
    );
  }
};
