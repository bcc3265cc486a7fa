import { useState, type ReactNode } from "react";
import { Badge, Card, Empty, ErrorBox, Loaded, Meter, PageHeader, Stat } from "../components/ui.js";
import { api, ApiError } from "../lib/api.js";
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
              <SitesTable sites={s.sites} currency={s.currency} />
              <NodesTable sites={s.sites} reload={sum.reload} />
            </>
          )
        }
      </Loaded>
    </>
  );
}

function SitesTable({ sites, currency }: { sites: SiteSummary[]; currency: string }): ReactNode {
  return (
    <Card title="Sites">
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th>Site</th>
              <th className="w-meter">GPUs busy</th>
              <th className="w-meter">Power draw vs budget</th>
              <th className="num">Revenue this month</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {sites.map((site) => {
              const pct = site.contractedKw > 0 ? (100 * site.powerDrawKw) / site.contractedKw : 0;
              return (
                <tr key={site.id}>
                  <td>
                    <Link to={`/operator/sites/${site.id}`}>{site.name}</Link>
                    <div className="sub">
                      {site.country} · {site.cooling} · PUE {site.pue.toFixed(2)} ·{" "}
                      {site.carbonGPerKwh === null
                        ? "carbon unknown"
                        : `${num(site.carbonGPerKwh)} gCO₂e/kWh`}
                    </div>
                  </td>
                  <td>
                    <strong>{site.gpusBusy}</strong> / {site.gpusTotal}
                    <Meter value={site.gpusBusy} max={site.gpusTotal} label={`${site.name}: GPUs busy`} />
                  </td>
                  <td>
                    <strong>{num(site.powerDrawKw, 2)} kW</strong>{" "}
                    <span className="muted small">
                      of {num(site.contractedKw)} kW ({num(pct, 1)}%)
                    </span>
                    <Meter
                      value={site.powerDrawKw}
                      max={site.contractedKw}
                      label={`${site.name}: power draw against contracted power`}
                    />
                  </td>
                  <td className="num">
                    <strong>{money(site.revenue.grossMinor, currency)}</strong>
                    <div className="sub">
                      {money(site.revenue.netMinor, currency)} net · {num(site.revenue.gpuSeconds)} GPU-s
                    </div>
                  </td>
                  <td className="num">
                    <Link
                      className="btn small"
                      to={`/operator/sites/${site.id}`}
                      aria-label={`Utilisation and power of ${site.name}`}
                    >
                      Charts
                    </Link>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </Card>
  );
}

type NodeSummary = SiteSummary["nodes"][number];

/** A node's pending GPU inventory change: what it reports against what was approved, and an approve button. */
function InventoryPending({
  node,
  reload,
}: {
  node: NodeSummary & { inventory: NonNullable<NodeSummary["inventory"]> };
  reload: () => void;
}): ReactNode {
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const inv = node.inventory;
  const approve = async (): Promise<void> => {
    if (
      !window.confirm(
        `Approve ${node.name}'s new inventory (${inv.reported})? Tenants will be offered it and placement will use it.`,
      )
    )
      return;
    setError(null);
    setBusy(true);
    try {
      await api("POST", `/v1/nodes/${encodeURIComponent(node.id)}/inventory/approve`, {
        changedAt: inv.changedAt,
      });
      reload();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="inventory-pending" data-testid="inventory-pending">
      <span className="badge warn">inventory change pending approval</span>
      <div className="sub">
        reports {inv.reported}; approved {inv.approved}. No new work until approved; running leases continue.
      </div>
      {inv.approver === "admin" ? (
        <div className="sub">An admin approves this operator&apos;s changes.</div>
      ) : null}
      <button
        type="button"
        className="btn small"
        disabled={busy}
        onClick={() => void approve()}
        aria-label={`Approve the new GPU inventory of ${node.name}`}
      >
        Approve inventory
      </button>
      {error ? <ErrorBox error={error} /> : null}
    </div>
  );
}

function NodesTable({ sites, reload }: { sites: SiteSummary[]; reload: () => void }): ReactNode {
  const nodes = sites.flatMap((s) => s.nodes.map((n) => ({ ...n, site: s })));
  return (
    <Card title="Nodes">
      {nodes.length === 0 ? (
        <Empty title="No nodes enrolled yet.">
          Create a token with <code>zumbido nodes token SITE_ID</code> and start the agent on the node with
          it; it finds its GPUs by itself.
        </Empty>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Node</th>
                <th>Site (cluster network)</th>
                <th>State</th>
                <th>GPUs (filled = busy)</th>
                <th className="num" title="This month: usage records taken as sent / (taken + anomalies)">
                  Reliability
                </th>
                <th>Last heartbeat</th>
              </tr>
            </thead>
            <tbody>
              {nodes.map((n) => (
                <tr key={n.id}>
                  <td>
                    {n.name}
                    <div className="sub mono">{n.id}</div>
                  </td>
                  <td>
                    {n.site.name}
                    {n.cluster ? (
                      <div className="sub" title="Cluster network: rendezvous address, fabric, switch group">
                        <span className="mono">{n.cluster.address}</span>
                        {n.cluster.fabric ? ` · ${n.cluster.fabric}` : ""}
                        {n.cluster.switchGroup ? ` · ${n.cluster.switchGroup}` : ""}
                      </div>
                    ) : null}
                  </td>
                  <td>
                    <Badge state={n.state} />
                    {n.stateReason ? <div className="sub">{n.stateReason}</div> : null}
                    {n.inventory ? (
                      <InventoryPending node={{ ...n, inventory: n.inventory }} reload={reload} />
                    ) : null}
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
                  <td className="num">
                    {num(100 * (n.reliability ?? 1), 1)}%
                    <div className="sub">
                      {n.anomalies ?? 0} anomal{(n.anomalies ?? 0) === 1 ? "y" : "ies"} this month
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
