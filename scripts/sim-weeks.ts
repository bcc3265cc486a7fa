// Replays every Philly week (Mondays of the full trace) at the given loads with fifo-backfill, las,
// srtf-oracle and zumbido, default overheads, and prints the README's "Scheduling quality" table rows
// (issue 17 targets checked per row). Usage:
//   npx tsx scripts/sim-weeks.ts [--data DIR] [--gpus 256,384,512] [--weeks 2017-10-09,...]
//                                [--gittins '{"preemptMargin":3}'] [--json FILE]
// DIR defaults to $ZUMBIDO_DATA_DIR (the shared data folder, never copied into the repo).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cutWindow, parseTraceCsv, uniformFleet } from "../src/sim/index.js";
import { runSimulation } from "../src/sim/run.js";
import type { SimResult } from "../src/sim/result.js";

const { values } = parseArgs({
  options: {
    data: { type: "string" },
    gpus: { type: "string", default: "256,384,512" },
    weeks: { type: "string" },
    gittins: { type: "string", default: "{}" },
    json: { type: "string" },
  },
});
const dir = values.data ?? process.env.ZUMBIDO_DATA_DIR;
if (!dir) throw new Error("give --data DIR or set ZUMBIDO_DATA_DIR (the folder holding traces/philly-pollux)");
const gittins = JSON.parse(values.gittins) as Record<string, number>;
const loads = values.gpus.split(",").map(Number);
if (loads.some((g) => !(g > 0 && g % 8 === 0))) throw new Error(`--gpus: multiples of 8, got ${values.gpus}`);

const TRACE_START_S = Date.parse("2017-09-04T10:30:41Z") / 1000;
const all = parseTraceCsv(readFileSync(join(dir, "traces/philly-pollux/philly.csv"), "utf8"));
const mondays: string[] = [];
for (let d = Date.parse("2017-09-04T00:00:00Z"); d <= Date.parse("2017-12-18T00:00:00Z"); d += 7 * 86_400_000)
  mondays.push(new Date(d).toISOString().slice(0, 10));
const weeks = values.weeks ? values.weeks.split(",") : mondays;

const n0 = (x: number): string => Math.round(x).toLocaleString("en-US");
const pct = (x: number): string => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`;
interface Row {
  week: string;
  gpus: number;
  jobs: number;
  fb: SimResult;
  las: SimResult;
  oracle: SimResult;
  z: SimResult;
  gapClosed: number | null;
  met: boolean;
  misses: string[];
}
const rows: Row[] = [];
console.log(
  "| week | GPUs | jobs | fifo-backfill avg / p99 | las avg / p99 / preempt | srtf-oracle avg / preempt | zumbido avg / p99 / preempt | gap closed | vs oracle | wasted GPU-h (z / las) | targets |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const week of weeks) {
  const s = Date.parse(`${week}T00:00:00Z`) / 1000 - TRACE_START_S;
  const trace = cutWindow(all, s, s + 7 * 86_400);
  if (trace.length === 0) continue;
  for (const gpus of loads) {
    const out = runSimulation({
      trace,
      fleet: uniformFleet(gpus),
      policies: ["fifo-backfill", "las", "srtf-oracle", "zumbido"],
      gittins,
    });
    const r = Object.fromEntries(out.map((o) => [o.result.policy, o.result]));
    const fb = r["fifo-backfill"]!;
    const las = r.las!;
    const oracle = r["srtf-oracle"]!;
    const z = r.zumbido!;
    const gapS = las.avgJctS - oracle.avgJctS;
    // A gap under 0.5% of las's average is noise: nothing to close.
    const gapClosed = gapS > 0.005 * las.avgJctS ? (las.avgJctS - z.avgJctS) / gapS : null;
    const misses: string[] = [];
    if (out.some((o) => o.result.violations > 0)) misses.push("violations");
    if (gpus >= 512) {
      if (z.avgJctS > oracle.avgJctS * 1.02) misses.push("avg > oracle+2%");
    } else {
      if (gapClosed !== null && gapClosed < 0.6) misses.push("gap < 60%");
      if (z.p99JctS > fb.p99JctS) misses.push("p99 > fifo-backfill");
      if (z.preemptions > las.preemptions) misses.push("preemptions > las");
    }
    const row: Row = { week, gpus, jobs: trace.length, fb, las, oracle, z, gapClosed, met: misses.length === 0, misses };
    rows.push(row);
    const wasted = (x: SimResult): string => n0(x.wastedGpuS / 3600);
    console.log(
      `| ${week} | ${gpus} | ${trace.length} | ${n0(fb.avgJctS)} / ${n0(fb.p99JctS)} | ${n0(las.avgJctS)} / ${n0(las.p99JctS)} / ${las.preemptions} | ${n0(oracle.avgJctS)} / ${oracle.preemptions} | ${n0(z.avgJctS)} / ${n0(z.p99JctS)} / ${z.preemptions} | ${gapClosed === null ? "no gap" : `${Math.round(gapClosed * 100)}%`} | ${pct(z.avgJctS / oracle.avgJctS - 1)} | ${wasted(z)} / ${wasted(las)} | ${row.met ? (gapClosed === null && gpus < 512 ? "met (no gap to close)" : "met") : `MISS: ${misses.join(", ")}`} |`,
    );
  }
}
const heavy = rows.filter((x) => x.gpus < 512 && x.gapClosed !== null);
console.log(
  `\nrows met: ${rows.filter((x) => x.met).length} of ${rows.length}; at 256/384 GPUs with a gap: ${heavy.filter((x) => x.met).length} of ${heavy.length} met, ` +
    `${heavy.filter((x) => x.gapClosed! >= 0.6).length} close >= 60%, ${heavy.filter((x) => x.z.p99JctS > x.fb.p99JctS).length} p99 > fifo-backfill; ` +
    `at 512: ${rows.filter((x) => x.gpus >= 512 && x.z.avgJctS > x.oracle.avgJctS * 1.02).length} above oracle+2%`,
);
if (values.json)
  writeFileSync(
    values.json,
    JSON.stringify(
      rows.map(({ fb, las, oracle, z, ...x }) => ({ ...x, fifoBackfill: fb, las, srtfOracle: oracle, zumbido: z })),
      null,
      1,
    ),
  );
