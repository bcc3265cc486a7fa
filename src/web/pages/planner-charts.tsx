import { useMemo, type ReactNode } from "react";
import { Chart, type ChartOption } from "../components/chart.js";
import { Card, Stat } from "../components/ui.js";
import { num, usdM } from "../lib/format.js";

interface YearRow {
  year: number;
  cashFlowUsd: number;
  cumulativeUsd: number;
}
interface Option {
  npvUsd: number;
  irr: number | null;
  paybackYears: number | null;
  cashFlows: { yearly: YearRow[] };
}
interface Dist {
  p5: number;
  p10: number;
  p25: number;
  p50: number;
  p75: number;
  p90: number;
  p95: number;
  mean: number;
  probLoss: number;
}
/** The parts of POST /v1/plans' answer the page draws. */
export interface Plan {
  name: string | null;
  horizonYears: number;
  discountRate: number;
  mining?: Option;
  hosting?: Option;
  gpuCloud?: Option;
  hybrid?: {
    aiMode: string;
    curve: { miningShare: number; npvUsd: number }[];
    best: { miningShare: number; npvUsd: number };
  };
  recommendation: {
    option: string;
    npvUsd: number;
    irr: number | null;
    paybackYears: number | null;
    summary: string;
  };
  sensitivity: {
    option: string;
    baseNpvUsd: number;
    bars: { input: string; lowLabel: string; highLabel: string; npvLowUsd: number; npvHighUsd: number }[];
  };
  monteCarlo: { runs: number; npvUsd: Record<string, Dist> };
}

const NAMES: Record<string, string> = {
  mining: "Mining",
  hosting: "AI hosting",
  gpuCloud: "GPU cloud",
  hybrid: "Hybrid",
};
const nm = (k: string): string => NAMES[k] ?? k;
/** Short axis labels: "$2M", "−$500k". */
const axisUsd = { axisLabel: { hideOverlap: true, formatter: (v: number) => usdShort(v) } };
function usdShort(v: number): string {
  const a = Math.abs(v);
  const sign = v < 0 ? "−" : "";
  if (a >= 1e6) return `${sign}$${num(a / 1e6, 1)}M`;
  if (a >= 1e3) return `${sign}$${num(a / 1e3, 0)}k`;
  return `${sign}$${num(a, 0)}`;
}
const pct = (x: number | null): string => (x === null ? "—" : `${num(x * 100, 1)}%`);

