/**
 * The planner's HTML report: a pure function from a plan result to one self-contained page
 * (tables and inline SVG charts, no scripts). Same result, same bytes.
 */
import type { YearRow } from "./flows.js";
import type { PlanResult, Valuation } from "./plan.js";
import {
  COLOURS,
  esc,
  groupedBars,
  groupThousands,
  histogramChart,
  shareLine,
  shortUsd,
  tornadoChart,
} from "./svg.js";

/** Extra text for the report page. */
export interface ReportOptions {
  title?: string;
  notes?: string | string[];
}

const usdCell = (x: number): string => `$${groupThousands(x)}`.replace("$-", "-$");
const pctCell = (x: number | null): string =>
  x === null ? "n/a" : `${(Math.round(x * 1000) / 10).toFixed(1)}%`;
const yrsCell = (x: number | null): string =>
  x === null ? "never" : x === 0 ? "immediate" : `${x.toFixed(1)} y`;
const LABEL: Record<string, string> = {
  mining: "Mining",
  hosting: "AI hosting",
  gpuCloud: "GPU cloud",
  hybrid: "Hybrid",
};

function table(head: string[], rows: string[][], numericFrom = 1): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join("");
  const body = rows
    .map(
      (r) =>
        `<tr>${r.map((c, i) => `<td${i >= numericFrom ? ' class="n"' : ""}>${esc(c)}</td>`).join("")}</tr>`,
    )
    .join("\n");
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function cashTable(rows: YearRow[]): string {
  return table(
    [
      "Year",
      "Revenue",
      "Power",
      "Other opex",
      "EBITDA / NOI",
      "Capex",
      "Residual",
      "Cash flow",
      "Cumulative",
    ],
    rows.map((r) => [
      String(r.year),
      usdCell(r.revenueUsd),
      usdCell(r.powerUsd),
      usdCell(r.opexUsd),
      usdCell(r.ebitdaUsd),
      usdCell(r.capexUsd),
      usdCell(r.residualUsd),
      usdCell(r.cashFlowUsd),
      usdCell(r.cumulativeUsd),
    ]),
  );
}

function valuationRows(v: Valuation): string[][] {
  return [
    ["NPV", usdCell(v.npvUsd)],
    ["IRR", pctCell(v.irr)],
    ["Payback", yrsCell(v.paybackYears)],
  ];
}

