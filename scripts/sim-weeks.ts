// Replays every Philly week (Mondays of the full trace) at the given loads with fifo-backfill, las,
// srtf-oracle and zumbido, default overheads, and prints the README's "Scheduling quality" table rows
// (issue 17 targets checked per row). Usage:
//   npx tsx scripts/sim-weeks.ts [--data DIR] [--gpus 256,384,512] [--weeks 2017-10-09,...]
//                                [--gittins '{"preemptMargin":3}'] [--json FILE] [--html FILE]
//   npx tsx scripts/sim-weeks.ts --from-json FILE [--html FILE]   (render saved rows, no replay)
//   npx tsx scripts/sim-weeks.ts --reuse FILE [--gittins '{...}'] [--weeks ...] [--gpus ...]
//     (replay zumbido only, against the fifo-backfill, las and srtf-oracle rows FILE saved with
//      --json: a knob of the zumbido rule changes none of them; about 20 s for 22 rows)
//   --replicas K (with either): also replays zumbido under tie seeds 1..K-1 (equal victims and
//     nodes chosen another way, a neutral change) and prints each row's spread; seed 0 is the table
//   --policy zumbido-hindsight | zumbido-clairvoyant (with either): replays a bound in zumbido's
//     column (simulator only): the zumbido rule told each week's service distribution per class up
//     front, or given srtf-oracle's levels
// DIR defaults to $ZUMBIDO_DATA_DIR (the shared data folder, never copied into the repo).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cutWindow, parseTraceCsv, uniformFleet } from "../src/sim/index.js";
import { runSimulation } from "../src/sim/run.js";
import type { SimResult } from "../src/sim/result.js";
import type { TraceJob } from "../src/sim/trace.js";
import { barChart, esc } from "../src/sim/svg.js";

const { values } = parseArgs({
  options: {
    data: { type: "string" },
    gpus: { type: "string" },
    weeks: { type: "string" },
    gittins: { type: "string", default: "{}" },
    json: { type: "string" },
    html: { type: "string" },
    "from-json": { type: "string" },
    reuse: { type: "string" },
    replicas: { type: "string", default: "1" },
    policy: { type: "string", default: "zumbido" },
  },
});

/** One week at one load: the four policies' results and the issue 17 targets. */
interface Row {
  week: string;
  gpus: number;
  jobs: number;
  fb: SimResult;
  las: SimResult;
  oracle: SimResult;
  z: SimResult;
  /** (las - zumbido) / (las - srtf-oracle); null when las is within 0.5% of the oracle (nothing to close). */
  gapClosed: number | null;
  misses: string[];
  /** Zumbido under tie seeds 1..K-1 (--replicas K), judged against the same baselines. */
  replicas?: { seed: number; z: SimResult; gapClosed: number | null; misses: string[] }[];
}

/** The rule judged in zumbido's column (--policy): the product's, or one of its simulator-only bounds. */
const Z_POLICIES = ["zumbido", "zumbido-hindsight", "zumbido-clairvoyant"] as const;
const zPolicy = values.policy as (typeof Z_POLICIES)[number];
if (!Z_POLICIES.includes(zPolicy))
  throw new Error(`--policy: one of ${Z_POLICIES.join(", ")}, got ${values.policy}`);

const replicas = Number(values.replicas);
if (!Number.isInteger(replicas) || replicas < 1 || replicas > 32)
  throw new Error(`--replicas: a whole number from 1 to 32, got ${values.replicas}`);

/** Zumbido alone on one week and load (tie seed 0: the product's order). */
function replayZumbido(
  trace: TraceJob[],
  gpus: number,
  gittins: Record<string, number>,
  tieSeed = 0,
): SimResult {
  const [z] = runSimulation({ trace, fleet: uniformFleet(gpus), policies: [zPolicy], gittins, tieSeed });
  return z!.result;
}

/** A row judged again with another zumbido result against its fifo-backfill, las and srtf-oracle. */
const rejudge = (r: Row, z: SimResult): Row =>
  judge(r.week, r.gpus, r.jobs, { "fifo-backfill": r.fb, las: r.las, "srtf-oracle": r.oracle, zumbido: z });