/** A plan's figures and its four charts: cumulative cash, split search, tornado, and risk. */
export function PlanView({ plan }: { plan: Plan }): ReactNode {
  const options = (["mining", "hosting", "gpuCloud"] as const)
    .filter((k) => plan[k])
    .map((k) => [k, plan[k]!] as const);
  const cumulative: ChartOption = useMemo(() => {
    const years = options[0]?.[1].cashFlows.yearly.map((r) => `Y${r.year}`) ?? [];
    return {
      xAxis: { type: "category", data: years },
      yAxis: { type: "value", ...axisUsd },
      tooltip: { trigger: "axis", valueFormatter: (v: number) => usdM(v) },
      series: options.map(([k, o]) => ({
        name: nm(k),
        type: "line",
        data: o.cashFlows.yearly.map((r) => r.cumulativeUsd),
        symbolSize: 5,
      })),
    };
  }, [plan]);
  const split: ChartOption | null = useMemo(() => {
    if (!plan.hybrid) return null;
    return {
      xAxis: {
        type: "value",
        name: "share of power kept for mining",
        nameLocation: "middle",
        nameGap: 30,
        min: 0,
        max: 1,
        axisLabel: { formatter: (v: number) => `${Math.round(v * 100)}%` },
      },
      yAxis: { type: "value", ...axisUsd, name: "NPV" },
      grid: { left: 64, right: 28, top: 44, bottom: 56 },
      tooltip: { trigger: "axis", valueFormatter: (v: number) => usdM(v) },
      series: [
        {
          name: "NPV",
          type: "line",
          data: plan.hybrid.curve.map((p) => [p.miningShare, p.npvUsd]),
          symbolSize: 4,
          markLine: {
            symbol: "none",
            lineStyle: { color: "#10b981", type: "dashed" },
            label: {
              formatter: `best: ${Math.round(plan.hybrid.best.miningShare * 100)}% mining`,
              position: "insideEndTop",
            },
            data: [{ xAxis: plan.hybrid.best.miningShare }],
          },
        },
      ],
    };
  }, [plan]);
  const tornado: ChartOption = useMemo(() => {
    const bars = [...plan.sensitivity.bars].reverse();
    const base = plan.sensitivity.baseNpvUsd;
    return {
      grid: { left: 150, right: 24, top: 36, bottom: 32 },
      xAxis: { type: "value", ...axisUsd },
      yAxis: {
        type: "category",
        data: bars.map((b) => b.input),
        axisLabel: { width: 140, overflow: "truncate" },
      },
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: (v: number) => usdM(v) },
      series: [
        {
          name: "Low input",
          type: "bar",
          stack: "t",
          data: bars.map((b) => b.npvLowUsd - base),
          itemStyle: { color: "#ef4444" },
        },
        {
          name: "High input",
          type: "bar",
          stack: "t2",
          barGap: "-100%",
          data: bars.map((b) => b.npvHighUsd - base),
          itemStyle: { color: "#2563eb" },
        },
      ],
    };
  }, [plan]);
  const risk: ChartOption = useMemo(() => {
    const keys = Object.keys(plan.monteCarlo.npvUsd);
    const d = (k: string): Dist => plan.monteCarlo.npvUsd[k]!;
    return {
      xAxis: { type: "category", data: keys.map(nm) },
      yAxis: { type: "value", ...axisUsd },
      tooltip: { trigger: "axis", valueFormatter: (v: number) => usdM(v) },
      series: [
        { name: "P10", type: "bar", data: keys.map((k) => d(k).p10), itemStyle: { color: "#fca5a5" } },
        { name: "P50", type: "bar", data: keys.map((k) => d(k).p50), itemStyle: { color: "#2563eb" } },
        { name: "P90", type: "bar", data: keys.map((k) => d(k).p90), itemStyle: { color: "#86efac" } },
      ],
    };
  }, [plan]);
  const r = plan.recommendation;
  return (
    <div data-testid="plan">
      <Card title={`Recommendation: ${nm(r.option)}`} className="recommendation">
        <p>{r.summary}</p>
        <div className="stats">
          <Stat
            label="NPV"
            value={usdM(r.npvUsd)}
            hint={`at ${pct(plan.discountRate)} over ${plan.horizonYears} years`}
          />
          <Stat label="IRR" value={pct(r.irr)} />
          <Stat
            label="Payback"
            value={r.paybackYears === null ? "never" : `${num(r.paybackYears, 1)} years`}
          />
        </div>
      </Card>
      <Card title="Options compared">
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Option</th>
                <th className="num">NPV</th>
                <th className="num">IRR</th>
                <th className="num">Payback</th>
                <th className="num">P(loss)</th>
              </tr>
            </thead>
            <tbody>
              {options.map(([k, o]) => (
                <tr key={k}>
                  <td>{nm(k)}</td>
                  <td className="num">{usdM(o.npvUsd)}</td>
                  <td className="num">{pct(o.irr)}</td>
                  <td className="num">{o.paybackYears === null ? "never" : `${num(o.paybackYears, 1)} y`}</td>
                  <td className="num">
                    {plan.monteCarlo.npvUsd[k] ? pct(plan.monteCarlo.npvUsd[k].probLoss) : "—"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>
      <div className="grid2">
        <Card title="Cumulative cash flow">
          <Chart
            option={cumulative}
            label="Cumulative cash flow by year for each option"
            testId="chart-cumulative"
          />
        </Card>
        {split ? (
          <Card title={`Power split: mining vs ${nm(plan.hybrid!.aiMode)}`}>
            <Chart
              option={split}
              label="Net present value against the share of power kept for mining"
              testId="chart-split"
            />
          </Card>
        ) : null}
        <Card title={`Sensitivity of ${nm(plan.sensitivity.option)} NPV`}>
          <Chart
            option={tornado}
            label="Tornado chart: change in NPV when each input moves low or high"
            testId="chart-tornado"
            height={300}
          />
        </Card>
        <Card title={`Risk: NPV over ${num(plan.monteCarlo.runs)} simulated markets`}>
          <Chart
            option={risk}
            label="NPV percentiles (P10, P50, P90) per option from the Monte Carlo runs"
            testId="chart-risk"
            height={300}
          />
        </Card>
      </div>
    </div>
  );
}
