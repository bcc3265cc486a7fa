import type { GpuCatalogue, Node } from "../domain/index.js";
import type { LeaseView, NodeView } from "../scheduler/index.js";
import type { CheckpointRecord, LeaseRecord } from "../store/index.js";
import {
  leaseViewOf,
  nodeViewOf,
  pendingOf,
  reservationViews,
  savedAtOf,
  siteParts,
  type CycleSnapshot,
  type CycleWorld,
} from "./snapshot.js";

/** The small, per-cycle parts of the world a kept snapshot is completed with (none grows with the fleet). */
export type SnapshotParts = Pick<
  CycleWorld,
  | "sites"
  | "prices"
  | "curtailments"
  | "series"
  | "reservations"
  | "finishedService"
  | "jobs"
  | "checkpoints"
  | "checkpointOf"
  | "catalogue"
> & {
  /** Nodes by id (for requeued jobs whose checkpoint's node is offline). */
  nodes: ReadonlyMap<string, Node>;
  /** GPU-seconds of each tracked job's ended leases. */
  endedGpuS: ReadonlyMap<string, number>;
};

/** A lease's view plus what its lazily computed attained service reads. */
interface KeptLease {
  view: LeaseView;
  record: LeaseRecord;
}

/**
 * The scheduler's input (nodes and leases as the scheduler sees them), kept current from the
 * cluster view's changes instead of rebuilt every cycle: a node or lease change costs O(1) (a
 * lease's job's other leases aside; a node leaving placement costs a shift of the node list, rare),
 * and a cycle's snapshot costs O(sites + queue) plus a copy of the lease references, not a rebuild
 * of every node. Nodes keep their order (load order, then arrival; a node that leaves placement and
 * comes back goes last), so the scheduler's tie-breaks match a rebuild's from the same view.
 * `rebuild()` is the full path (the view's every load and reconcile, a new GPU catalogue).
 */
export class KeptSnapshot {
  private readonly nodeViews: NodeView[] = [];
  /** Position of each placeable node in nodeViews; stale from `posFrom` on (after a removal). */
  private readonly nodePos = new Map<string, number>();
  private posFrom = Number.POSITIVE_INFINITY;
  private readonly leaseViews: LeaseView[] = [];
  private readonly leases = new Map<string, KeptLease>();
  private readonly leasePos = new Map<string, number>();
  /** Active lease ids per job (a gang's ranks): jobGpus and attained service. */
  private readonly jobLeases = new Map<string, Set<string>>();
  /** Ranks 0 of active gangs, "node:port" -> count. */
  private readonly gangPorts = new Map<string, number>();
  private catalogue: GpuCatalogue | undefined;
  /** What attained-service getters read: the cycle's time and the ended GPU-seconds per job. */
  private now = 0;
  private endedGpuS: ReadonlyMap<string, number> = new Map();
  /** What savedAt getters read: the newest checkpoint per job. */
  private checkpointOf: ReadonlyMap<string, CheckpointRecord> | undefined;
  /** Counters for tests and the bench. */
  readonly stats = { rebuilds: 0, nodeUpdates: 0, leaseUpdates: 0 };

  /** The full path: every node and lease from scratch. */
  rebuild(nodes: Iterable<Node>, leases: Iterable<LeaseRecord>, catalogue: GpuCatalogue): void {
    this.stats.rebuilds++;
    this.catalogue = catalogue;
    this.nodeViews.length = 0;
    this.nodePos.clear();
    this.posFrom = Number.POSITIVE_INFINITY;
    this.leaseViews.length = 0;
    this.leases.clear();
    this.leasePos.clear();
    this.jobLeases.clear();
    this.gangPorts.clear();
    for (const n of nodes) this.setNode(n);
    for (const l of leases) this.setLease(l);
  }

  /** Whether a rebuild happened (incremental updates apply only on top of one). */
  live(): boolean {
    return this.catalogue !== undefined;
  }

  /** A node was added or changed. */
  setNode(n: Node): void {
    this.stats.nodeUpdates++;
    const v = nodeViewOf(n, this.catalogue!);
    const at = this.posOf(n.id);
    if (v === undefined) {
      if (at !== undefined) this.removeAt(n.id, at);
    } else if (at !== undefined) this.nodeViews[at] = v;
    else {
      this.nodePos.set(n.id, this.nodeViews.length);
      this.nodeViews.push(v);
    }
  }

  /** A node was removed. */
  removeNode(id: string): void {
    this.stats.nodeUpdates++;
    const at = this.posOf(id);
    if (at !== undefined) this.removeAt(id, at);
  }

