import type { ReactNode } from "react";
import { Badge, Card, Empty, Loaded, Meter, PageHeader, Stat } from "../components/ui.js";
import { money, num, when } from "../lib/format.js";
import { Link } from "../lib/router.js";
import type { OperatorSummary, SiteSummary } from "../lib/types.js";
import { useApi } from "../lib/use-api.js";

/** Operator: each site's GPUs, power draw against its contract, revenue this month, and its nodes. */
export function OperatorPage(): ReactNode {
  const sum = useApi<OperatorSummary>("/v1/operator/summary", 2000);
  return (
    <>
      <PageHeader
        title="Sites & nodes"
        subtitle="Live view of your halls. Refreshes every 2 seconds; power is estimated from busy GPUs (board power × PUE) plus node overheads."
      />
      <Loaded
        state={sum}
        what="your sites"
        feature="The operator summary"
        endpoint="GET /v1/operator/summary"
      >
        {(s) =>
          s.sites.length === 0 ? (
            <Empty title="You have no sites yet.">
              Register one with <code>zumbido sites create</code> (or <code>POST /v1/sites</code>), then enrol
              its nodes with a token from <code>POST /v1/sites/:id/enrolment-tokens</code>.
            </Empty>
          ) : (
            <>
              <div className="stats">
                <Stat
                  label="GPUs busy"
                  value={`${num(s.totals.gpusBusy)} / ${num(s.totals.gpusTotal)}`}
                  hint={`${s.totals.gpusTotal ? num((100 * s.totals.gpusBusy) / s.totals.gpusTotal, 0) : 0}% utilised now`}
                />
                <Stat
                  label="Power draw (est.)"
                  value={`${num(s.totals.powerDrawKw, 1)} kW`}
                  hint={`of ${num(s.totals.contractedKw)} kW contracted`}
                />
                <Stat
                  label={`Revenue ${s.month}`}
                  value={money(s.totals.revenueGrossMinor, s.currency)}
                  hint={`${money(s.totals.revenueNetMinor, s.currency)} after the ${num(s.feeBps / 100, 2)}% platform fee`}
                />
              </div>
              {s.sites.map((site) => (
                <SiteCard key={site.id} site={site} currency={s.currency} />
              ))}
            </>
          )
        }
      </Loaded>
    </>
  );
}

function SiteCard({ site, currency }: { site: SiteSummary; currency: string }): ReactNode {
  const pct = site.contractedKw > 0 ? (100 * site.powerDrawKw) / site.contractedKw : 0;
  return (
    <Card
      title={site.name}
      actions={
        <Link className="btn small" to={`/operator/sites/${site.id}`}>
          Utilisation & power
        </Link>
      }
    >
      <div className="site-meta muted">
        {site.country} · {site.cooling} cooling · PUE {site.pue.toFixed(2)} ·{" "}
        {site.carbonGPerKwh === null ? "carbon unknown" : `${num(site.carbonGPerKwh)} gCO₂e/kWh`}
      </div>
      <div className="site-figures">
        <div>
          <div className="fig-label">GPUs busy</div>
          <div className="fig-value">
            {site.gpusBusy} / {site.gpusTotal}
          </div>
          <Meter value={site.gpusBusy} max={site.gpusTotal} label={`${site.name}: GPUs busy`} />
        </div>
        <div>
          <div className="fig-label">Power draw vs budget</div>
          <div className="fig-value">
            {num(site.powerDrawKw, 2)} kW{" "}
            <span className="muted small">
              of {num(site.contractedKw)} kW ({num(pct, 1)}%)
            </span>
          </div>
          <Meter
            value={site.powerDrawKw}
            max={site.contractedKw}
            label={`${site.name}: power draw against contracted power`}
          />
        </div>
        <div>
          <div className="fig-label">Revenue this month</div>
          <div className="fig-value">{money(site.revenue.grossMinor, currency)}</div>
          <div className="muted small">
            {money(site.revenue.netMinor, currency)} net · {num(site.revenue.gpuSeconds)} GPU-s
          </div>
        </div>
      </div>
      {site.nodes.length === 0 ? (
        <Empty title="No nodes enrolled at this site.">
          Create a token with <code>zumbido nodes token {site.id}</code> and start the agent on the node with
          it.
        </Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Node</th>
                <th>State</th>
                <th>GPUs (filled = busy)</th>
                <th>Last heartbeat</th>
              </tr>
            </thead>
            <tbody>
              {site.nodes.map((n) => (
                <tr key={n.id}>
                  <td>
                    {n.name}
                    <div className="sub mono">{n.id}</div>
                  </td>
                  <td>
                    <Badge state={n.state} />
                    {n.stateReason ? <div className="sub">{n.stateReason}</div> : null}
                  </td>
                  <td>
                    <div
                      className="gpus"
                      aria-label={`${n.gpus.filter((g) => g.busy).length} of ${n.gpus.length} ${n.gpuModel ?? ""} GPUs busy`}
                    >
                      {n.gpus.map((g) => (
                        <span
                          key={g.index}
                          className={`gpu ${g.busy ? "busy" : ""} ${g.healthy ? "" : "sick"}`}
                          data-testid="gpu"
                          data-busy={g.busy}
                          title={`GPU ${g.index}: ${g.healthy ? (g.busy ? `busy (${g.jobId})` : "free") : "unhealthy"}`}
                        />
                      ))}
                      <span className="sub">
                        {n.gpus.filter((g) => g.busy).length}/{n.gpus.length} {n.gpuModel}
                      </span>
                    </div>
                  </td>
                  <td>{when(n.lastHeartbeatAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
