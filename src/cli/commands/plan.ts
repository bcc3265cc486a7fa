/**
 * `zumbido plan`: runs the conversion planner on a scenario file and prints a summary table, the
 * JSON (`--json`), and/or writes an HTML report (`--report`).
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { plan, renderReport, parseScenario } from "../../planner/index.js";
import type { PlanResult } from "../../planner/index.js";

/** Options of `zumbido plan` as commander parses them. */
export interface PlanCliOptions {
  input: string;
  json?: boolean;
  report?: string;
  seed?: string;
  runs?: string;
  monthly?: boolean;
}

/** The I/O the command needs; tests pass their own. */
export interface PlanIo {
  readFile(path: string): string;
  writeFile(path: string, text: string): void;
  out(text: string): void;
  err(text: string): void;
}

const nodeIo: PlanIo = {
  readFile: (p) => readFileSync(p, "utf8"),
  writeFile: (p, t) => writeFileSync(p, t, "utf8"),
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

function intOption(
  name: string,
  v: string | undefined,
  min: number,
  max: number,
): number | undefined | string {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    return `--${name} must be a whole number from ${min} to ${max} (got "${v}")`;
  return Number(v);
}

/** Runs the command; returns the exit code (0 ok, 2 bad input) and writes through `io`. */
export function planAction(opts: PlanCliOptions, io: PlanIo = nodeIo): number {
  const fail = (msg: string): number => {
    io.err(`zumbido: ${msg}\n`);
    return 2;
  };
  const seed = intOption("seed", opts.seed, 0, 4_294_967_295);
  if (typeof seed === "string") return fail(seed);
  const runs = intOption("runs", opts.runs, 1, 20_000);
  if (typeof runs === "string") return fail(runs);
  let text: string;
  try {
    text = io.readFile(opts.input);
  } catch (e) {
    return fail(
      `cannot read ${opts.input} (${(e as Error).message}); give the path of a scenario JSON file, e.g. examples/plans/asturias-20mw-s19jpro.json`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return fail(`${opts.input} is not valid JSON (${(e as Error).message}); fix the syntax`);
  }
  const parsed = parseScenario(raw);
  if (!parsed.ok) {
    for (const e of parsed.errors)
      io.err(`zumbido: ${opts.input}: ${e.path ? `${e.path}: ` : ""}${e.message}\n`);
    return 2;
  }
  const result = plan(parsed.scenario, {
    ...(seed !== undefined ? { seed } : {}),
    ...(runs !== undefined ? { runs } : {}),
    monthly: opts.monthly ?? false,
  });
  if (opts.report) {
    try {
      io.writeFile(
        opts.report,
        renderReport(result, {
          ...(parsed.scenario.notes !== undefined ? { notes: parsed.scenario.notes } : {}),
        }),
      );
    } catch (e) {
      return fail(
        `cannot write the report to ${opts.report} (${(e as Error).message}); check the folder exists and is writable`,
      );
    }
  }
  if (opts.json) io.out(`${JSON.stringify(result, null, 2)}\n`);
  else io.out(summary(result));
  if (opts.report) io.err(`report written to ${opts.report}\n`);
  return 0;
}

const money = (x: number): string => {
  const a = Math.abs(x);
  const s =
    a >= 1e9
      ? `$${(a / 1e9).toFixed(2)}B`
      : a >= 1e6
        ? `$${(a / 1e6).toFixed(1)}M`
        : a >= 1e3
          ? `$${(a / 1e3).toFixed(0)}k`
          : `$${a.toFixed(0)}`;
  return x < 0 ? `-${s}` : s;
};
const pct = (x: number | null): string => (x === null ? "n/a" : `${(x * 100).toFixed(1)}%`);
const yrs = (x: number | null): string =>
  x === null ? "never" : x === 0 ? "immediate" : `${x.toFixed(1)} y`;

function grid(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** The readable summary printed without --json. */
export function summary(r: PlanResult): string {
  const lines: string[] = [];
  lines.push(
    `${r.name ?? "Conversion plan"}: start ${r.startDate}, ${r.horizonYears} years, discount ${pct(r.discountRate)}`,
  );
  if (r.site)
    lines.push(`site: ${r.site.powerMw} MW, PUE ${r.site.pue}, power $${r.site.electricityUsdPerMwh}/MWh`);
  lines.push("");
  const rows: string[][] = [["option", "NPV", "IRR", "payback"]];
  if (r.mining)
    rows.push([
      `mining (${r.mining.units} x ${r.mining.asic.id})`,
      money(r.mining.npvUsd),
      pct(r.mining.irr),
      yrs(r.mining.paybackYears),
    ]);
  if (r.hosting)
    rows.push([
      `AI hosting (${r.hosting.itMw} MW IT)`,
      money(r.hosting.npvUsd),
      pct(r.hosting.irr),
      yrs(r.hosting.paybackYears),
    ]);
  if (r.gpuCloud)
    rows.push([
      `GPU cloud (${r.gpuCloud.gpus} x ${r.gpuCloud.gpu})`,
      money(r.gpuCloud.npvUsd),
      pct(r.gpuCloud.irr),
      yrs(r.gpuCloud.paybackYears),
    ]);
  if (r.hybrid) {
    const b = r.hybrid.best;
    const isRec = r.recommendation.option === "hybrid";
    rows.push([
      `best split (${(b.miningShare * 100).toFixed(1)}% mining + ${r.hybrid.aiMode})`,
      money(b.npvUsd),
      isRec ? pct(r.recommendation.irr) : "-",
      isRec ? yrs(r.recommendation.paybackYears) : "-",
    ]);
  }
  lines.push(grid(rows));
  lines.push("");
  if (r.mining) {
    const m = r.mining;
    lines.push(
      `mining: hashprice $${m.hashpriceUsdPerPhDay.toFixed(2)}/PH/day (${m.hashpriceSource}); break-even $${m.breakevenUsdPerKwh.toFixed(4)}/kWh at the site ($${m.breakevenUsdPerKwhAtMachine.toFixed(4)} at the machine); revenue ${money(m.revenueUsdPerMwYear)}/MW-yr vs power ${money(m.powerCostUsdPerMwYear)}/MW-yr; margin ${pct(m.hardwareMargin)}`,
    );
    if (m.halvings.length > 0) lines.push(`        halvings: ${m.halvings.map((h) => h.date).join(", ")}`);
  }
  if (r.hosting) {
    const h = r.hosting;
    lines.push(
      `hosting: revenue ${money(h.revenueUsdPerYear)}/yr, NOI ${money(h.noiUsdPerYear)}/yr, ${money(h.revenueUsdPerMwItYear)} per MW-IT-yr; retrofit capex ${money(h.capexUsd)}`,
    );
  }
  if (r.gpuCloud) {
    const g = r.gpuCloud;
    lines.push(
      `GPU cloud: capex ${money(g.capexUsd)}; first-year revenue ${money(g.revenueUsdPerYear)}, EBITDA ${money(g.ebitdaUsdPerYear)}; break-even utilisation ${g.breakevenUtilisation === null ? "not reached" : pct(g.breakevenUtilisation)}, break-even price ${g.breakevenUsdPerGpuHour === null ? "n/a" : `$${g.breakevenUsdPerGpuHour.toFixed(2)}/GPU-h`}`,
    );
  }
  lines.push("");
  lines.push(`recommendation: ${r.recommendation.summary}`);
  const top = r.sensitivity.bars
    .slice(0, 3)
    .map((b) => `${b.input} (${money(b.npvLowUsd)} .. ${money(b.npvHighUsd)})`);
  if (top.length > 0) lines.push(`most sensitive to: ${top.join("; ")}`);
  const d = r.monteCarlo.npvUsd[r.recommendation.option];
  if (d)
    lines.push(
      `Monte Carlo (${r.monteCarlo.runs} draws, seed ${r.monteCarlo.seed}): NPV P5 ${money(d.p5)}, P50 ${money(d.p50)}, P95 ${money(d.p95)}; P(NPV < 0) ${pct(d.probLoss)}`,
    );
  return `${lines.join("\n")}\n`;
}

/** Registers `zumbido plan` on the program. */
export function registerPlanCommand(program: Command): void {
  program
    .command("plan")
    .description(
      "Conversion planner: mining vs AI hosting vs GPU cloud vs a hybrid split, with NPV, IRR, sensitivity and Monte Carlo",
    )
    .requiredOption("-i, --input <file>", "scenario JSON file (see docs/planner.md and examples/plans/)")
    .option("--json", "print the full result as JSON")
    .option("--report <file>", "write an HTML report (tables and SVG charts) to this file")
    .option("--seed <n>", "Monte Carlo seed (overrides monteCarlo.seed)")
    .option("--runs <n>", "Monte Carlo draws (overrides monteCarlo.runs)")
    .option("--monthly", "include monthly cash-flow tables in the JSON")
    .action((_opts: PlanCliOptions, cmd: Command) => {
      // optsWithGlobals: the program also defines --json, and commander hands it to the program.
      const code = planAction(cmd.optsWithGlobals<PlanCliOptions>());
      if (code !== 0) process.exitCode = code;
    });
}
