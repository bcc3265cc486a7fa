import { useState, type ReactNode } from "react";
import { EEA_COUNTRIES, EU_COUNTRIES } from "../../domain/countries.js";
import { Card, Empty, Loaded, PageHeader, Stat } from "../components/ui.js";
import { num, perGpuHour } from "../lib/format.js";
import { Link } from "../lib/router.js";
import type { Offer } from "../lib/types.js";
import { useApi } from "../lib/use-api.js";

/** Where a country sits for placement guarantees. */
export const jurisdictionOf = (c: string): string =>
  EU_COUNTRIES.has(c) ? "EU" : EEA_COUNTRIES.has(c) ? "EEA" : "outside EEA";

/** Tenant: what the marketplace offers now (sites, models, free GPUs, prices, carbon, jurisdiction). */
export function CapacityPage(): ReactNode {
  const cap = useApi<Offer[]>("/v1/capacity", 5000);
  const [model, setModel] = useState("");
  const [euOnly, setEuOnly] = useState(false);
  return (
    <>
      <PageHeader
        title="Capacity"
        subtitle="What the federation offers right now. Prices are per GPU-hour, billed by the second. Refreshes every 5 seconds."
        actions={
          <Link className="btn primary" to="/submit">
            Submit a job
          </Link>
        }
      />
      <Loaded state={cap} what="capacity">
        {(rows) => {
          if (rows.length === 0)
            return (
              <Empty title="No capacity is offered yet.">
                Operators have not published prices for any GPU model. Try again later.
              </Empty>
            );
          const models = [...new Set(rows.map((r) => r.gpuModel))].sort();
          const shown = rows.filter(
            (r) => (!model || r.gpuModel === model) && (!euOnly || EU_COUNTRIES.has(r.country)),
          );
          const free = shown.reduce((a, r) => a + r.freeGpus, 0);
          const total = shown.reduce((a, r) => a + r.totalGpus, 0);
          const cheapest = [...shown].sort(
            (a, b) => a.onDemandMinorPerGpuHour - b.onDemandMinorPerGpuHour,
          )[0];
          const greenest = [...shown]
            .filter((r) => r.carbonGPerKwh !== null)
            .sort((a, b) => a.carbonGPerKwh! - b.carbonGPerKwh!)[0];
          return (
            <>
              <div className="stats">
                <Stat
                  label="Free GPUs now"
                  value={`${num(free)} / ${num(total)}`}
                  hint={`${shown.length} offers at ${new Set(shown.map((r) => r.siteId)).size} sites`}
                />
                <Stat
                  label="Cheapest on-demand"
                  value={cheapest ? perGpuHour(cheapest.onDemandMinorPerGpuHour, cheapest.currency) : "—"}
                  hint={cheapest ? `${cheapest.gpuModel} at ${cheapest.siteName}` : undefined}
                />
                <Stat
                  label="Lowest carbon"
                  value={greenest ? `${num(greenest.carbonGPerKwh!)} g/kWh` : "—"}
                  hint={greenest ? `${greenest.siteName} (${greenest.country})` : undefined}
                />
              </div>
              <Card
                title="Offers"
                actions={
                  <div className="filters">
                    <label htmlFor="cap-model">GPU model</label>
                    <select id="cap-model" value={model} onChange={(e) => setModel(e.target.value)}>
                      <option value="">All models</option>
                      {models.map((m) => (
                        <option key={m}>{m}</option>
                      ))}
                    </select>
                    <label className="check">
                      <input type="checkbox" checked={euOnly} onChange={(e) => setEuOnly(e.target.checked)} />{" "}
                      EU only
                    </label>
                  </div>
                }
              >
                {shown.length === 0 ? (
                  <Empty title="No offer matches these filters.">Clear the filters to see every offer.</Empty>
                ) : (
                  <div className="table-wrap">
                    <table>
                      <thead>
                        <tr>
                          <th>Site</th>
                          <th>Country</th>
                          <th>Jurisdiction</th>
                          <th>GPU</th>
                          <th className="num">Free / total</th>
                          <th className="num">On-demand</th>
                          <th className="num">Interruptible</th>
                          <th className="num">Carbon now</th>
                          <th className="num">PUE</th>
                        </tr>
                      </thead>
                      <tbody>
                        {shown.map((r) => (
                          <tr key={r.siteId + r.gpuModel}>
                            <td>{r.siteName}</td>
                            <td>{r.country}</td>
                            <td>
                              <span className={`badge ${EU_COUNTRIES.has(r.country) ? "info" : "muted"}`}>
                                {jurisdictionOf(r.country)}
                              </span>
                            </td>
                            <td>{r.gpuModel}</td>
                            <td className="num">
                              <span className={r.freeGpus === 0 ? "text-bad" : ""}>{r.freeGpus}</span> /{" "}
                              {r.totalGpus}
                            </td>
                            <td className="num">{perGpuHour(r.onDemandMinorPerGpuHour, r.currency)}</td>
                            <td className="num">{perGpuHour(r.interruptibleMinorPerGpuHour, r.currency)}</td>
                            <td className="num">
                              {r.carbonGPerKwh === null ? "—" : `${num(r.carbonGPerKwh)} g/kWh`}
                            </td>
                            <td className="num">{r.pue.toFixed(2)}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )}
              </Card>
            </>
          );
        }}
      </Loaded>
    </>
  );
}
