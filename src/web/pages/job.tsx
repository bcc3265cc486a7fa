import { useEffect, useRef, useState, type ReactNode } from "react";
import { api, ApiError, get } from "../lib/api.js";
import { duration, money, num, perGpuHour, when } from "../lib/format.js";
import { Link } from "../lib/router.js";
import type { JobEvent, JobView, LogLine, Me, Site } from "../lib/types.js";
import { useApi } from "../lib/use-api.js";
import { Badge, Card, Empty, ErrorBox, Loading, PageHeader, Stat } from "../components/ui.js";
import { constraints } from "./jobs.js";
import { InstancePanel } from "./instance-panel.js";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

/** Where the energy figure comes from, in words. */
function energyHint(j: JobView): string {
  const src = j.usage.lines.map((l) => l.energySource);
  if (src.includes("measured")) return "measured on the GPUs";
  if (src.includes("modelled")) return "modelled from GPU power";
  return "nothing metered yet";
}

/** A job's life: state, the scheduler's reasons while pending, placement, cost, history and live logs. */
export function JobPage({ id, me }: { id: string; me: Me }): ReactNode {
  const [done, setDone] = useState(false);
  const job = useApi<JobView>(`/v1/jobs/${encodeURIComponent(id)}`, done ? undefined : 1500);
  const sites = useApi<Site[]>("/v1/sites");
  const siteNames = new Map((sites.data ?? []).map((s) => [s.id, s.name]));
  const events = useApi<JobEvent[]>(`/v1/jobs/${encodeURIComponent(id)}/events`, done ? undefined : 1500);
  const [cancelError, setCancelError] = useState<ApiError | null>(null);
  const [cancelling, setCancelling] = useState(false);
  const terminal = job.data ? TERMINAL.has(job.data.state) : false;
  useEffect(() => {
    // One last refresh after the job ends, so usage and history are final, then stop polling.
    if (terminal && !done) setTimeout(() => setDone(true), 3000);
  }, [terminal, done]);

  if (job.error?.status === 404)
    return (
      <>
        <PageHeader title="Job not found" />
        <Empty title={`There is no job ${id} that you can see.`}>
          Jobs are visible only to the tenant that submitted them. Check the address, or{" "}
          <Link to={me.role === "tenant" ? "/jobs" : "/"}>go back to your jobs</Link>.
        </Empty>
      </>
    );
  if (job.error && !job.data) return <ErrorBox error={job.error} retry={job.reload} what="this job" />;
  if (!job.data) return <Loading what="the job" />;
  const j = job.data;

  const cancel = async (): Promise<void> => {
    if (!window.confirm(`Cancel job ${j.name}? A running job gets a checkpoint notice; billing stops now.`))
      return;
    setCancelling(true);
    setCancelError(null);
    try {
      await api("POST", `/v1/jobs/${encodeURIComponent(j.id)}/cancel`);
      job.reload();
      events.reload();
    } catch (err) {
      setCancelError(err instanceof ApiError ? err : new ApiError(0, String(err)));
    } finally {
      setCancelling(false);
    }
  };
  const canCancel = !terminal && (me.role === "admin" || (me.role === "tenant" && me.ownerId === j.tenantId));
  const ran = j.startedAt ? ((j.endedAt ?? Date.now()) - j.startedAt) / 1000 : null;
  return (
    <>
      <PageHeader
        title={j.name}
        subtitle={
          <>
            <span className="mono">{j.id}</span> · submitted {when(j.submittedAt)}
          </>
        }
        actions={
          canCancel ? (
            <button type="button" className="btn danger" onClick={() => void cancel()} disabled={cancelling}>
              {cancelling ? "Cancelling…" : "Cancel job"}
            </button>
          ) : undefined
        }
      />
      {cancelError ? <ErrorBox error={cancelError} /> : null}
      <div className="stats">
        <Stat label="State" value={<Badge state={j.state} />} hint={j.stateReason ?? undefined} />
        <Stat
          label="Cost so far"
          value={<span data-testid="job-cost">{money(j.usage.costMinor, j.usage.currency)}</span>}
          hint={`${num(j.usage.gpuSeconds)} GPU-seconds metered`}
        />
        <Stat label="Energy" value={`${num(j.usage.energyWh, 1)} Wh`} hint={energyHint(j)} />
        <Stat
          label="Ran for"
          value={ran === null ? "—" : duration(ran)}
          hint={j.startedAt ? `from ${when(j.startedAt)}` : "not started"}
        />
      </div>
      <InstancePanel job={j} />
      {j.state === "pending" || j.state === "preempted" ? (
        <Card title="Why it is waiting" className="reasons">
          {j.reasons.length ? (
            <ul data-testid="reasons">
              {j.reasons.map((r) => (
                <li key={r}>{r}</li>
              ))}
            </ul>
          ) : (
            <p className="muted">The scheduler has not looked at it yet; it runs every second.</p>
          )}
        </Card>
      ) : null}
      <div className="grid2">
        <Card title="Request">
          <dl className="kv">
            <dt>GPUs</dt>
            <dd>
              {j.request.gpus} × {j.request.gpuModels.join(" or ")}
              {j.request.gpusPerNode ? `, ${j.request.gpusPerNode} per node` : ""}
            </dd>
            <dt>Constraints</dt>
            <dd>{constraints(j) || "—"}</dd>
            <dt>Command</dt>
            <dd className="mono">{j.spec.command.join(" ")}</dd>
            <dt>Image</dt>
            <dd className="mono">
              {j.spec.image ?? "the site's default image"}
              {j.spec.network ? ", network requested" : ""}
            </dd>
            {j.spec.secretEnvNames?.length || j.spec.registrySecret ? (
              <>
                <dt>Secrets</dt>
                <dd className="mono" data-testid="job-secrets">
                  {[
                    ...(j.spec.secretEnvNames ?? []),
                    ...(j.spec.registrySecret ? [`registry login "${j.spec.registrySecret}"`] : []),
                  ].join(", ")}{" "}
                  <span className="muted">(values are never shown)</span>
                </dd>
              </>
            ) : null}
          </dl>
        </Card>
        <Card title="Placement and charges">
          {j.usage.lines.length === 0 && j.leases.length === 0 ? (
            <p className="muted">Not placed yet.</p>
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th>Where</th>
                    <th className="num">Price</th>
                    <th className="num">GPU-s</th>
                    <th className="num">Cost</th>
                  </tr>
                </thead>
                <tbody>
                  {j.leases.map((l) => {
                    const c = j.usage.lines.find((x) => x.leaseId === l.id);
                    return (
                      <tr key={l.id}>
                        <td>
                          {siteNames.get(l.siteId) ?? l.siteId} ({l.country})
                          <div className="sub">
                            {l.gpuIndices.length} × {l.gpuModel} · lease {l.state} ·{" "}
                            <span className="mono">{l.nodeId}</span>
                          </div>
                        </td>
                        <td className="num">{perGpuHour(l.priceMinorPerGpuHour, j.usage.currency)}</td>
                        <td className="num">{num(c?.gpuSeconds ?? 0)}</td>
                        <td className="num">{money(c?.costMinor ?? 0, j.usage.currency)}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </Card>
      </div>
      <Card title="State history">
        {events.data ? (
          <ol className="timeline" data-testid="history">
            {events.data.map((e) => (
              <li key={e.id}>
                <Badge state={e.state} /> <span className="muted">{when(e.at)}</span> — {e.message}
              </li>
            ))}
          </ol>
        ) : events.error ? (
          <ErrorBox error={events.error} what="the history" />
        ) : (
          <Loading what="the history" />
        )}
      </Card>
      <Logs jobId={j.id} live={!done} />
    </>
  );
}

/** Follows a job's log by polling `?after=` the last line seen. */
function Logs({ jobId, live }: { jobId: string; live: boolean }): ReactNode {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const after = useRef(0);
  const pre = useRef<HTMLPreElement>(null);
  const follow = useRef(true);
  useEffect(() => {
    let stop = false;
    const poll = async (): Promise<void> => {
      try {
        for (;;) {
          const got = await get<LogLine[]>(
            `/v1/jobs/${encodeURIComponent(jobId)}/logs?after=${after.current}`,
          );
          if (stop || got.length === 0) break;
          after.current = got[got.length - 1]!.id;
          setLines((l) => [...l, ...got]);
          if (got.length < 1000) break;
        }
        setError(null);
      } catch (err) {
        if (!stop) setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
      }
    };
    void poll();
    if (!live) return () => void (stop = true);
    const t = setInterval(() => void poll(), 1000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [jobId, live]);
  useEffect(() => {
    if (follow.current && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [lines]);
  return (
    <Card title="Logs" actions={<span className="muted">{live ? "following" : "complete"}</span>}>
      {error ? <ErrorBox error={error} what="the logs" /> : null}
      {lines.length === 0 ? (
        <p className="muted">
          No output yet. Lines appear here within a few seconds of the job writing them.
        </p>
      ) : (
        <pre
          ref={pre}
          className="logs"
          data-testid="logs"
          tabIndex={0}
          aria-label="Job output"
          onScroll={(e) => {
            const el = e.currentTarget;
            follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
          }}
        >
          {lines.map((l) => (
            <span key={l.id} className={l.stream === "stderr" ? "stderr" : undefined}>
              {l.text}
            </span>
          ))}
        </pre>
      )}
    </Card>
  );
}