/** Renders a plan as a standalone HTML page. */
export function renderReport(r: PlanResult, opts: ReportOptions = {}): string {
  const title = opts.title ?? (r.name ? `Conversion plan: ${r.name}` : "Conversion plan");
  const parts: string[] = [];
  parts.push(`<h1>${esc(title)}</h1>`);
  parts.push(
    `<p class="rec"><strong>${esc(LABEL[r.recommendation.option] ?? r.recommendation.option)}.</strong> ${esc(r.recommendation.summary)}</p>`,
  );
  const notes = opts.notes === undefined ? [] : Array.isArray(opts.notes) ? opts.notes : [opts.notes];
  for (const n of notes) parts.push(`<p class="note">${esc(n)}</p>`);
  const site = r.site
    ? `${r.site.powerMw} MW, PUE ${r.site.pue}, power $${r.site.electricityUsdPerMwh}/MWh`
    : "no site given";
  parts.push(
    `<p>Start ${esc(r.startDate)}, horizon ${r.horizonYears} years, discount rate ${pctCell(r.discountRate)}; site: ${esc(site)}. All figures in USD, before tax.</p>`,
  );

  const options: [string, Valuation][] = [];
  if (r.mining) options.push(["mining", r.mining]);
  if (r.hosting) options.push(["hosting", r.hosting]);
  if (r.gpuCloud) options.push(["gpuCloud", r.gpuCloud]);
  parts.push("<h2>Options compared</h2>");
  const cmp = options.map(([k, v]) => [
    LABEL[k]!,
    usdCell(v.npvUsd),
    pctCell(v.irr),
    yrsCell(v.paybackYears),
  ]);
  if (r.hybrid) {
    const b = r.hybrid.best;
    cmp.push([
      `Best split (${Math.round(b.miningShare * 100)}% mining + ${LABEL[r.hybrid.aiMode]!})`,
      usdCell(b.npvUsd),
      r.recommendation.option === "hybrid" ? pctCell(r.recommendation.irr) : "-",
      r.recommendation.option === "hybrid" ? yrsCell(r.recommendation.paybackYears) : "-",
    ]);
  }
  parts.push(table(["Option", "NPV", "IRR", "Payback"], cmp));

  if (r.mining) {
    const m = r.mining;
    parts.push("<h2>Mining</h2>");
    parts.push(
      table(
        ["Figure", "Value"],
        [
          [
            "Fleet",
            `${groupThousands(m.units)} x ${m.asic.id} (${m.asic.ths} TH/s, ${m.asic.watts} W, ${m.asic.jPerTh} J/TH)`,
          ],
          ["Fleet hashrate", `${m.fleetPhs} PH/s`],
          ["Hashprice", `$${m.hashpriceUsdPerPhDay.toFixed(2)}/PH/day (${m.hashpriceSource})`],
          ["Block reward", `${m.subsidyBtc} BTC subsidy + ${m.feesBtcPerBlock} BTC fees`],
          ["Break-even power price (site, PUE and pool fee)", `$${m.breakevenUsdPerKwh.toFixed(4)}/kWh`],
          ["Break-even power price (at the machine)", `$${m.breakevenUsdPerKwhAtMachine.toFixed(4)}/kWh`],
          ["Revenue per MW-year", usdCell(m.revenueUsdPerMwYear)],
          ["Power cost per MW-year", usdCell(m.powerCostUsdPerMwYear)],
          ["Hardware margin", pctCell(m.hardwareMargin)],
          [
            "Halvings in the horizon",
            m.halvings.map((h) => `${h.date} (block ${groupThousands(h.height)})`).join(", ") || "none",
          ],
          ...valuationRows(m),
        ],
      ),
    );
  }
  if (r.hosting) {
    const h = r.hosting;
    parts.push("<h2>AI hosting</h2>");
    parts.push(
      table(
        ["Figure", "Value"],
        [
          ["IT power leased", `${h.itMw} MW`],
          ["Revenue per year", usdCell(h.revenueUsdPerYear)],
          ["NOI per year", usdCell(h.noiUsdPerYear)],
          ["Revenue per MW-IT-year", usdCell(h.revenueUsdPerMwItYear)],
          ["NOI per MW-IT-year", usdCell(h.noiUsdPerMwItYear)],
          ["Retrofit capex", usdCell(h.capexUsd)],
          ...valuationRows(h),
        ],
      ),
    );
  }
  if (r.gpuCloud) {
    const g = r.gpuCloud;
    parts.push("<h2>GPU cloud</h2>");
    parts.push(
      table(
        ["Figure", "Value"],
        [
          ["GPUs", `${groupThousands(g.gpus)} x ${g.gpu} (${g.itMw} MW IT)`],
          ["Price, utilisation", `$${g.priceUsdPerGpuHour}/GPU-hour at ${pctCell(g.utilisation)}`],
          ["Capex", usdCell(g.capexUsd)],
          ["Revenue, first year of operation", usdCell(g.revenueUsdPerYear)],
          ["EBITDA, first year of operation", usdCell(g.ebitdaUsdPerYear)],
          ["Revenue per MW-IT-year", usdCell(g.revenueUsdPerMwItYear)],
          ["Depreciation per year", usdCell(g.depreciationUsdPerYear)],
          [
            "Break-even utilisation (NPV 0)",
            g.breakevenUtilisation === null ? "not reached at 100%" : pctCell(g.breakevenUtilisation),
          ],
          [
            "Break-even GPU-hour price (NPV 0)",
            g.breakevenUsdPerGpuHour === null ? "n/a" : `$${g.breakevenUsdPerGpuHour.toFixed(2)}`,
          ],
          ...valuationRows(g),
        ],
      ),
    );
  }

  parts.push("<h2>Cash flow by year</h2>");
  const years = options[0]?.[1].cashFlows.yearly.map((y) => String(y.year)) ?? [];
  parts.push(
    groupedBars(
      "Net cash flow per year",
      years,
      options.map(([k, v]) => ({
        name: LABEL[k]!,
        colour: COLOURS[k]!,
        values: v.cashFlows.yearly.map((y) => y.cashFlowUsd),
      })),
    ),
  );
  for (const [k, v] of options) parts.push(`<h3>${esc(LABEL[k]!)}</h3>${cashTable(v.cashFlows.yearly)}`);

  if (r.hybrid) {
    parts.push("<h2>NPV by split</h2>");
    const pts = r.hybrid.curve.map((p) => ({ x: p.miningShare, y: p.npvUsd }));
    const hi = r.hybrid.curve.findIndex((p) => p.miningShare === r.hybrid!.best.miningShare);
    parts.push(
      shareLine(
        `NPV by share of site power kept mining (rest: ${LABEL[r.hybrid.aiMode]!})`,
        pts,
        hi,
        "share of site power mining",
      ),
    );
    parts.push(
      table(
        ["Mining share", "Mining MW", "AI MW", "NPV"],
        r.hybrid.curve.map((p) => [
          `${(p.miningShare * 100).toFixed(1)}%`,
          p.miningMw.toFixed(2),
          p.aiMw.toFixed(2),
          usdCell(p.npvUsd),
        ]),
      ),
    );
  }

  parts.push(`<h2>Sensitivity (${esc(LABEL[r.sensitivity.option] ?? r.sensitivity.option)})</h2>`);
  const bars = r.sensitivity.bars.map((b) => ({
    input: b.input,
    lowLabel: b.lowLabel,
    highLabel: b.highLabel,
    low: b.npvLowUsd,
    high: b.npvHighUsd,
  }));
  parts.push(tornadoChart("NPV when one input moves", r.sensitivity.baseNpvUsd, bars));
  parts.push(
    table(
      ["Input", "Low", "NPV low", "High", "NPV high", "Swing"],
      r.sensitivity.bars.map((b) => [
        b.input,
        b.lowLabel,
        usdCell(b.npvLowUsd),
        b.highLabel,
        usdCell(b.npvHighUsd),
        usdCell(b.swingUsd),
      ]),
    ),
  );

  parts.push(`<h2>Monte Carlo (${r.monteCarlo.runs} draws, seed ${r.monteCarlo.seed})</h2>`);
  const rec = r.monteCarlo.npvUsd[r.recommendation.option];
  if (rec?.histogram) {
    parts.push(
      histogramChart(`NPV distribution: ${LABEL[r.recommendation.option]!}`, rec.histogram, [
        { label: "0", value: 0 },
        { label: "P5", value: rec.p5 },
        { label: "P50", value: rec.p50 },
        { label: "P95", value: rec.p95 },
      ]),
    );
  }
  parts.push(
    table(
      ["Option", "P5", "P10", "P50", "P90", "P95", "Mean", "P(NPV < 0)"],
      Object.entries(r.monteCarlo.npvUsd).map(([k, d]) => [
        LABEL[k] ?? k,
        shortUsd(d.p5),
        shortUsd(d.p10),
        shortUsd(d.p50),
        shortUsd(d.p90),
        shortUsd(d.p95),
        shortUsd(d.mean),
        pctCell(d.probLoss),
      ]),
    ),
  );
  parts.push(
    '<p class="note">Formulas and assumptions: src/planner/README.md and docs/planner.md in the Zumbido repository.</p>',
  );

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>
body { font-family: sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f2f2f2; }
.rec { font-size: 1.15em; background: #f6f2fb; padding: 0.6em; border-left: 4px solid #8a4fb8; }
.note { color: #555; font-size: 0.9em; }
svg { display: block; margin: 0.5em 0 1em; max-width: 100%; height: auto; }
</style>
</head>
<body>
${parts.join("\n")}
</body>
</html>
`;
}
