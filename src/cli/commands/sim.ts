import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import cliProgress from "cli-progress";
import { parseFleet, parseTraceCsv, uniformFleet } from "../../sim/index.js";
import type { Fleet, SimPolicyName } from "../../sim/index.js";
import { parsePolicy, runSimulation } from "../../sim/run.js";
import { renderReport } from "../../sim/report.js";

interface SimOpts {
  trace: string;
  gpus?: string;
  fleet?: string;
  policy: string;
  policies?: string;
  json?: boolean;
  report?: string;
  progress?: boolean;
}

function fail(msg: string): void {
  console.error(`zumbido: ${msg}`);
  process.exitCode = 2;
}

/** Registers `zumbido sim`: replays a job trace through the scheduler with several policies. */
export function registerSimCommand(program: Command): void {
  program
    .command("sim")
    .description("Replay a job trace through the scheduler in simulated time and compare policies")
    .requiredOption("--trace <file>", "trace CSV: job_id,submit_s,duration_s,num_gpus[,vc,gpu_model,class]")
    .option("--gpus <n>", "N GPUs as 8-GPU H100 nodes in one site")
    .option("--fleet <file>", "fleet description (JSON) instead of --gpus")
    .option("--policy <p>", "fifo | fifo-backfill | las | srtf-oracle | zumbido", "zumbido")
    .option("--policies <list>", "comma-separated policies to compare in one run (overrides --policy)")
    .option("--json", "print the results as JSON")
    .option("--report <file.html>", "write an HTML report with plots")
    .option("--no-progress", "no progress bar on stderr")
    .action((o: SimOpts) => {
      let fleet: Fleet;
      let policies: SimPolicyName[];
      try {
        if ((o.gpus === undefined) === (o.fleet === undefined))
          return fail("give exactly one of --gpus N or --fleet FILE");
        fleet = o.fleet ? parseFleet(readFileSync(o.fleet, "utf8")) : uniformFleet(Number(o.gpus));
        policies = (o.policies ?? o.policy).split(",").map((p) => parsePolicy(p.trim()));
      } catch (e) {
        return fail((e as Error).message);
      }
      let trace;
      try {
        trace = parseTraceCsv(readFileSync(o.trace, "utf8"));
      } catch (e) {
        return fail(`--trace ${o.trace}: ${(e as Error).message}`);
      }
      const bar =
        o.progress !== false && trace.length >= 20_000
          ? new cliProgress.SingleBar(
              { stream: process.stderr, format: "{policy} [{bar}] {value}/{total} jobs", hideCursor: true },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
      let current = "";
      let out;
      try {
        out = runSimulation({
          trace,
          fleet,
          policies,
          onProgress: (p, f, t) => {
            if (!bar) return;
            if (p !== current) {
              if (current) bar.stop();
              current = p;
              bar.start(t, 0, { policy: p });
            }
            bar.update(f, { policy: p });
          },
        });
      } catch (e) {
        bar?.stop();
        return fail((e as Error).message);
      }
      bar?.stop();
      const results = out.map((x) => x.result);
      if (o.report)
        writeFileSync(
          o.report,
          renderReport(
            `zumbido sim: ${o.trace} on ${fleet.nodes.reduce((a, n) => a + n.gpuIndices.length, 0)} GPUs`,
            out,
          ),
        );
      if (o.json) console.log(JSON.stringify(results.length === 1 ? results[0] : results, null, 2));
      else {
        console.log(
          "policy          jobs   avgJCT(s)   p50JCT(s)   p99JCT(s)  avgQueue(s)  util  preempt  violations  wall(s)",
        );
        for (const r of results)
          console.log(
            `${r.policy.padEnd(14)} ${String(r.jobs).padStart(6)} ${r.avgJctS.toFixed(0).padStart(11)} ${r.p50JctS.toFixed(0).padStart(11)} ${r.p99JctS.toFixed(0).padStart(11)} ${r.avgQueueS.toFixed(0).padStart(12)} ${r.utilization.toFixed(2).padStart(5)} ${String(r.preemptions).padStart(8)} ${String(r.violations).padStart(11)} ${r.wallS.toFixed(2).padStart(8)}`,
          );
      }
      if (results.some((r) => r.violations > 0)) process.exitCode = 1;
    });
}