/** Adds zumbido's replays under tie seeds 1..replicas-1 to a judged row (same trace and baselines). */
function addReplicas(row: Row, trace: TraceJob[], gittins: Record<string, number>): void {
  if (replicas <= 1) return;
  row.replicas = [];
  for (let seed = 1; seed < replicas; seed++) {
    const j = rejudge(row, replayZumbido(trace, row.gpus, gittins, seed));
    row.replicas.push({ seed, z: j.z, gapClosed: j.gapClosed, misses: j.misses });
  }
}

function judge(week: string, gpus: number, jobs: number, r: Record<string, SimResult>): Row {
  const fb = r["fifo-backfill"]!;
  const las = r.las!;
  const oracle = r["srtf-oracle"]!;
  const z = r.zumbido!;
  const gapS = las.avgJctS - oracle.avgJctS;
  const gapClosed = gapS > 0.005 * las.avgJctS ? (las.avgJctS - z.avgJctS) / gapS : null;
  const misses: string[] = [];
  if ([fb, las, oracle, z].some((x) => x.violations > 0)) misses.push("violations");
  if (gpus >= 512) {
    if (z.avgJctS > oracle.avgJctS * 1.02) misses.push("avg > oracle+2%");
  } else {
    if (gapClosed !== null && gapClosed < 0.6) misses.push("gap < 60%");
    if (z.p99JctS > fb.p99JctS) misses.push("p99 > fifo-backfill");
    if (z.preemptions > las.preemptions) misses.push("preemptions > las");
  }
  return { week, gpus, jobs, fb, las, oracle, z, gapClosed, misses };
}

const TRACE_START_S = Date.parse("2017-09-04T10:30:41Z") / 1000;

/** The full Philly trace from --data or $ZUMBIDO_DATA_DIR. */
function loadPhilly(): TraceJob[] {
  const dir = values.data ?? process.env.ZUMBIDO_DATA_DIR;
  if (!dir)
    throw new Error("give --data DIR or set ZUMBIDO_DATA_DIR (the folder holding traces/philly-pollux)");
  return parseTraceCsv(readFileSync(join(dir, "traces/philly-pollux/philly.csv"), "utf8"));
}

/** The week starting on a Monday (YYYY-MM-DD) of the full trace. */
function weekOf(all: TraceJob[], week: string): TraceJob[] {
  const s = Date.parse(`${week}T00:00:00Z`) / 1000 - TRACE_START_S;
  if (!Number.isFinite(s)) throw new Error(`--weeks: "${week}" is not a date (YYYY-MM-DD)`);
  return cutWindow(all, s, s + 7 * 86_400);
}

function loadsOf(arg: string): number[] {
  const loads = arg.split(",").map(Number);
  if (loads.some((g) => !(g > 0 && g % 8 === 0))) throw new Error(`--gpus: multiples of 8, got ${arg}`);
  return loads;
}

/** The zumbido rule's knobs from --gittins. */
const gittinsKnobs = (): Record<string, number> => JSON.parse(values.gittins) as Record<string, number>;

/**
 * Replays zumbido alone on the rows of a file written with --json (narrowed by --weeks and
 * --gpus when given), judged against that file's fifo-backfill, las and srtf-oracle results.
 */
function replayReusing(file: string): Row[] {
  const saved = JSON.parse(readFileSync(file, "utf8")) as Row[];
  const weeks = values.weeks ? new Set(values.weeks.split(",")) : null;
  const loads = values.gpus ? new Set(loadsOf(values.gpus)) : null;
  const all = loadPhilly();
  const gittins = gittinsKnobs();
  const rows: Row[] = [];
  const traces = new Map<string, TraceJob[]>();
  console.log(MD_HEAD);
  for (const r of saved) {
    if ((weeks && !weeks.has(r.week)) || (loads && !loads.has(r.gpus))) continue;
    let trace = traces.get(r.week);
    if (!trace) {
      trace = weekOf(all, r.week);
      traces.set(r.week, trace);
    }
    if (trace.length !== r.jobs)
      throw new Error(
        `--reuse ${file}: week ${r.week} has ${trace.length} jobs here but ${r.jobs} in the file; it was written from another trace, write it again with --json`,
      );
    const row = rejudge(r, replayZumbido(trace, r.gpus, gittins));
    addReplicas(row, trace, gittins);
    rows.push(row);
    console.log(mdRow(row));
  }
  if (rows.length === 0) throw new Error(`--reuse ${file}: no saved row matches --weeks / --gpus`);
  return rows;
}

