// Interactive instances: jobs with no natural end that a person works in (SSH, Jupyter, a web UI).
// Pure: the bounds, the guardrail arithmetic and duration parsing; the control plane enforces them.

/** Most ports an instance may declare. */
export const MAX_INSTANCE_PORTS = 16;
/** Shortest guardrail, seconds (a minute: the loop checks every few seconds). */
export const MIN_GUARDRAIL_S = 60;
/** Longest --max-duration, seconds (30 days). */
export const MAX_DURATION_LIMIT_S = 30 * 86_400;
/** Longest --idle-stop, seconds (7 days). */
export const MAX_IDLE_STOP_S = 7 * 86_400;
/** GPU utilisation (percent, any of the lease's GPUs) at or above which an instance counts as busy. */
export const GPU_BUSY_PCT = 5;

/**
 * What an instance runs when the tenant gives no command: a shell that waits and exits 0 on SIGTERM
 * or SIGINT (any image with /bin/sh; busybox's `sleep` has no `infinity`, so it sleeps in steps).
 */
export const IDLE_INIT: readonly string[] = [
  "/bin/sh",
  "-c",
  "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done",
];

/** An instance's declared ports and guardrails, as stored in the job's spec. */
export interface InstanceSpec {
  /** TCP ports in the container the tenant may reach (HTTP URL, port-forward). */
  ports: number[];
  /** Stop the instance this many seconds after it starts running (absent: no limit). */
  maxDurationS?: number;
  /** Stop it after this many seconds with no GPU utilisation and no relay traffic (absent: never). */
  idleStopS?: number;
}

/** A tenant's defaults for new instances (null: none). */
export interface InstanceDefaults {
  maxDurationS: number | null;
  idleStopS: number | null;
}

/** Why a port list is refused, or undefined when it is fine. */
export function portsProblem(ports: readonly number[]): string | undefined {
  if (ports.length > MAX_INSTANCE_PORTS)
    return `an instance declares at most ${MAX_INSTANCE_PORTS} ports, got ${ports.length}`;
  for (const p of ports)
    if (!Number.isInteger(p) || p < 1 || p > 65535)
      return `port ${p} is not a TCP port: use a whole number from 1 to 65535, e.g. 8888`;
  if (new Set(ports).size !== ports.length) return "a port is declared twice; list each port once";
  return undefined;
}

/** Why a guardrail in seconds is refused (0 means "none"), or undefined when it is fine. */
export function guardrailProblem(name: string, s: number, maxS: number): string | undefined {
  if (!Number.isInteger(s)) return `${name} must be a whole number of seconds, got ${s}`;
  if (s === 0) return undefined;
  if (s < MIN_GUARDRAIL_S || s > maxS)
    return `${name} must be 0 (none) or from ${MIN_GUARDRAIL_S} s to ${maxS} s (${formatDuration(maxS)}), got ${s}`;
  return undefined;
}

/**
 * A duration in seconds from "90s", "30m", "8h", "2d", "1h30m" or a bare number in `bareUnit`
 * ("m" for --idle-stop, "s" otherwise); undefined when it is not one.
 */
export function parseDuration(text: string, bareUnit: "s" | "m" | "h" = "s"): number | undefined {
  const t = text.trim().toLowerCase();
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
  if (/^\d+$/.test(t)) return Number(t) * unit[bareUnit];
  if (!/^(\d+[smhd])+$/.test(t)) return undefined;
  let total = 0;
  for (const m of t.matchAll(/(\d+)([smhd])/g)) total += Number(m[1]) * unit[m[2] as keyof typeof unit];
  return total;
}

/** "8h", "30m", "1h30m", "45s", "2d". */
export function formatDuration(s: number): string {
  if (s <= 0) return "0s";
  const parts: string[] = [];
  for (const [u, n] of [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    const k = Math.floor(s / n);
    if (k > 0) parts.push(`${k}${u}`);
    s -= k * n;
  }
  return parts.join("");
}

/** What a running instance's guardrails say at `now`: keep it, or stop it and why. */
export type GuardrailVerdict =
  { stop: false } | { stop: true; kind: "max-duration" | "idle-stop"; reason: string };

/**
 * Whether a running instance must stop now. `startedAt`: when its lease started running;
 * `gpuActiveAt`: the last time a heartbeat reported GPU utilisation at or above GPU_BUSY_PCT;
 * `relayActiveAt`: the last byte through the relay (either way). All epoch ms, server time.
 */
export function guardrailVerdict(
  spec: Pick<InstanceSpec, "maxDurationS" | "idleStopS">,
  t: { now: number; startedAt: number; gpuActiveAt?: number | null; relayActiveAt?: number | null },
): GuardrailVerdict {
  if (spec.maxDurationS && t.now - t.startedAt >= spec.maxDurationS * 1000)
    return {
      stop: true,
      kind: "max-duration",
      reason: `max-duration: ran ${formatDuration(spec.maxDurationS)}, its --max-duration`,
    };
  if (spec.idleStopS) {
    const since = Math.max(t.startedAt, t.gpuActiveAt ?? 0, t.relayActiveAt ?? 0);
    if (t.now - since >= spec.idleStopS * 1000)
      return {
        stop: true,
        kind: "idle-stop",
        reason: `idle-stop: no GPU utilisation and no relay traffic for ${formatDuration(spec.idleStopS)}`,
      };
  }
  return { stop: false };
}
