import type { Clock, Role } from "../domain/index.js";
import { DomainError, forbidden } from "../domain/index.js";
import type { Policy } from "../scheduler/index.js";
import type { Store } from "../store/index.js";
import type { IdGen } from "./ids.js";
import type { SecretBox } from "./secret-box.js";
import type { ClusterView } from "./cluster-view.js";

/** Who is calling: resolved from an API key. */
export interface Principal {
  role: Role;
  /** Operator id, tenant id or node id; null for admin. */
  ownerId: string | null;
  keyId: string;
}

/** Settings of the control plane (parsed once in main()). */
export interface ControlConfig {
  currency: string;
  /** Log bytes kept per job. */
  logCapBytes: number;
  /** A node with no heartbeat for this long is offline. */
  heartbeatTimeoutMs: number;
  /** A node silent this long loses its leases (their jobs are requeued); default 5 minutes. */
  leaseLossTimeoutMs?: number;
  /** Grace between checkpoint notice and kill, seconds. */
  stopGraceS: number;
  /** After a stop's grace period, how long the server waits for the node to report the end before it ends the lease itself, seconds (default 60). */
  stopTimeoutS?: number;
  /** Seconds a checkpoint copy may go without progress before it fails (default 600). */
  checkpointCopyWaitS?: number;
  /** Seconds a multi-node job's ranks may take to all be ready before it is requeued (default 600). */
  gangStartTimeoutS?: number;
  /** Enrolment tokens live this long. */
  enrolmentTokenTtlMs: number;
  policy: Policy;
  /** How often spend limits are checked, ms (default 10 s). */
  spendCheckMs?: number;
  /** Hold flexible jobs (interruptible with a deadline) for cleaner hours. */
  deferFlexible: boolean;
  /** Where the control plane (and so the job logs) lives, in words, e.g. "EU (ES)". */
  region: string;
  /** Most bytes of volumes (declared sizes) one tenant may hold in all (default 1 TB). */
  volumeQuotaBytes?: number;
}

/** When a job's relay streams last carried a byte (the relay hub; epoch ms, server clock). */
export interface RelayActivity {
  lastActivityMs(jobId: string): number | undefined;
}

/** What every service needs: the store, the clock, ids and config. */
export interface Ctx {
  store: Store;
  clock: Clock;
  ids: IdGen;
  config: ControlConfig;
  /** Called when something happened that the scheduler should look at soon. */
  nudge: () => void;
  /** Seals and opens tenants' secrets; without it, jobs and requests that carry secrets are refused. */
  secrets?: SecretBox;
  /** This replica's cluster view (src/control/cluster-view.ts): the cycle schedules on it, heartbeats read it. */
  view?: ClusterView;
  /** The relay hub's traffic times (instances' idle stop); absent: no relay, so no relay traffic. */
  relayActivity?: RelayActivity;
}

/** Throws 403 unless the principal has one of the roles. */
export function requireRole(p: Principal, ...roles: Role[]): void {
  if (!roles.includes(p.role)) {
    throw new DomainError("forbidden", `this needs a ${roles.join(" or ")} key; yours is a ${p.role} key`);
  }
}

/** The owner id of a non-admin principal (throws for keys without one). */
export function ownerOf(p: Principal): string {
  if (!p.ownerId) throw forbidden(`this ${p.role} key is not tied to an account`);
  return p.ownerId;
}
