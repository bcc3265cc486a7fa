import { useState, type ReactNode } from "react";
import { ApiError, download } from "../lib/api.js";
import { money, num, perGpuHour, thisMonth } from "../lib/format.js";
import { Link } from "../lib/router.js";
import type { Charge } from "../lib/types.js";
import { useApi } from "../lib/use-api.js";
import { Card, Empty, ErrorBox, Loaded, NotAvailable, PageHeader, Stat } from "../components/ui.js";

interface Balance {
  currency: string;
  spentMinor: number;
  creditLimitMinor: number;
  availableMinor: number;
  runningLeases: number;
}
interface Statement {
  month: string;
  currency: string;
  lines: Charge[];
  totalGpuSeconds: number;
  totalMinor: number;
  energyWh: number;
}

/** Tenant: balance, the month's statement (usage by lease) and invoice downloads. */
export function BillingPage(): ReactNode {
  const [month, setMonth] = useState(thisMonth());
  const balance = useApi<Balance>("/v1/balance", 5000);
  const statement = useApi<Statement>(/^\d{4}-\d{2}$/.test(month) ? `/v1/statements/${month}` : null, 5000);
  return (
    <>
      <PageHeader
        title="Usage & billing"
        subtitle="Metered by the second; each line is one lease at the price locked when it was placed."
      />
      <Loaded state={balance} what="your balance">
        {(b) => (
          <div className="stats">
            <Stat label="Spent to date" value={money(b.spentMinor, b.currency)} />
            <Stat label="Credit limit" value={money(b.creditLimitMinor, b.currency)} />
            <Stat
              label="Available"
              value={money(b.availableMinor, b.currency)}
              tone={
                b.availableMinor <= 0 ? "bad" : b.availableMinor < b.creditLimitMinor * 0.1 ? "warn" : "ok"
              }
              hint={b.availableMinor <= 0 ? "New jobs wait until you top up." : undefined}
            />
            <Stat label="Running leases" value={num(b.runningLeases)} />
          </div>
        )}
      </Loaded>
      <Card
        title="Statement"
        actions={
          <div className="filters">
            <label htmlFor="bill-month">Month</label>
            <input id="bill-month" type="month" value={month} onChange={(e) => setMonth(e.target.value)} />
          </div>
        }
      >
        <Loaded state={statement} what="the statement">
          {(s) =>
            s.lines.length === 0 ? (
              <Empty title={`No usage in ${s.month}.`}>
                Usage appears here once a job runs. <Link to="/submit">Submit a job</Link>.
              </Empty>
            ) : (
              <>
                <div className="table-wrap">
                  <table>
                    <thead>
                      <tr>
                        <th>Job</th>
                        <th>Where</th>
                        <th>GPUs</th>
                        <th>Class</th>
                        <th className="num">Price</th>
                        <th className="num">GPU-seconds</th>
                        <th className="num">Energy</th>
                        <th className="num">Amount</th>
                      </tr>
                    </thead>
                    <tbody>
                      {s.lines.map((l) => (
                        <tr key={l.leaseId}>
                          <td>
                            <Link to={`/jobs/${l.jobId}`} className="mono">
                              {l.jobId}
                            </Link>
                          </td>
                          <td>{l.country}</td>
                          <td>
                            {l.gpus} × {l.gpuModel}
                          </td>
                          <td>{l.class}</td>
                          <td className="num">{perGpuHour(l.priceMinorPerGpuHour, s.currency)}</td>
                          <td className="num">{num(l.gpuSeconds)}</td>
                          <td className="num">{num(l.energyWh, 1)} Wh</td>
                          <td className="num">{money(l.costMinor, s.currency)}</td>
                        </tr>
                      ))}
                    </tbody>
                    <tfoot>
                      <tr>
                        <th colSpan={5}>Total</th>
                        <th className="num">{num(s.totalGpuSeconds)}</th>
                        <th className="num">{num(s.energyWh, 1)} Wh</th>
                        <th className="num">{money(s.totalMinor, s.currency)}</th>
                      </tr>
                    </tfoot>
                  </table>
                </div>
                <p className="hint">
                  Amounts are before VAT; the invoice adds VAT by your country and VAT id.
                </p>
              </>
            )
          }
        </Loaded>
      </Card>
      <Invoices month={month} />
    </>
  );
}

/** Invoice downloads for a month (JSON, CSV, printable HTML), once the server offers them. */
function Invoices({ month }: { month: string }): ReactNode {
  const probe = useApi<unknown>(/^\d{4}-\d{2}$/.test(month) ? `/v1/invoices/${month}` : null);
  const [error, setError] = useState<ApiError | null>(null);
  const get = (ext: string): void => {
    setError(null);
    download(`/v1/invoices/${month}?format=${ext}`, `zumbido-invoice-${month}.${ext}`).catch((err: unknown) =>
      setError(err instanceof ApiError ? err : new ApiError(0, String(err))),
    );
  };
  let body: ReactNode;
  if (probe.error?.notAvailable)
    body = <NotAvailable feature="Invoice download" endpoint={`GET /v1/invoices/${month}`} />;
  else if (probe.error?.status === 404)
    body = <Empty title={`No invoice for ${month} yet.`}>Invoices are issued for months with usage.</Empty>;
  else if (probe.error) body = <ErrorBox error={probe.error} what="the invoice" retry={probe.reload} />;
  else
    body = (
      <div className="row">
        {(["html", "csv", "json"] as const).map((ext) => (
          <button key={ext} type="button" className="btn" onClick={() => get(ext)} disabled={probe.loading}>
            Download {ext.toUpperCase()}
          </button>
        ))}
      </div>
    );
  return (
    <Card title={`Invoice ${month}`}>
      {body}
      {error ? <ErrorBox error={error} /> : null}
    </Card>
  );
}
