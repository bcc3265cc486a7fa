import type { ReactNode } from "react";
import type { ApiError } from "../lib/api.js";
import type { Estimate, EstimateRequest } from "../lib/estimate.js";
import { duration, money, perGpuHour } from "../lib/format.js";
import { Card, ErrorBox, Loading } from "../components/ui.js";

/** The price estimate beside the submit form. */
export function EstimatePanel({
  est,
  req,
  loading,
  error,
}: {
  est: Estimate | null;
  req: EstimateRequest;
  loading: boolean;
  error: ApiError | undefined;
}): ReactNode {
  let body: ReactNode;
  if (error) body = <ErrorBox error={error} what="prices" />;
  else if (!est) body = loading ? <Loading what="prices" /> : null;
  else if (req.gpuModels.length === 0) body = <p className="muted">Choose a GPU model to see a price.</p>;
  else if (!est.cheapest)
    body = (
      <div className="state empty" role="status">
        <strong>No offer fits these constraints.</strong>
        <div>
          You can still submit: the job waits until capacity appears, and its page says why it waits. Or relax
          a constraint.
        </div>
        {est.excluded.length ? (
          <ul>
            {est.excluded.map((x) => (
              <li key={x}>{x}</li>
            ))}
          </ul>
        ) : null}
      </div>
    );
  else {
    const c = est.cheapest;
    body = (
      <div role="status" aria-live="polite" data-testid="estimate">
        <div className="estimate-figure">{money(est.perHourMinor ?? 0, c.currency)}</div>
        <div className="muted">
          per hour for {req.gpus} × {c.gpuModel} at {perGpuHour(c.priceMinorPerGpuHour, c.currency)} (
          {req.class})
        </div>
        {est.totalMinor !== null && req.runtimeEstimateS ? (
          <p>
            About <strong>{money(est.totalMinor, c.currency)}</strong> for {duration(req.runtimeEstimateS)}.
          </p>
        ) : null}
        <dl className="kv">
          <dt>Cheapest eligible</dt>
          <dd>
            {c.siteName} ({c.country}), {c.freeGpus} free
          </dd>
          <dt>Starts now?</dt>
          <dd>
            {est.cheapestNow
              ? est.cheapestNow === c
                ? "Yes, enough GPUs are free there."
                : `At ${est.cheapestNow.siteName}, ${perGpuHour(est.cheapestNow.priceMinorPerGpuHour, c.currency)}.`
              : "Not now: no eligible site has enough free GPUs; it will wait."}
          </dd>
          <dt>Eligible offers</dt>
          <dd>{est.eligible.length}</dd>
        </dl>
        {est.excluded.length ? (
          <details>
            <summary>Left out</summary>
            <ul>
              {est.excluded.map((x) => (
                <li key={x}>{x}</li>
              ))}
            </ul>
          </details>
        ) : null}
        <p className="hint">
          The scheduler picks the best offer when it places the job; the price is locked then. Billing is per
          second of metered GPU use.
        </p>
      </div>
    );
  }
  return (
    <aside className="sticky" aria-label="Price estimate">
      <Card title="Price estimate">{body}</Card>
    </aside>
  );
}
