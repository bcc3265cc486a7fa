import { useState, type FormEvent, type ReactNode } from "react";
import { api, ApiError } from "../lib/api.js";
import { perGpuHour, toMajorText, toMinor } from "../lib/format.js";
import type { GpuModelInfo, Price, Site } from "../lib/types.js";
import { useApi } from "../lib/use-api.js";
import { Card, Empty, ErrorBox, Field, Loaded, PageHeader } from "../components/ui.js";

/** Operator: each site's price per GPU model (on-demand and the interruptible floor), editable. */
export function PricesPage(): ReactNode {
  const sites = useApi<Site[]>("/v1/sites");
  const prices = useApi<Price[]>("/v1/prices");
  const cat = useApi<GpuModelInfo[]>("/v1/gpu-models");
  return (
    <>
      <PageHeader
        title="Prices"
        subtitle="Per GPU-hour, billed by the second. A new price applies to jobs placed after it; running leases keep the price they were placed at."
      />
      <Loaded state={sites} what="your sites">
        {(ss) =>
          ss.length === 0 ? (
            <Empty title="You have no sites yet.">Register a site first; its prices are set here.</Empty>
          ) : (
            <Loaded state={prices} what="prices">
              {(ps) => (
                <>
                  {ss.map((s) => (
                    <SitePrices
                      key={s.id}
                      site={s}
                      prices={ps.filter((p) => p.siteId === s.id)}
                      models={cat.data ?? []}
                      onSaved={prices.reload}
                    />
                  ))}
                </>
              )}
            </Loaded>
          )
        }
      </Loaded>
    </>
  );
}

function SitePrices({
  site,
  prices,
  models,
  onSaved,
}: {
  site: Site;
  prices: Price[];
  models: GpuModelInfo[];
  onSaved: () => void;
}): ReactNode {
  const [model, setModel] = useState(prices[0]?.gpuModel ?? models[0]?.id ?? "H100");
  const current = prices.find((p) => p.gpuModel === model);
  const [od, setOd] = useState(current ? toMajorText(current.onDemandMinorPerGpuHour) : "");
  const [intr, setIntr] = useState(current ? toMajorText(current.interruptibleMinorPerGpuHour) : "");
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const pick = (m: string): void => {
    setModel(m);
    const p = prices.find((x) => x.gpuModel === m);
    setOd(p ? toMajorText(p.onDemandMinorPerGpuHour) : "");
    setIntr(p ? toMajorText(p.interruptibleMinorPerGpuHour) : "");
  };
  const save = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    setSaved(null);
    const a = toMinor(od);
    const b = toMinor(intr);
    const errors = [
      ...(a && a > 0 ? [] : [{ path: "onDemand", message: "a positive amount like 2.40" }]),
      ...(b && b > 0 ? [] : [{ path: "interruptible", message: "a positive amount like 1.20" }]),
    ];
    if (errors.length) return setError(new ApiError(400, "Check the prices.", errors));
    try {
      await api("PUT", `/v1/sites/${site.id}/prices/${encodeURIComponent(model)}`, {
        onDemandMinorPerGpuHour: a,
        interruptibleMinorPerGpuHour: b,
      });
      setSaved(`Saved ${model} at ${site.name}.`);
      onSaved();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    }
  };
  const idp = `price-${site.id}`;
  return (
    <Card title={`${site.name} (${site.country})`}>
      {prices.length === 0 ? (
        <p className="muted">No prices yet: tenants cannot use this site until it has one.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>GPU model</th>
                <th className="num">On-demand</th>
                <th className="num">Interruptible floor</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {prices.map((p) => (
                <tr key={p.gpuModel}>
                  <td>{p.gpuModel}</td>
                  <td className="num">{perGpuHour(p.onDemandMinorPerGpuHour)}</td>
                  <td className="num">{perGpuHour(p.interruptibleMinorPerGpuHour)}</td>
                  <td className="num">
                    <button type="button" className="btn small" onClick={() => pick(p.gpuModel)}>
                      Edit
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form className="inline-form" onSubmit={(e) => void save(e)} aria-label={`Set a price at ${site.name}`}>
        <Field label="GPU model" htmlFor={`${idp}-model`}>
          <select id={`${idp}-model`} value={model} onChange={(e) => pick(e.target.value)}>
            {(models.length ? models.map((m) => m.id) : [model]).map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </Field>
        <Field label="On-demand per GPU-hour" htmlFor={`${idp}-od`}>
          <input
            id={`${idp}-od`}
            inputMode="decimal"
            value={od}
            onChange={(e) => setOd(e.target.value)}
            placeholder="2.40"
          />
        </Field>
        <Field label="Interruptible floor" htmlFor={`${idp}-int`}>
          <input
            id={`${idp}-int`}
            inputMode="decimal"
            value={intr}
            onChange={(e) => setIntr(e.target.value)}
            placeholder="1.20"
          />
        </Field>
        <button className="btn primary" type="submit">
          Save price
        </button>
      </form>
      {saved ? (
        <p className="notice" role="status">
          {saved}
        </p>
      ) : null}
      {error ? <ErrorBox error={error} /> : null}
    </Card>
  );
}
