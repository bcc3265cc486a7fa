import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import cliProgress from "cli-progress";
import { cutWindow, parseFleet, parseTraceCsv, uniformFleet } from "../../sim/index.js";
import type { Fleet, SimPolicyName } from "../../sim/index.js";
import { parsePolicy, runSimulation } from "../../sim/run.js";
import type { SimRequest } from "../../sim/run.js";
import { parseCurtail } from "../../sim/energy-sim.js";
import type { CurtailWindow } from "../../sim/energy-sim.js";
import { parseEnergyProfileCsv } from "../../energy/index.js";
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
  energy?: string;
  flexibleShare?: string;
  seed?: string;
  curtail?: string[];
  restoreOverheadS: string;
  checkpointIntervalS: string;
  window?: string;
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
    .option(
      "--policy <p>",
      "fifo | fifo-backfill | las | srtf-oracle | zumbido | zumbido-carbon | bounds: zumbido-hindsight (knows the trace's service distribution), zumbido-clairvoyant (srtf-oracle's levels)",
      "zumbido",
    )
    .option("--policies <list>", "comma-separated policies to compare in one run (overrides --policy)")
    .option("--json", "print the results as JSON")
    .option("--report <file.html>", "write an HTML report with plots")
    .option(
      "--energy <file>",
      "carbon series (gCO2e/kWh), and price (EUR/MWh) where given: generic timestamp,carbon[,price] CSV or an Electricity Maps export; trace second 0 = its first hour; repeats from its start",
    )
    .option(
      "--flexible-share <f>",
      "share of jobs (0..1) that are flexible: interruptible, deadline submit + duration + 24 h",
    )
    .option("--seed <s>", "seed for drawing the flexible jobs", "1")
    .option(
      "--curtail <start:end:maxKw>",
      "facility cap in simulated seconds and kW (repeatable; optional 4th field: site index)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      "--restore-overhead-s <n>",
      "GPU time a resumed job spends reloading its checkpoint and warming up (no progress), seconds",
      "60",
    )
    .option(
      "--checkpoint-interval-s <n>",
      "seconds of progress between checkpoints; a preempted job loses the work since its last one (0 = perfect checkpoints)",
      "1800",
    )
    .option(
      "--window <start:end>",
      "replay only the jobs submitted in [start, end) trace seconds (re-based to 0), e.g. one week",
    )
    .option("--no-progress", "no progress bar on stderr")
    .action((o: SimOpts, cmd: Command) => {
      // --json may also be taken by the program's global option of the same name.
      const json = o.json === true || (cmd.optsWithGlobals() as { json?: boolean }).json === true;
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
      const restoreOverheadS = Number(o.restoreOverheadS);
      const checkpointIntervalS = Number(o.checkpointIntervalS);
      if (!(restoreOverheadS >= 0))
        return fail(`--restore-overhead-s must be a number of seconds >= 0, got "${o.restoreOverheadS}"`);
      if (!(checkpointIntervalS >= 0))
        return fail(
          `--checkpoint-interval-s must be a number of seconds >= 0 (0 = perfect checkpoints), got "${o.checkpointIntervalS}"`,
        );
      if (o.window !== undefined) {
        const m = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(o.window);
        if (!m || !(Number(m[2]) > Number(m[1])))
          return fail(`--window must be START:END in trace seconds with END > START, got "${o.window}"`);
        trace = cutWindow(trace, Number(m[1]), Number(m[2]));
        if (trace.length === 0) return fail(`--window ${o.window}: no job of the trace was submitted in it`);
      }
      let energy: SimRequest["energy"];
      let flexibleShare: number | undefined;
      let curtail: CurtailWindow[] | undefined;
      const seed = Number(o.seed ?? "1");
      try {
        if (o.energy) {
          const p = parseEnergyProfileCsv(readFileSync(o.energy, "utf8"));
          energy = { carbon: p.carbon, price: p.price };
        }
        if (o.flexibleShare !== undefined) {
          flexibleShare = Number(o.flexibleShare);
          if (!(flexibleShare >= 0 && flexibleShare <= 1))
            throw new Error(`--flexible-share must be a number from 0 to 1, got "${o.flexibleShare}"`);
        }
        if (!Number.isInteger(seed)) throw new Error(`--seed must be a whole number, got "${o.seed}"`);
        curtail = o.curtail?.map(parseCurtail);
        if (policies.includes("zumbido-carbon") && !energy)
          throw new Error("--policy zumbido-carbon needs --energy FILE");
      } catch (e) {
        return fail(`${o.energy && !energy ? `--energy ${o.energy}: ` : ""}${(e as Error).message}`);
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
          energy,
          flexibleShare,
          seed,
          curtail,
          restoreOverheadS,
          checkpointIntervalS,
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
      if (json) console.log(JSON.stringify(results.length === 1 ? results[0] : results, null, 2));
      else {
        // The policy column fits the longest name asked for (zumbido-clairvoyant is 19 characters).
        const w = Math.max(14, ...results.map((r) => r.policy.length));
        console.log(
          `${"policy".padEnd(w)}   jobs   avgJCT(s)   p50JCT(s)   p99JCT(s)  avgQueue(s)  util  preempt  wasted(GPU-h)  violations  wall(s)`,
        );
        for (const r of results)
          console.log(
            `${r.policy.padEnd(w)} ${String(r.jobs).padStart(6)} ${r.avgJctS.toFixed(0).padStart(11)} ${r.p50JctS.toFixed(0).padStart(11)} ${r.p99JctS.toFixed(0).padStart(11)} ${r.avgQueueS.toFixed(0).padStart(12)} ${r.utilization.toFixed(2).padStart(5)} ${String(r.preemptions).padStart(8)} ${(r.wastedGpuS / 3600).toFixed(0).padStart(14)} ${String(r.violations).padStart(11)} ${r.wallS.toFixed(2).padStart(8)}`,
          );
        for (const r of results) {
          const extra = [
            "energyKwh",
            "co2eKg",
            "co2eBoundKg",
            "energyCostMinor",
            "deadlinesMissed",
            "avgJctOtherS",
          ].filter((k) => r[k] !== undefined);
          if (extra.length)
            console.log(`${r.policy}: ${extra.map((k) => `${k} ${JSON.stringify(r[k])}`).join(", ")}`);
          if (r.curtailments) console.log(`${r.policy}: curtailments ${JSON.stringify(r.curtailments)}`);
        }
      }
      if (results.some((r) => r.violations > 0)) process.exitCode = 1;
    });
}
