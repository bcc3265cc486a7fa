import { useEffect, useState, type ReactNode } from "react";
import { formatDuration } from "../../domain/instances.js";
import { api, ApiError } from "../lib/api.js";
import { money } from "../lib/format.js";
import type { JobView } from "../lib/types.js";
import { useApi } from "../lib/use-api.js";
import { Card, ErrorBox, Stat } from "../components/ui.js";

/** How often the console renews a port session while the page is open (sessions last an hour). */
const RENEW_MS = 20 * 60_000;

/** What the instance costs per hour now: its live leases' GPUs at their locked prices (before VAT). */
export function perHourMinor(j: JobView): number {
  return j.leases
    .filter((l) => l.state !== "ended")
    .reduce((a, l) => a + l.priceMinorPerGpuHour * l.gpuIndices.length, 0);
}

/** "8h · 30m idle" / "none". */
function guardrails(j: JobView): string {
  const i = j.spec.instance!;
  const g = [
    ...(i.maxDurationS ? [formatDuration(i.maxDurationS)] : []),
    ...(i.idleStopS ? [`${formatDuration(i.idleStopS)} idle`] : []),
  ];
  return g.length ? g.join(" · ") : "none";
}

/**
 * A link to the instance's HTTP port. A browser cannot send the API key on a link, so the console
 * first asks for a port session (an HttpOnly cookie scoped to the port's path) and renews it.
 */
export function PortLink({ jobId, port }: { jobId: string; port: number }): ReactNode {
  const [ready, setReady] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    let stop = false;
    const sign = async (): Promise<void> => {
      try {
        await api("POST", `/v1/jobs/${encodeURIComponent(jobId)}/ports/${port}/session`);
        if (!stop) {
          setReady(true);
          setError(null);
        }
      } catch (err) {
        if (!stop) setError(err instanceof ApiError ? err : new ApiError(0, String(err)));
      }
    };
    void sign();
    const t = setInterval(() => void sign(), RENEW_MS);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [jobId, port]);
  if (error) return <ErrorBox error={error} what={`port ${port}`} />;
  return (
    <a
      className={`btn ${ready ? "" : "disabled"}`}
      href={`/v1/jobs/${encodeURIComponent(jobId)}/ports/${port}/`}
      target="_blank"
      rel="noopener noreferrer"
      aria-disabled={!ready}
      data-testid={`open-port-${port}`}
    >
      Open port {port}
    </a>
  );
}

/** An instance on its job page: cost so far and per hour, guardrails, and its ports' links while it runs. */
export function InstancePanel({ job: j }: { job: JobView }): ReactNode {
  if (!j.spec.instance) return null;
  const running = j.state === "running";
  const ports = j.spec.instance.ports;
  return (
    <Card title="Instance">
      <div className="stats">
        <Stat
          label="Cost so far"
          value={<span data-testid="instance-cost">{money(j.usage.costMinor, j.usage.currency)}</span>}
          hint="metered, before VAT"
        />
        <Stat
          label="Per hour"
          value={
            <span data-testid="instance-rate">
              {running ? money(perHourMinor(j), j.usage.currency) : "—"}
            </span>
          }
          hint={running ? "billed per second while it runs" : "not running"}
        />
        <Stat
          label="Stops after"
          value={<span data-testid="instance-guardrails">{guardrails(j)}</span>}
          hint={guardrails(j) === "none" ? "runs until you cancel it" : "--max-duration · --idle-stop"}
        />
      </div>
      <p>
        {ports.length === 0
          ? "No ports declared (submit with --port 8888 to reach one from here)."
          : running
            ? ports.map((p) => <PortLink key={p} jobId={j.id} port={p} />)
            : `Ports ${ports.join(", ")} open here while the instance runs.`}
      </p>
    </Card>
  );
}

/** A running instance's cost so far and per hour, with its port links (the jobs list). */
export function InstanceRowExtras({ jobId }: { jobId: string }): ReactNode {
  const v = useApi<JobView>(`/v1/jobs/${encodeURIComponent(jobId)}`, 5000);
  if (!v.data?.spec.instance) return null;
  const j = v.data;
  return (
    <div className="sub" data-testid="instance-extras">
      {money(j.usage.costMinor, j.usage.currency)} so far · {money(perHourMinor(j), j.usage.currency)}/h{" "}
      {j.spec.instance!.ports.map((p) => (
        <PortLink key={p} jobId={j.id} port={p} />
      ))}
    </div>
  );
}