function replayAll(): Row[] {
  const gittins = gittinsKnobs();
  const loads = loadsOf(values.gpus ?? "256,384,512");
  const all = loadPhilly();
  const mondays: string[] = [];
  for (
    let d = Date.parse("2017-09-04T00:00:00Z");
    d <= Date.parse("2017-12-18T00:00:00Z");
    d += 7 * 86_400_000
  )
    mondays.push(new Date(d).toISOString().slice(0, 10));
  const rows: Row[] = [];
  console.log(MD_HEAD);
  for (const week of values.weeks ? values.weeks.split(",") : mondays) {
    const trace = weekOf(all, week);
    if (trace.length === 0) continue;
    for (const gpus of loads) {
      const out = runSimulation({
        trace,
        fleet: uniformFleet(gpus),
        policies: ["fifo-backfill", "las", "srtf-oracle", zPolicy],
        gittins,
      });
      const row = judge(
        week,
        gpus,
        trace.length,
        Object.fromEntries(
          out.map((o) => [o.result.policy === zPolicy ? "zumbido" : o.result.policy, o.result]),
        ),
      );
      addReplicas(row, trace, gittins);
      rows.push(row);
      console.log(mdRow(row));
    }
  }
  return rows;
}

const n0 = (x: number): string => Math.round(x).toLocaleString("en-US");
const pct = (x: number): string => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)}%`;
const gapText = (r: Row): string => (r.gapClosed === null ? "no gap" : `${Math.round(r.gapClosed * 100)}%`);
const verdict = (r: Row): string =>
  r.misses.length > 0
    ? `MISS: ${r.misses.join(", ")}`
    : r.gapClosed === null && r.gpus < 512
      ? "met (no gap to close)"
      : "met";
const MD_HEAD =
  "| week | GPUs | jobs | fifo-backfill avg / p99 | las avg / p99 / preempt | srtf-oracle avg / preempt | zumbido avg / p99 / preempt | gap closed | vs oracle | wasted GPU-h (z / las) | targets |\n" +
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |";
const cells = (r: Row): string[] => [
  r.week,
  String(r.gpus),
  String(r.jobs),
  `${n0(r.fb.avgJctS)} / ${n0(r.fb.p99JctS)}`,
  `${n0(r.las.avgJctS)} / ${n0(r.las.p99JctS)} / ${r.las.preemptions}`,
  `${n0(r.oracle.avgJctS)} / ${r.oracle.preemptions}`,
  `${n0(r.z.avgJctS)} / ${n0(r.z.p99JctS)} / ${r.z.preemptions}`,
  gapText(r),
  pct(r.z.avgJctS / r.oracle.avgJctS - 1),
  `${n0(r.z.wastedGpuS / 3600)} / ${n0(r.las.wastedGpuS / 3600)}`,
  verdict(r),
];
const mdRow = (r: Row): string => `| ${cells(r).join(" | ")} |`;

/** Geometric mean of a ratio over rows, as a signed percentage ("+3.1%"); "-" with no rows. */
function geoMeanPct(rows: Row[], ratio: (r: Row) => number): string {
  if (rows.length === 0) return "-";
  return pct(Math.exp(rows.reduce((a, r) => a + Math.log(ratio(r)), 0) / rows.length) - 1);
}

function summary(rows: Row[]): string {
  const heavy = rows.filter((x) => x.gpus < 512 && x.gapClosed !== null);
  const loaded = rows.filter((x) => x.gpus < 512);
  const meanGap = heavy.length ? heavy.reduce((a, x) => a + x.gapClosed!, 0) / heavy.length : NaN;
  return (
    (zPolicy === "zumbido" ? "" : `${zPolicy} in zumbido's column: `) +
    `rows met: ${rows.filter((x) => x.misses.length === 0).length} of ${rows.length}; ` +
    `below 512 GPUs with a gap: ${heavy.filter((x) => x.misses.length === 0).length} of ${heavy.length} met, ` +
    `mean gap closed ${heavy.length ? `${(meanGap * 100).toFixed(1)}%` : "-"}, ` +
    `${heavy.filter((x) => x.gapClosed! >= 0.6).length} close >= 60%, ` +
    `zumbido avg / srtf-oracle ${geoMeanPct(loaded, (x) => x.z.avgJctS / x.oracle.avgJctS)} and ` +
    `p99 / fifo-backfill ${geoMeanPct(loaded, (x) => x.z.p99JctS / x.fb.p99JctS)} (geometric means), ` +
    `${rows.filter((x) => x.gpus < 512 && x.z.p99JctS > x.fb.p99JctS).length} p99 > fifo-backfill, ` +
    `${rows.filter((x) => x.gpus < 512 && x.z.preemptions > x.las.preemptions).length} preempt more than las; ` +
    `at 512: ${rows.filter((x) => x.gpus >= 512 && x.z.avgJctS > x.oracle.avgJctS * 1.02).length} above oracle+2%; ` +
    `violations: ${rows.filter((x) => x.misses.includes("violations")).length} rows`
  );
}

