import { useMemo, useState, type ReactNode } from "react";
import { Chart, type ChartOption } from "../components/chart.js";
import { Card, Loaded, PageHeader, Stat } from "../components/ui.js";
import { num } from "../lib/format.js";
import { Link } from "../lib/router.js";
import type { Site, Utilisation } from "../lib/types.js";
import { useApi } from "../lib/use-api.js";

const WINDOWS = [
  { minutes: 15, label: "Last 15 minutes" },
  { minutes: 60, label: "Last hour" },
  { minutes: 24 * 60, label: "Last 24 hours" },
  { minutes: 7 * 24 * 60, label: "Last 7 days" },
];

/** Operator: one site's GPU utilisation and estimated power draw over time, against its contract. */
export function SitePage({ id }: { id: string }): ReactNode {
  const [minutes, setMinutes] = useState(60);
  const site = useApi<Site>(`/v1/sites/${encodeURIComponent(id)}`);
  const util = useApi<Utilisation>(
    `/v1/sites/${encodeURIComponent(id)}/utilisation?minutes=${minutes}`,
    5000,
  );
  return (
    <>
      <PageHeader
        title={site.data?.name ?? "Site"}
        subtitle={
          site.data
            ? `${site.data.country} · ${site.data.cooling} cooling · PUE ${site.data.pue.toFixed(2)} · contracted ${num(site.data.powerKw)} kW`
            : undefined
        }
        actions={
          <>
            <label htmlFor="util-window" className="sr-only">
              Time window
            </label>
            <select id="util-window" value={minutes} onChange={(e) => setMinutes(Number(e.target.value))}>
              {WINDOWS.map((w) => (
                <option key={w.minutes} value={w.minutes}>
                  {w.label}
                </option>
              ))}
            </select>
            <Link className="btn" to="/operator">
              All sites
            </Link>
          </>
        }
      />
      <Loaded
        state={util}
        what="utilisation"
        feature="Utilisation history"
        endpoint={`GET /v1/sites/${id}/utilisation`}
      >
        {(u) => <SiteCharts u={u} />}
      </Loaded>
      {site.data ? <ImagePolicy site={site.data} /> : null}
    </>
  );
}

/** The site's image policy as the scheduler applies it (change it with `zumbido sites update`). */
function ImagePolicy({ site }: { site: Site }): ReactNode {
  const list = (l: string[] | undefined, none: string): string => (l?.length ? l.join("  ") : none);
  return (
    <Card title="Image policy">
      <dl className="kv">
        <dt>Default image</dt>
        <dd className="mono">{site.defaultImage ?? "none (jobs without an image run as host processes)"}</dd>
        <dt>Allowed images</dt>
        <dd className="mono">{list(site.allowImages, "any image not denied")}</dd>
        <dt>Denied images</dt>
        <dd className="mono">{list(site.denyImages, "none")}</dd>
        <dt>Network</dt>
        <dd>{site.allowNetwork ? "given to jobs that ask for it" : "none: workloads run without network"}</dd>
      </dl>
      <p className="muted">
        Change it with{" "}
        <code>
          zumbido sites update {site.id} --default-image … --allow-image … --deny-image … --allow-network
        </code>
        .
      </p>
    </Card>
  );
}

function SiteCharts({ u }: { u: Utilisation }): ReactNode {
  const peak = Math.max(0, ...u.points.map((p) => p.busyPeak));
  const avg = u.points.length ? u.points.reduce((a, p) => a + p.busyAvg, 0) / u.points.length : 0;
  const maxKw = Math.max(0, ...u.points.map((p) => p.powerKw));
  const onScale = u.contractedKw <= 3 * maxKw;
  const gpuOption: ChartOption = useMemo(
    () => ({
      xAxis: { type: "time", min: u.from, max: u.to, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", name: "GPUs", min: 0, max: Math.max(u.totalGpus, 1), minInterval: 1 },
      series: [
        {
          name: "Busy (peak)",
          type: "line",
          step: "end",
          data: u.points.map((p) => [p.at, p.busyPeak]),
          areaStyle: { opacity: 0.15 },
          symbol: "none",
        },
        {
          name: "Busy (mean)",
          type: "line",
          data: u.points.map((p) => [p.at, p.busyAvg]),
          symbol: "none",
          lineStyle: { width: 1.5 },
        },
        {
          name: "Installed",
          type: "line",
          data: [
            [u.from, u.totalGpus],
            [u.to, u.totalGpus],
          ],
          symbol: "none",
          lineStyle: { type: "dashed", color: "#94a3b8" },
          itemStyle: { color: "#94a3b8" },
        },
      ],
    }),
    [u],
  );
  const powerOption: ChartOption = useMemo(
    () => ({
      xAxis: { type: "time", min: u.from, max: u.to, axisLabel: { hideOverlap: true } },
      yAxis: { type: "value", name: "kW", min: 0 },
      series: [
        {
          name: "Estimated draw",
          type: "line",
          data: u.points.map((p) => [p.at, p.powerKw]),
          areaStyle: { opacity: 0.15 },
          symbol: "none",
          // The budget line only where it shares a scale with the draw (a hall's contract is usually far above a few nodes).
          ...(onScale
            ? {
                markLine: {
                  symbol: "none",
                  label: { formatter: `budget ${num(u.contractedKw)} kW`, position: "insideEndTop" },
                  lineStyle: { color: "#ef4444", type: "dashed" },
                  data: [{ yAxis: u.contractedKw }],
                },
              }
            : {}),
        },
      ],
    }),
    [u],
  );
  return (
    <>
      <div className="stats">
        <Stat label="Installed GPUs" value={num(u.totalGpus)} />
        <Stat label="Peak busy" value={num(peak)} hint={`mean ${num(avg, 2)} GPUs`} />
        <Stat
          label="Peak draw (est.)"
          value={`${num(maxKw, 2)} kW`}
          hint={`budget ${num(u.contractedKw)} kW (${num(u.contractedKw ? (100 * maxKw) / u.contractedKw : 0, 2)}%)`}
        />
      </div>
      <Card title="GPU utilisation">
        <Chart
          option={gpuOption}
          label={`Busy GPUs over time, peak ${peak} of ${u.totalGpus}`}
          testId="chart-utilisation"
        />
        <p className="hint">
          Buckets of {u.stepMs < 60_000 ? `${num(u.stepMs / 1000)} s` : `${num(u.stepMs / 60_000)} min`}. Peak
          = most GPUs leased at once in the bucket; mean = time-weighted.
        </p>
      </Card>
      <Card title="Power draw against budget">
        <Chart
          option={powerOption}
          label={`Estimated power draw over time, peak ${num(maxKw, 2)} kW against a budget of ${u.contractedKw} kW`}
          testId="chart-power"
        />
        <p className="hint">
          Busy GPUs × board power plus the overhead of busy nodes, times the site&apos;s PUE. The scheduler
          keeps the site under its contracted {num(u.contractedKw)} kW
          {onScale ? " (dashed line)" : `; the peak here is ${num((100 * maxKw) / u.contractedKw, 2)}% of it`}
          .
        </p>
      </Card>
    </>
  );
}
