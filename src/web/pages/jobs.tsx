import type { ReactNode } from "react";
import { Badge, Card, Empty, Loaded, PageHeader } from "../components/ui.js";
import { duration, when } from "../lib/format.js";
import { Link } from "../lib/router.js";
import type { Job, Me } from "../lib/types.js";
import { useApi } from "../lib/use-api.js";
import { InstanceRowExtras } from "./instance-panel.js";

/** Tenant: its jobs (admin: everyone's), newest first, refreshed every 3 s. */
export function JobsPage({ me }: { me: Me }): ReactNode {
  const jobs = useApi<Job[]>("/v1/jobs?limit=200", 3000);
  return (
    <>
      <PageHeader
        title={me.role === "admin" ? "All jobs" : "Jobs"}
        subtitle="Newest first. Refreshes every 3 seconds."
        actions={
          me.role === "tenant" ? (
            <Link className="btn primary" to="/submit">
              Submit a job
            </Link>
          ) : undefined
        }
      />
      <Loaded state={jobs} what="jobs">
        {(rows) =>
          rows.length === 0 ? (
            <Empty title="No jobs yet.">
              {me.role === "tenant" ? (
                <>
                  <Link to="/submit">Submit your first job</Link>; it appears here as soon as it is queued.
                </>
              ) : (
                "Tenants have not submitted any job."
              )}
            </Empty>
          ) : (
            <Card>
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th>Job</th>
                      <th>State</th>
                      <th>GPUs</th>
                      <th>Constraints</th>
                      <th>Submitted</th>
                      <th className="num">Ran for</th>
                    </tr>
                  </thead>
                  <tbody>
                    {[...rows]
                      .sort((a, b) => b.submittedAt - a.submittedAt)
                      .map((j) => (
                        <tr key={j.id}>
                          <td>
                            <Link to={`/jobs/${j.id}`}>{j.name}</Link>
                            <div className="sub mono">{j.id}</div>
                          </td>
                          <td>
                            <Badge state={j.state} />
                            {j.spec.instance ? <span className="badge muted">instance</span> : null}
                            {j.spec.instance && j.state === "running" ? (
                              <InstanceRowExtras jobId={j.id} />
                            ) : null}
                            {j.state === "pending" && j.reasons.length ? (
                              <div className="sub">{j.reasons[0]}</div>
                            ) : null}
                          </td>
                          <td>
                            {j.request.gpus} × {j.request.gpuModels.join(" | ")}
                          </td>
                          <td className="sub">{constraints(j) || "—"}</td>
                          <td>{when(j.submittedAt)}</td>
                          <td className="num">
                            {j.startedAt ? duration(((j.endedAt ?? Date.now()) - j.startedAt) / 1000) : "—"}
                          </td>
                        </tr>
                      ))}
                  </tbody>
                </table>
              </div>
            </Card>
          )
        }
      </Loaded>
    </>
  );
}

/** A job's constraints in a few words. */
export function constraints(j: Job): string {
  const r = j.request;
  return [
    r.class,
    r.jurisdiction ? `${r.jurisdiction} only` : "",
    r.countries?.length ? `in ${r.countries.join(", ")}` : "",
    r.maxPriceMinorPerGpuHour ? `≤ ${(r.maxPriceMinorPerGpuHour / 100).toFixed(2)}/GPU-h` : "",
    r.maxCarbonGPerKwh ? `≤ ${r.maxCarbonGPerKwh} g/kWh` : "",
  ]
    .filter(Boolean)
    .join(" · ");
}
