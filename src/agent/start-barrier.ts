import type { Assignment, GangAssignment, WorkloadReport } from "../contract/index.js";

/** Why an assignment was refused before anything started (reported failed once, then forgotten). */
export interface Refusal {
  reason: string;
  cause?: "image-pull";
}

/**
 * Assignments not started yet: gang ranks being prepared (image pulled) or prepared and waiting at
 * the start barrier for the control plane's go (not started, not billed), and assignments refused
 * before start (volumes that cannot be mounted, ranks whose preparation failed).
 */
export class StartBarrier {
  /** Gang ranks prepared and waiting at the start barrier for the control plane's go. */
  private readonly waiting = new Map<string, Assignment>();
  /** Gang ranks being prepared (image pulled) before they report ready. */
  private readonly preparing = new Set<string>();
  /** Assignments whose start was refused: reported failed once, then forgotten. */
  private readonly refused = new Map<string, Refusal>();

  constructor(private readonly log: (msg: string, fields?: Record<string, unknown>) => void) {}

  /** Whether this lease was refused and not yet reported. */
  isRefused(leaseId: string): boolean {
    return this.refused.has(leaseId);
  }

  /** Refuses a lease: it is reported failed on the next heartbeat (nothing started). */
  refuse(leaseId: string, r: Refusal): void {
    this.refused.set(leaseId, r);
  }

  /** Prepares a gang rank before its go, then holds it at the barrier (or refuses it if preparing fails). */
  hold(
    a: Assignment,
    gang: GangAssignment,
    prepare: () => Promise<{ problem?: string; cause?: "image-pull" }>,
  ): void {
    if (this.waiting.has(a.leaseId) || this.preparing.has(a.leaseId) || this.refused.has(a.leaseId)) return;
    this.preparing.add(a.leaseId);
    void prepare()
      .then((r: { problem?: string; cause?: "image-pull" }) => {
        if (!this.preparing.has(a.leaseId)) return; // stopped meanwhile
        if (r.problem) {
          this.refused.set(a.leaseId, { reason: r.problem, ...(r.cause ? { cause: r.cause } : {}) });
          this.log("gang rank could not be prepared", { leaseId: a.leaseId, reason: r.problem });
        } else {
          this.waiting.set(a.leaseId, a);
          this.log("gang rank ready; waiting for the other ranks", {
            leaseId: a.leaseId,
            nodeRank: gang.nodeRank,
            nnodes: gang.nnodes,
          });
        }
      })
      .catch((err: unknown) => this.refused.set(a.leaseId, { reason: (err as Error).message }))
      .finally(() => this.preparing.delete(a.leaseId));
  }

  /** The rank starts now: it leaves the barrier. */
  release(leaseId: string): void {
    this.waiting.delete(leaseId);
  }

  /** Drops a lease stopped before it started; true if it was held here. */
  drop(leaseId: string): boolean {
    return this.waiting.delete(leaseId) || this.preparing.delete(leaseId) || this.refused.delete(leaseId);
  }

  /** The jobs of the ranks waiting at the barrier (their checkpoint folders are kept). */
  waitingJobIds(): string[] {
    return [...this.waiting.values()].map((a) => a.jobId);
  }

  /**
   * This heartbeat's reports of held leases: ready at the barrier, starting while prepared, failed
   * if refused; `refused` names the refusals to forget once the heartbeat got through.
   */
  reports(): { reports: WorkloadReport[]; refused: string[] } {
    const reports: WorkloadReport[] = [];
    for (const leaseId of this.waiting.keys()) reports.push({ leaseId, phase: "starting", ready: true });
    for (const leaseId of this.preparing) reports.push({ leaseId, phase: "starting" });
    const refusedNow = [...this.refused];
    for (const [leaseId, r] of refusedNow)
      reports.push({ leaseId, phase: "failed", reason: r.reason, ...(r.cause ? { cause: r.cause } : {}) });
    return { reports, refused: refusedNow.map(([leaseId]) => leaseId) };
  }

  /** Forgets refusals the control plane has now heard of. */
  forgetRefused(leaseIds: string[]): void {
    for (const leaseId of leaseIds) this.refused.delete(leaseId);
  }
}