/** Every replay of a row's zumbido: seed 0 (the table) and the tie seeds. */
const allSeeds = (r: Row): { seed: number; z: SimResult; gapClosed: number | null; misses: string[] }[] => [
  { seed: 0, z: r.z, gapClosed: r.gapClosed, misses: r.misses },
  ...(r.replicas ?? []),
];

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * The spread of zumbido's figures over the tie seeds (--replicas): per row the gap closed (or, at
 * 512 GPUs, the distance to the oracle) as median and range, and under how many seeds the row
 * meets every target; then what holds under every seed.
 */
function spreadReport(rows: Row[]): string {
  // The seeds every row has (rows read with --from-json carry the replicas they were written with).
  const k = 1 + Math.min(...rows.map((r) => r.replicas?.length ?? 0));
  const out = [
    `\nZumbido under ${k} tie seeds (0 = the table; equal victims and nodes chosen another way):\n`,
    "| week | GPUs | gap closed / vs oracle, seed 0 | median | lowest - highest | p99 / fifo-backfill, lowest - highest | met under |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  const fig = (r: Row, x: { z: SimResult; gapClosed: number | null }): number | null =>
    r.gpus >= 512 ? x.z.avgJctS / r.oracle.avgJctS - 1 : x.gapClosed;
  const show = (r: Row, v: number): string => (r.gpus >= 512 ? pct(v) : `${Math.round(v * 100)}%`);
  for (const r of rows) {
    const seeds = allSeeds(r);
    const figs = seeds.map((x) => fig(r, x)).filter((v): v is number => v !== null);
    const p99 = seeds.map((x) => x.z.p99JctS / r.fb.p99JctS - 1);
    const met = seeds.filter((x) => x.misses.length === 0).length;
    out.push(
      `| ${r.week} | ${r.gpus} | ${figs.length ? show(r, fig(r, seeds[0]!) ?? NaN) : "no gap"} | ` +
        `${figs.length ? show(r, median(figs)) : "-"} | ` +
        `${figs.length ? `${show(r, Math.min(...figs))} - ${show(r, Math.max(...figs))}` : "-"} | ` +
        `${r.gpus >= 512 ? "-" : `${pct(Math.min(...p99))} - ${pct(Math.max(...p99))}`} | ${met} of ${seeds.length} |`,
    );
  }
  const heavy = rows.filter((r) => r.gpus < 512 && r.gapClosed !== null);
  const perSeed = Array.from({ length: k }, (_, s) => {
    const gaps = heavy.map((r) => allSeeds(r)[s]!.gapClosed ?? 0);
    return {
      meanGap: gaps.length ? gaps.reduce((a, b) => a + b, 0) / gaps.length : NaN,
      met: heavy.filter((r) => allSeeds(r)[s]!.misses.length === 0).length,
    };
  });
  const always = rows.filter((r) => allSeeds(r).every((x) => x.misses.length === 0));
  const range = (xs: number[], f: (x: number) => string): string =>
    `${f(Math.min(...xs))} - ${f(Math.max(...xs))}`;
  const parts: string[] = [];
  if (heavy.length)
    parts.push(
      `below 512 GPUs with a gap, mean gap closed ${range(
        perSeed.map((p) => p.meanGap),
        (x) => `${(x * 100).toFixed(1)}%`,
      )} (seed 0: ${(perSeed[0]!.meanGap * 100).toFixed(1)}%), rows meeting every target ` +
        `${range(
          perSeed.map((p) => p.met),
          String,
        )} of ${heavy.length}`,
    );
  parts.push(
    `rows met under every seed: ${always.length ? always.map((r) => `${r.week}@${r.gpus}`).join(", ") : "none"}`,
  );
  out.push(`\nover ${k} tie seeds: ${parts.join("; ")}`);
  return out.join("\n");
}

/** A self-contained HTML page (no scripts): the table, misses marked, and gap closed per week. */
function renderHtml(rows: Row[]): string {
  const head = MD_HEAD.split("\n")[0]!
    .split("|")
    .slice(1, -1)
    .map((h) => `<th>${esc(h.trim())}</th>`)
    .join("");
  const body = rows
    .map(
      (r) =>
        `<tr class="${r.misses.length ? "miss" : "met"}">${cells(r)
          .map((c) => `<td>${esc(c)}</td>`)
          .join("")}</tr>`,
    )
    .join("\n");
  const charts = [256, 384]
    .map((g) => {
      const rs = rows.filter((r) => r.gpus === g && r.gapClosed !== null);
      if (rs.length === 0) return "";
      return barChart(
        `Gap closed at ${g} GPUs (target 60%)`,
        "% of las to srtf-oracle",
        rs.map((r) => r.week.slice(5)),
        [
          { name: "zumbido", values: rs.map((r) => Math.max(0, Math.round(r.gapClosed! * 100))) },
          { name: "target", values: rs.map(() => 60) },
        ],
      );
    })
    .join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><title>Zumbido: Philly weeks, issue 17 targets</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
tr.miss td:last-child{color:#a00}tr.met td:last-child{color:#070}td:first-child,td:last-child{text-align:left}</style></head><body>
<h1>Philly weeks: fifo-backfill, las, srtf-oracle, zumbido</h1>
<p>Every Monday week of the full Philly trace at each load; default overheads (grace, 60 s restore, checkpoints every 1,800 s).
JCTs in seconds. Gap closed = (las &minus; zumbido) / (las &minus; srtf-oracle). Targets at 256 and 384 GPUs: gap closed &ge; 60%,
p99 &le; fifo-backfill, preemptions &le; las, 0 violations; at 512 GPUs: average within 2% of srtf-oracle.
Generated by <code>scripts/sim-weeks.ts</code>.</p>
<p>${esc(summary(rows))}</p>
<table><tr>${head}</tr>
${body}</table>
${charts}
</body></html>
`;
}

const rows: Row[] = values["from-json"]
  ? (JSON.parse(readFileSync(values["from-json"], "utf8")) as Row[])
  : values.reuse
    ? replayReusing(values.reuse)
    : replayAll();
if (values["from-json"]) {
  console.log(MD_HEAD);
  for (const r of rows) console.log(mdRow(r));
}
console.log(`\n${summary(rows)}`);
if (rows.length > 0 && rows.every((r) => r.replicas?.length)) console.log(spreadReport(rows));
if (values.json) writeFileSync(values.json, JSON.stringify(rows));
if (values.html) writeFileSync(values.html, renderHtml(rows));
