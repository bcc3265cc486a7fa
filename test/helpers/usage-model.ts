// The pure model of a node's checked usage ingest: batches bounded one after the other, each
// seeing the seqs and intervals the batches before it stored (as the stores keep them).
import type { UsageRecord } from "../../src/domain/index.js";
import {
  boundUsageBatch,
  type Interval,
  type LeaseUsageBounds,
  type StoredUsage,
  type UsageVerdict,
} from "../../src/ledger/usage-bounds.js";

/** A node's ingest state kept across batches, as the store keeps it. */
export class IngestModel {
  stored = new Map<number, StoredUsage>();
  covered = new Map<string, Interval[]>();
  accepted: UsageRecord[] = [];
  verdicts: UsageVerdict[] = [];
  constructor(readonly bounds: ReadonlyMap<string, LeaseUsageBounds>) {}
  send(batch: UsageRecord[], bounds: ReadonlyMap<string, LeaseUsageBounds> = this.bounds): UsageVerdict[] {
    const v = boundUsageBatch(batch, bounds, this.stored, this.covered);
    for (const x of v) {
      if (x.kind !== "new") continue;
      this.accepted.push(x.record);
      const { nodeId: _n, seq: _s, ...acc } = x.record;
      const claim = x.claim ? (({ nodeId: _a, seq: _b, ...c }) => c)(x.claim) : null;
      this.stored.set(x.record.seq, { accepted: acc, claim });
    }
    this.verdicts.push(...v);
    return v;
  }
}