  /** A lease became active or changed (its view replaces the old one). */
  setLease(l: LeaseRecord): void {
    this.stats.leaseUpdates++;
    const before = this.leases.get(l.id);
    if (before) this.unlinkLease(before);
    const view = leaseViewOf(l, undefined, undefined);
    // The job's service so far, computed when the scheduler asks (it grows with time; few are asked).
    Object.defineProperty(view, "attainedGpuS", {
      enumerable: true,
      configurable: true,
      get: () => this.attained(l.jobId),
    });
    // When this lease last saved its job's work (read at scheduling time, as the checkpoints change).
    Object.defineProperty(view, "savedAt", {
      enumerable: true,
      configurable: true,
      get: () => savedAtOf(l, this.checkpointOf),
    });
    const k: KeptLease = { view, record: l };
    this.leases.set(l.id, k);
    const at = this.leasePos.get(l.id);
    if (at !== undefined) this.leaseViews[at] = view;
    else {
      this.leasePos.set(l.id, this.leaseViews.length);
      this.leaseViews.push(view);
    }
    let ids = this.jobLeases.get(l.jobId);
    if (!ids) this.jobLeases.set(l.jobId, (ids = new Set()));
    ids.add(l.id);
    this.jobGpusChanged(l.jobId);
    if (l.gang?.rank === 0) {
      const key = `${l.nodeId}:${l.gang.port}`;
      this.gangPorts.set(key, (this.gangPorts.get(key) ?? 0) + 1);
    }
  }

  /** A lease ended (or left the active states). */
  removeLease(id: string): void {
    this.stats.leaseUpdates++;
    const k = this.leases.get(id);
    if (!k) return;
    this.unlinkLease(k);
    this.leases.delete(id);
    // Lease order does not matter to the scheduler: swap the last one in.
    const at = this.leasePos.get(id)!;
    const last = this.leaseViews.pop()!;
    this.leasePos.delete(id);
    if (last.id !== id) {
      this.leaseViews[at] = last;
      this.leasePos.set(last.id, at);
    }
    this.jobGpusChanged(k.record.jobId);
  }

  /**
   * The cycle's snapshot: the kept nodes and leases with this cycle's sites, queue and reservations.
   * The node list is the kept one, shared (the scheduler reads it synchronously and never changes
   * it; a later change moves it on); the lease list is a copy of references, since the commit step
   * looks victims up in it across awaits while heartbeats may sync the view.
   */
  snapshot(parts: SnapshotParts, now: number): CycleSnapshot {
    if (!this.catalogue) throw new Error("kept snapshot: rebuild() first (nothing is kept yet)");
    this.now = now;
    this.endedGpuS = parts.endedGpuS;
    this.checkpointOf = parts.checkpointOf;
    this.fixPositions();
    const sites = siteParts(parts, now);
    // As the rebuild counts it: jobs holding leases, and requeued (preempted) jobs; a new job has none.
    const preempted = new Set(parts.jobs.filter((j) => j.state === "preempted").map((j) => j.id));
    const attainedOf = (id: string): number =>
      this.jobLeases.has(id) ? this.attained(id) : preempted.has(id) ? (parts.endedGpuS.get(id) ?? 0) : 0;
    return {
      snapshot: {
        sites: sites.sites,
        nodes: this.nodeViews,
        leases: this.leaseViews.slice(),
        ...(parts.finishedService ? { finishedService: parts.finishedService } : {}),
        reservations: reservationViews(parts.reservations, parts.jobs),
      },
      ...pendingOf(parts.jobs, parts.checkpoints, (id) => parts.nodes.get(id)?.state, attainedOf),
      siteOperator: sites.siteOperator,
      siteCountry: sites.siteCountry,
      carbon: sites.carbon,
      gangPorts: new Set(this.gangPorts.keys()),
    };
  }

  /** A job's GPU-seconds so far: its ended leases plus its active ones up to now. */
  private attained(jobId: string): number {
    let s = this.endedGpuS.get(jobId) ?? 0;
    for (const id of this.jobLeases.get(jobId) ?? []) {
      const l = this.leases.get(id)!.record;
      if (l.startedAt != null) s += (l.gpuIndices.length * Math.max(0, this.now - l.startedAt)) / 1000;
    }
    return s;
  }

  private unlinkLease(k: KeptLease): void {
    const l = k.record;
    const ids = this.jobLeases.get(l.jobId);
    ids?.delete(l.id);
    if (ids?.size === 0) this.jobLeases.delete(l.jobId);
    if (l.gang?.rank === 0) {
      const key = `${l.nodeId}:${l.gang.port}`;
      const c = (this.gangPorts.get(key) ?? 1) - 1;
      if (c > 0) this.gangPorts.set(key, c);
      else this.gangPorts.delete(key);
    }
  }

  /** Every lease of a job carries the job's GPU count (the queue policy's size of the job). */
  private jobGpusChanged(jobId: string): void {
    const ids = this.jobLeases.get(jobId);
    if (!ids) return;
    let gpus = 0;
    for (const id of ids) gpus += this.leases.get(id)!.record.gpuIndices.length;
    for (const id of ids) this.leases.get(id)!.view.jobGpus = gpus;
  }

  private posOf(id: string): number | undefined {
    const at = this.nodePos.get(id);
    if (at === undefined || at < this.posFrom) return at;
    this.fixPositions();
    return this.nodePos.get(id);
  }

  /** Removes a node from the list, keeping the others' order (positions after it are fixed lazily). */
  private removeAt(id: string, at: number): void {
    this.nodeViews.splice(at, 1);
    this.nodePos.delete(id);
    this.posFrom = Math.min(this.posFrom, at);
  }

  private fixPositions(): void {
    if (this.posFrom === Number.POSITIVE_INFINITY) return;
    for (let i = this.posFrom; i < this.nodeViews.length; i++) this.nodePos.set(this.nodeViews[i]!.id, i);
    this.posFrom = Number.POSITIVE_INFINITY;
  }
}
