import type { SimRun } from "./engine.js";
import type { SimResult } from "./result.js";
import { jcts, tenantSlowdowns } from "./result.js";
import { barChart, esc, lineChart } from "./svg.js";

/** A self-contained HTML report (inline SVG, no scripts) comparing the policies of one run. */
export function renderReport(title: string, entries: { result: SimResult; run: SimRun }[]): string {
  const cdf = entries.map(({ result, run }) => {
    const s = jcts(run).sort();
    const step = Math.max(1, Math.floor(s.length / 400));
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i < s.length; i += step) {
      xs.push(s[i]!);
      ys.push((i + 1) / s.length);
    }
    xs.push(s[s.length - 1] ?? 0);
    ys.push(1);
    return { name: result.policy, xs, ys };
  });
  const hours = (ts: number[]): number[] => ts.map((t) => (t - (ts[0] ?? 0)) / 3600);
  const queue = entries.map(({ result, run }) => ({
    name: result.policy,
    xs: hours(run.series.t),
    ys: run.series.queue,
  }));
  const util = entries.map(({ result, run }) => ({
    name: result.policy,
    xs: hours(run.series.t),
    ys: run.series.busy.map((b) => b / run.totalGpus),
  }));
  const slow = entries.map(({ result, run }) => ({ name: result.policy, sd: tenantSlowdowns(run) }));
  const tenants = [...new Set(slow.flatMap((s) => Object.keys(s.sd)))].sort();
  const keys = [
    "jobs",
    "avgJctS",
    "p50JctS",
    "p99JctS",
    "avgQueueS",
    "makespanS",
    "utilization",
    "preemptions",
    "wastedGpuS",
    "maxMinSlowdown",
    "violations",
    "wallS",
  ];
  const extra = [...new Set(entries.flatMap((e) => Object.keys(e.result)))].filter(
    (k) => k !== "policy" && !keys.includes(k) && typeof entries[0]!.result[k] !== "object",
  );
  const cols = [...keys, ...extra];
  const table = `<table><tr><th>policy</th>${cols.map((k) => `<th>${esc(k)}</th>`).join("")}</tr>${entries
    .map(
      (e) =>
        `<tr><td>${esc(e.result.policy)}</td>${cols.map((k) => `<td>${esc(cell(e.result[k]))}</td>`).join("")}</tr>`,
    )
    .join("")}</table>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:24px;max-width:1400px}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f4f4f4}.grid{display:flex;flex-wrap:wrap;gap:16px}</style>
</head><body><h1>${esc(title)}</h1>${table}
<div class="grid">
${lineChart("JCT CDF per policy", "job completion time (s, log)", "fraction of jobs", cdf, { logX: true, yMax: 1 })}
${lineChart("Queue length over time", "hours since first submit", "jobs waiting", queue)}
${lineChart("GPU utilisation over time", "hours since first submit", "busy GPUs / all GPUs", util, { yMax: 1 })}
${barChart(
  "Mean slowdown per tenant",
  "JCT / run time",
  tenants,
  slow.map((s) => ({ name: s.name, values: tenants.map((t) => s.sd[t] ?? 0) })),
)}
</div></body></html>`;
}

function cell(v: unknown): string {
  return typeof v === "number" || typeof v === "string" || typeof v === "boolean" ? String(v) : "";
}
