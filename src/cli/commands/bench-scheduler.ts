import type { Command } from "commander";
import { runSchedulerBench } from "../../sim/bench.js";

/** Adds `scheduler --gpus G [--seed S] --json` under the `zumbido bench` command. */
export function registerBenchSchedulerCommand(benchCommand: Command): void {
  benchCommand
    .command("scheduler")
    .description(
      "Generate a heterogeneous federation of G GPUs and a constrained job stream; time the scheduler against the linear-scan reference",
    )
    .requiredOption("--gpus <g>", "GPUs in the generated federation")
    .option("--seed <s>", "random seed", "1")
    .option("--json", "print the figures as JSON")
    .action(async (o: { gpus: string; seed: string; json?: boolean }, cmd: Command) => {
      // --json may also be taken by the program's global option of the same name.
      const json = o.json === true || (cmd.optsWithGlobals() as { json?: boolean }).json === true;
      const gpus = Number(o.gpus);
      const seed = Number(o.seed);
      if (!Number.isInteger(gpus) || gpus < 16) {
        console.error(`zumbido: --gpus must be a whole number of at least 16, got "${o.gpus}"`);
        process.exitCode = 2;
        return;
      }
      if (!Number.isInteger(seed)) {
        console.error(`zumbido: --seed must be a whole number, got "${o.seed}"`);
        process.exitCode = 2;
        return;
      }
      const r = await runSchedulerBench({ gpus, seed });
      if (json) console.log(JSON.stringify(r, null, 2));
      else {
        console.log(
          `federation: ${r.gpus} GPUs, ${r.nodes} nodes, ${r.sites} sites; ${r.jobs} jobs (${r.placed} placed, ${r.waits} waits)`,
        );
        console.log(
          `placements/s: ${r.placementsPerSecond} (reference ${r.referencePlacementsPerSecond}, x${(r.placementsPerSecond / Math.max(1, r.referencePlacementsPerSecond)).toFixed(0)})`,
        );
        console.log(
          `decision p50 ${r.decisionP50Us} us, p99 ${r.decisionP99Us} us; wait reasons p99 ${r.waitReasonsP99Us} us`,
        );
        console.log(`violations: ${r.violations}; LP gap on a static cost batch: ${r.lpGapPct} %`);
      }
      if (r.violations > 0) process.exitCode = 1;
    });
}
