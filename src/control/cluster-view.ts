import type { Logger } from "pino";
import { sameValue, type GpuCatalogue, type Job, type Node, type Price, type Site } from "../domain/index.js";
import type {
  CheckpointRecord,
  CheckpointTransfer,
  Curtailment,
  GpuReservation,
  LeaseRecord,
  Store,
  ViewChange,
} from "../store/index.js";
import { loadGpuCatalogue } from "./gpu-models-service.js";
import { KeptSnapshot } from "./kept-snapshot.js";
import { buildSnapshot, type CycleSnapshot, type CycleWorld } from "./snapshot.js";

/** As many queued jobs as one cycle considers (the store's pendingJobs limit). */
const QUEUE_LIMIT = 10_000;
/** How many of the feed's last ids a fresh load checks for uncommitted (missing) ones. */
const LOOKBACK = 200;
/** Real time a missing feed id is waited for (a transaction still open) before it counts as rolled back. */
const GAP_MS = 10_000;
/** A hole in the feed wider than this is not tracked id by id (a sequence jump, not open transactions). */
const MAX_GAP = 1000;
/** Reconcile period per node in a large fleet (reconcileEveryMs). */
const RECONCILE_MS_PER_NODE = 30;

/** Feed rows kept behind the leader's position (the rest is pruned on reconcile). */
const PRUNE_KEEP = 50_000;

const QUEUED = new Set(["pending", "preempted"]);
const ACTIVE = new Set(["assigned", "running", "stopping"]);

/** Options of the cluster view. */
export interface ClusterViewOptions {
  /** Clock time between full reloads that check the view against the store (default 60 s, longer for a large fleet). */
  reconcileMs?: number;
  /** Clock time between re-reads of the finished-job history once a job finished (default 5 s). */
  finishedRefreshMs?: number;
  /** Real time for the feed's gap timeout (default performance.now). */
  realMs?: () => number;
  /**
   * Keep the scheduler's snapshot from the changes (default true); false rebuilds it from the whole
   * world every cycle (the old path: the bench's baseline).
   */
  keepSnapshot?: boolean;
}

/** A position in the change feed: the highest id applied, and the ids below it not seen yet (transactions still open, or rolled back: id -> first noticed, real ms). */
interface FeedCursor {
  high: number;
  missing: Map<number, number>;
}

/** What the view holds: the scheduling cycle's world, kept current from the change feed. */
interface ViewState {
  sites: Site[];
  nodes: Map<string, Node>;
  leases: Map<string, LeaseRecord>;
  /** Active leases by node (the heartbeat's answer). */
  byNode: Map<string, Map<string, LeaseRecord>>;
  queue: Map<string, Job>;
  prices: Price[];
  curtailments: Curtailment[];
  series: CycleWorld["series"];
  reservations: GpuReservation[];
  checkpoints: Map<string, CheckpointRecord>;
  catalogue: GpuCatalogue;
  finished: NonNullable<CycleWorld["finishedService"]>;
  /** Checkpoint copies in progress (their nodes' heartbeats carry them). */
  transfers: CheckpointTransfer[];
  /** GPU-seconds of each tracked job's ended leases (the attained service that no longer grows). */
  endedGpuS: Map<string, number>;
}

/** What one applied batch of changes touched (long-polls wake, key caches drop). */
export interface ViewChanges {
  nodesWithLeaseChanges: Set<string>;
  keys: string[];
}

/** How a reconcile found the view against the store (rows that differed, by kind). */
export interface ViewDrift {
  nodes: number;
  leases: number;
  queue: number;
}

/**
 * The scheduler's in-memory cluster view (kueue's cache and queue manager): nodes, active leases,
 * the queue and the small tables the cycle reads, loaded once and then kept current from the change
 * feed (migration 0019: every write to those tables, by any replica, appends the row's id), so a
 * cycle over an unchanged fleet reads one empty page of the feed instead of the world. A full
 * reload checks the view against the store every `reconcileMs` (differences are logged and
 * counted in `drift`), and `reset()` makes the next sync load it fresh (a new leader term keeps it).
 */
export class ClusterView {
  private state: ViewState | undefined;
  /** Where the view is in the change feed. */
  private cursor: FeedCursor = { high: 0, missing: new Map() };
  private loadedAt = Number.NEGATIVE_INFINITY;
  /** A reconcile's fresh read in flight (outside the sync chain), and the one done, waiting to be compared. */
  private reading: Promise<void> | undefined;
  private freshRead: { state: ViewState; cursor: FeedCursor; generation: number } | undefined;
  /** Bumped by reset(): a fresh read started before it is dropped. */
  private generation = 0;
  private finishedStale = false;
  private finishedAt = Number.NEGATIVE_INFINITY;
  private sortedLeases: LeaseRecord[] | undefined;
  private sortedQueue: Job[] | undefined;
  private syncing: Promise<void> = Promise.resolve();
  /** The sync waiting for the running one to end (callers arriving meanwhile join it). */
  private queued: { now: number; run: Promise<void> } | undefined;
  private readonly versions = new Map<string, number>();
  /** The process's write epoch (src/store/write-epoch.ts) the last sync started at. */
  private syncedEpoch = -1;
  /** This process's writes to gpu_models when the last sync started (currentCatalogue). */
  private syncedModelWrites = -1;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly listeners: ((c: ViewChanges) => void)[] = [];
  /** The scheduler's input kept from the same changes (src/control/kept-snapshot.ts). */
  readonly kept = new KeptSnapshot();
  /** Counters for tests, logs and the bench. */
  readonly stats = {
    loads: 0,
    changes: 0,
    rowsRead: 0,
    drift: { nodes: 0, leases: 0, queue: 0 } as ViewDrift,
  };

  constructor(
    private readonly store: Store,
    private readonly log?: Logger,
    private readonly opts: ClusterViewOptions = {},
  ) {}

  /** Whether the view is loaded (heartbeats read the store directly until it is). */
  ready(): boolean {
    return this.state !== undefined;
  }

  /** A node as of the last sync (liveness excepted). */
  node(id: string): Node | undefined {
    return this.state?.nodes.get(id);
  }

  /** How many nodes are enrolled, as of the last sync. */
  nodeCount(): number | undefined {
    return this.state?.nodes.size;
  }

  /** An active lease as of the last sync. */
  lease(id: string): LeaseRecord | undefined {
    return this.state?.leases.get(id);
  }

  /** A node's active leases as of the last sync, oldest first (undefined before the first load). */
  leasesOn(nodeId: string): LeaseRecord[] | undefined {
    const s = this.state;
    if (!s) return undefined;
    return [...(s.byNode.get(nodeId)?.values() ?? [])].sort(
      (a, b) => a.createdAt - b.createdAt || cmp(a.id, b.id),
    );
  }

  /** Changes when the node's leases change in the view (or the view reloads): its orders long-poll's cursor. */
  orderVersion(nodeId: string): string {
    return `${this.stats.loads}.${this.versions.get(nodeId) ?? 0}`;
  }

  /** The checkpoint copies in progress to or from a node, as of the last sync. */
  openTransfersOf(nodeId: string): CheckpointTransfer[] | undefined {
    return this.state?.transfers.filter((t) => t.fromNodeId === nodeId || t.toNodeId === nodeId);
  }

  /** The GPU catalogue in force, as of the last sync. */
  catalogue(): GpuCatalogue | undefined {
    return this.state?.catalogue;
  }

  /**
   * The catalogue when it holds every write this process made to it (a model approved here is in it;
   * another replica's change arrives with the next feed poll), else undefined: the caller reads the
   * store. Lets a submission skip a read without waiting for a sync.
   */
  currentCatalogue(): GpuCatalogue | undefined {
    return this.state && this.syncedModelWrites >= this.store.db.writes.writesOf("gpu_models")
      ? this.state.catalogue
      : undefined;
  }

  /** Calls `fn` after each applied batch of changes (nodes whose leases changed, keys that changed). */
  onChange(fn: (c: ViewChanges) => void): void {
    this.listeners.push(fn);
  }

  /** Keeps the view current between cycles (every replica: heartbeats and long-polls read it). */
  follow(intervalMs: number, now: () => number): void {
    this.unfollow();
    this.timer = setInterval(() => {
      this.sync(now()).catch((err: unknown) => this.log?.error({ err }, "cluster view sync failed"));
    }, intervalMs);
    this.timer.unref();
  }

  unfollow(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Forgets everything: the next sync loads the view fresh (leadership changed). */
  reset(): void {
    this.state = undefined;
    this.syncedEpoch = -1;
    this.syncedModelWrites = -1;
    this.cursor = { high: 0, missing: new Map() };
    this.generation++;
    this.freshRead = undefined;
  }

  /**
   * Clock time between reconciles: `reconcileMs` when set, else 60 s, or 30 ms a node when that is
   * longer (5 min at 10,000 nodes). A reconcile reads and compares the whole fleet, so its period
   * grows with the fleet as the heartbeat interval does and its share of the control plane's time
   * stays the same: at 10,000 nodes on PostgreSQL one took 0.5-0.9 s of reads and 70-160 ms of
   * comparison, and beats slowed while it ran.
   */
  private reconcileEveryMs(): number {
    return this.opts.reconcileMs ?? Math.max(60_000, (this.state?.nodes.size ?? 0) * RECONCILE_MS_PER_NODE);
  }

  /** Settles a reconcile in flight (tests): its fresh read ends and the next sync compares it. */
  async settleReconcile(now: number): Promise<void> {
    await this.reading;
    await this.sync(now);
  }

  /**
   * Brings the view up to date with the store: a fresh load, a reconcile, or the feed's new changes.
   * Calls run one at a time (the cycle, the follower timer and heartbeats share one view).
   */
  sync(now: number): Promise<void> {
    // A caller that arrives while a sync waits to start joins it: that sync starts after the call, so
    // it sees the caller's writes. At most one runs and one waits, however many requests ask (a chain
    // of one sync per heartbeat queued seconds of round trips on PostgreSQL).
    if (this.queued) {
      this.queued.now = Math.max(this.queued.now, now);
      return this.queued.run;
    }
    const q: { now: number; run: Promise<void> } = { now, run: Promise.resolve() };
    q.run = this.syncing.then(() => {
      if (this.queued === q) this.queued = undefined;
      return this.syncNow(q.now);
    });
    this.queued = q;
    this.syncing = q.run.catch(() => undefined);
    return q.run;
  }

  /**
   * The view, synced first when this process wrote to a followed table since the last sync (so a
   * handler sees its own and earlier requests' writes); other replicas' writes arrive with the
   * follower timer. `lagMs`: a caller that can do with a view up to that far behind this process's
   * writes does not wait when the first write the view has not seen finished less than `lagMs` ago.
   */
  async current(now: number, opts: { lagMs?: number } = {}): Promise<ClusterView> {
    const writes = this.store.db.writes;
    if (
      !this.state ||
      (this.syncedEpoch < writes.value && !(opts.lagMs && writes.ageOf(this.syncedEpoch + 1) < opts.lagMs))
    ) {
      await this.sync(now);
    }
    return this;
  }

  private async syncNow(now: number): Promise<void> {
    const epoch = this.store.db.writes.value;
    const models = this.store.db.writes.writesOf("gpu_models");
    await this.syncOnce(now);
    this.syncedEpoch = Math.max(this.syncedEpoch, epoch);
    this.syncedModelWrites = Math.max(this.syncedModelWrites, models);
  }

  private async syncOnce(now: number): Promise<void> {
    if (!this.state) {
      this.state = await this.load(now);
      return;
    }
    // A reconcile reads the store fresh outside the chain (a read of a large fleet takes long enough
    // to hold up every heartbeat queued behind it); a later sync compares it at one feed position.
    const fresh = this.freshRead;
    if (fresh) {
      this.freshRead = undefined;
      if (fresh.generation === this.generation) {
        await this.reconcile(fresh, now);
        return;
      }
    }
    if (now - this.loadedAt >= this.reconcileEveryMs() && !this.reading) {
      this.loadedAt = now;
      const generation = this.generation;
      // One query at a time (the pool stays free for requests), then brought near the feed's head
      // here, so that the comparison in the chain has little left to apply.
      this.reading = this.read(now, { oneAtATime: true }).then(
        async (r) => {
          await this.applyFeed(r.state, r.cursor, now);
          this.freshRead = { ...r, generation };
          this.reading = undefined;
        },
        (err: unknown) => {
          this.reading = undefined;
          this.log?.error({ err }, "cluster view reconcile read failed");
        },
      );
    }
    if (!(await this.applyFeed(this.state, this.cursor, now))) {
      // Behind the pruned end of the feed (a follower that did not sync for a long time): the changes
      // in between are gone, so the view reloads rather than miss them until the next reconcile.
      this.log?.warn(
        { feed: this.cursor.high },
        "cluster view fell behind the pruned change feed; reloading",
      );
      this.state = await this.load(now);
      return;
    }
    if (this.finishedStale && now - this.finishedAt >= (this.opts.finishedRefreshMs ?? 5000)) {
      this.finishedStale = false;
      this.finishedAt = now;
      this.state.finished = await this.store.jobs.finishedService();
    }
  }

  /**
   * The cycle's world at `now` (after sync). Arrays are the cycle's own; nodes and leases are the
   * view's records, shared (a step that stops a lease may mark it stopping: the store already says so,
   * and the feed brings the row). `attained: false` leaves out the queue policy's attained service
   * (the kept snapshot computes it for the leases the scheduler asks about).
   */
  async world(now: number, opts: { attained?: boolean } = {}): Promise<CycleWorld> {
    await this.sync(now);
    return this.worldOf(this.state!, now, opts.attained !== false);
  }

  private worldOf(s: ViewState, now: number, attained: boolean): CycleWorld {
    this.sortedQueue ??= [...s.queue.values()]
      .sort((a, b) => a.submittedAt - b.submittedAt || cmp(a.id, b.id))
      .slice(0, QUEUE_LIMIT);
    const leases = [...this.sortedLeasesOf(s)];
    const jobs = [...this.sortedQueue];
    const preempted = jobs.filter((j) => j.state === "preempted");
    return {
      sites: s.sites.map((x) => ({ ...x })),
      nodes: s.nodes,
      leases,
      prices: [...s.prices],
      jobs,
      curtailments: s.curtailments.filter((c) => c.endMs > now).map((c) => ({ ...c })),
      series: [...s.series],
      reservations: s.reservations.filter((r) => r.expiresAt > now),
      finishedService: s.finished,
      ...(attained ? { attainedGpuS: attainedOf(s, preempted, leases, now) } : {}),
      checkpoints: preempted.flatMap((j) => {
        const c = s.checkpoints.get(j.id);
        return c ? [c] : [];
      }),
      checkpointOf: s.checkpoints,
      catalogue: s.catalogue,
    };
  }

  /**
   * The scheduler's snapshot at `now`, synced first when this process wrote since (the cycle's own
   * stops and lease ends): the kept one (nodes and leases updated from the changes, the rest per
   * cycle), rebuilt in full after a load; or rebuilt from the whole world with `keepSnapshot: false`.
   */
  async snapshot(now: number): Promise<CycleSnapshot> {
    await this.current(now);
    const s = this.state!;
    if (this.opts.keepSnapshot === false) return buildSnapshot(this.worldOf(s, now, true), now);
    if (!this.kept.live()) this.kept.rebuild(s.nodes.values(), s.leases.values(), s.catalogue);
    return this.kept.snapshot({ ...this.worldOf(s, now, false), endedGpuS: s.endedGpuS }, now);
  }

  private sortedLeasesOf(s: ViewState): LeaseRecord[] {
    return (this.sortedLeases ??= [...s.leases.values()].sort(
      (a, b) => a.createdAt - b.createdAt || cmp(a.id, b.id),
    ));
  }

  /** Reads everything the cycle needs and makes it the view. */
  private async load(now: number): Promise<ViewState> {
    return this.adopt(await this.read(now), now);
  }

  /** Reads everything the cycle needs, after noting the feed's position (later changes apply on top); changes nothing. */
  private async read(
    now: number,
    opts: { oneAtATime?: boolean } = {},
  ): Promise<{ state: ViewState; cursor: FeedCursor }> {
    const store = this.store;
    // A load reads the tables at once (a takeover waits for it); a reconcile reads them one after
    // another: eleven reads of a large fleet at once held every pooled connection for most of a
    // second, and heartbeats, submissions and the view's syncs queued behind them.
    let previous: Promise<unknown> = Promise.resolve();
    const q = <T>(f: () => Promise<T>): Promise<T> => {
      if (!opts.oneAtATime) return f();
      const p = previous.then(f);
      previous = p.catch(() => undefined);
      return p;
    };
    const last = await store.view.lastChangeIds(LOOKBACK);
    const cursor: FeedCursor = { high: last[0] ?? 0, missing: new Map() };
    if (last.length > 0) {
      const have = new Set(last);
      for (let id = last[last.length - 1]!; id < cursor.high; id++)
        if (!have.has(id)) cursor.missing.set(id, this.realMs());
    }
    const [
      sites,
      nodes,
      leases,
      prices,
      jobs,
      curtailments,
      series,
      reservations,
      finished,
      catalogue,
      transfers,
    ] = await Promise.all([
      q(() => store.fleet.listSites()),
      q(() => store.fleet.listNodes()),
      q(() => store.jobs.activeLeases()),
      q(() => store.fleet.listPrices()),
      q(() => store.jobs.pendingJobs(QUEUE_LIMIT)),
      q(() => store.energy.curtailments({ activeAt: now })),
      q(() => store.energy.series()),
      q(() => store.checkpoints.reservations(now)),
      q(() => store.jobs.finishedService()),
      q(() => loadGpuCatalogue(store)),
      q(() => store.checkpoints.openTransfers()),
    ]);
    const state: ViewState = {
      sites,
      nodes: new Map(nodes.map((n) => [n.id, n])),
      leases: new Map(),
      byNode: new Map(),
      queue: new Map(jobs.map((j) => [j.id, j])),
      prices,
      curtailments,
      series,
      reservations,
      checkpoints: new Map(),
      catalogue,
      finished,
      transfers,
      endedGpuS: new Map(),
    };
    for (const l of leases) setLease(state, l);
    await this.refreshJobs(state, new Set([...state.queue.keys(), ...leases.map((l) => l.jobId)]));
    return { state, cursor };
  }

  /** Makes a fresh read the view: the kept snapshot is rebuilt and every node's orders version moves. */
  private adopt(r: { state: ViewState; cursor: FeedCursor }, now: number): ViewState {
    const { state, cursor } = r;
    this.cursor = cursor;
    this.loadedAt = now;
    this.finishedAt = now;
    this.finishedStale = false;
    this.sortedLeases = undefined;
    this.sortedQueue = undefined;
    // The full path, here rather than in the first cycle: a follower taking over schedules at once.
    this.kept.rebuild(state.nodes.values(), state.leases.values(), state.catalogue);
    this.stats.loads++;
    this.log?.info(
      { nodes: state.nodes.size, leases: state.leases.size, queued: state.queue.size, feed: cursor.high },
      "cluster view loaded",
    );
    return state;
  }

  /**
   * Reads the view fresh and counts how far the kept one had drifted from the store (it should not).
   * Both are brought to one feed position first, so writes made meanwhile are not drift. The fresh read
   * replaces the view only where they differ: otherwise the kept one (and the scheduler's input kept
   * from it, and every node's orders version) stays, so a reconcile of a large fleet costs its reads
   * and one comparison, not a rebuild.
   */
  private async reconcile(fresh: { state: ViewState; cursor: FeedCursor }, now: number): Promise<void> {
    const old = this.state!;
    let caughtUp = false;
    for (let i = 0; i < 3 && !caughtUp; i++) {
      if (
        !(await this.applyFeed(old, this.cursor, now)) ||
        !(await this.applyFeed(fresh.state, fresh.cursor, now))
      )
        break;
      caughtUp = fresh.cursor.high === this.cursor.high;
    }
    this.loadedAt = now;
    if (!caughtUp) {
      // The feed moved on between the two (or was pruned past one): nothing to compare; the fresh read wins.
      this.state = this.adopt(fresh, now);
      return this.prune();
    }
    const drift = {
      // Nodes in slices (a large fleet's comparison held the event loop for 50-70 ms at 10,000 nodes);
      // only the chain changes node records, and it waits for this.
      nodes: await diffInSlices(old.nodes, fresh.state.nodes, sameNode),
      leases: await diffInSlices(old.leases, fresh.state.leases, sameValue),
      queue: await diffInSlices(old.queue, fresh.state.queue, (a, b) => a.state === b.state),
    };
    this.stats.drift.nodes += drift.nodes;
    this.stats.drift.leases += drift.leases;
    this.stats.drift.queue += drift.queue;
    if (drift.nodes + drift.leases + drift.queue > 0) {
      this.log?.warn({ drift }, "cluster view had drifted from the store; reloaded");
      this.state = this.adopt(fresh, now);
    } else {
      // The tables the comparison does not cover are taken from the fresh read (same feed position).
      const f = fresh.state;
      Object.assign(old, {
        sites: f.sites,
        prices: f.prices,
        curtailments: f.curtailments,
        series: f.series,
        reservations: f.reservations,
        finished: f.finished,
        transfers: f.transfers,
        checkpoints: f.checkpoints,
        endedGpuS: f.endedGpuS,
        queue: f.queue,
      });
      this.sortedQueue = undefined;
      if (JSON.stringify(f.catalogue) !== JSON.stringify(old.catalogue)) {
        old.catalogue = f.catalogue;
        this.kept.rebuild(old.nodes.values(), old.leases.values(), old.catalogue);
      }
      this.finishedAt = now;
      this.finishedStale = false;
    }
    return this.prune();
  }

  private async prune(): Promise<void> {
    const high = this.cursor.high;
    if (high > PRUNE_KEEP) await this.store.view.pruneChanges(high - PRUNE_KEEP);
  }

  /**
   * Reads the feed's new entries (and fills of its gaps) and re-reads the rows they name. False (and
   * nothing applied) when the next entry lies more than MAX_GAP past the view's position: the feed
   * was pruned past it, and only a reload is right.
   */
  private async applyFeed(state: ViewState, cursor: FeedCursor, now: number): Promise<boolean> {
    const fresh = await this.store.view.changesSince(cursor.high);
    if (fresh.length > 0 && fresh[0]!.id - cursor.high - 1 > MAX_GAP) return false;
    const { missing } = cursor;
    const fills = missing.size > 0 ? await this.store.view.changesByIds([...missing.keys()]) : [];
    const t = this.realMs();
    for (const c of fresh) {
      if (c.id - cursor.high - 1 <= MAX_GAP)
        for (let id = cursor.high + 1; id < c.id; id++) missing.set(id, t);
      cursor.high = c.id;
    }
    for (const c of fills) missing.delete(c.id);
    for (const [id, since] of missing) if (t - since > GAP_MS) missing.delete(id);
    const changes = [...fills, ...fresh];
    if (changes.length > 0) await this.apply(state, changes, now);
    return true;
  }

  /** Applies feed entries: re-reads the named rows (idempotent: the row's current state wins). */
  private async apply(state: ViewState, changes: ViewChange[], now: number): Promise<void> {
    const { store } = this;
    this.stats.changes += changes.length;
    const ids = (tbl: string): string[] => [
      ...new Set(changes.filter((c) => c.tbl === tbl && c.rowId !== "*").map((c) => c.rowId)),
    ];
    const whole = new Set(changes.filter((c) => c.rowId === "*").map((c) => c.tbl));
    const [jobIds, leaseIds, nodeIds, checkpointJobs] = [
      ids("jobs"),
      ids("leases"),
      ids("nodes"),
      ids("job_checkpoints"),
    ];
    const [jobs, leases, nodes] = await Promise.all([
      store.view.jobsByIds(jobIds),
      store.view.leasesByIds(leaseIds),
      store.fleet.nodesByIds(nodeIds),
    ]);
    this.stats.rowsRead += jobs.length + leases.length + nodes.length;
    const dirtyJobs = new Set(checkpointJobs);
    const touched = new Set<string>();
    const jobOf = new Map(jobs.map((j) => [j.id, j]));
    for (const id of jobIds) {
      const j = jobOf.get(id);
      if (j && QUEUED.has(j.state)) state.queue.set(id, j);
      else state.queue.delete(id);
      if (j && (j.state === "succeeded" || j.state === "failed")) this.finishedStale = true;
      dirtyJobs.add(id);
    }
    const leaseOf = new Map(leases.map((l) => [l.id, l]));
    const kept = this.kept.live() && state === this.state ? this.kept : undefined;
    for (const id of leaseIds) {
      const l = leaseOf.get(id);
      const before = state.leases.get(id);
      if (before) deleteLease(state, before);
      if (l && ACTIVE.has(l.state)) {
        setLease(state, l);
        kept?.setLease(l);
      } else if (before) {
        kept?.removeLease(id);
        // A gang's last rank may end after its job finished: the finished job's service grew.
        this.finishedStale = true;
      }
      if (l) dirtyJobs.add(l.jobId);
      const node = l?.nodeId ?? before?.nodeId;
      if (node) touched.add(node);
    }
    const nodeOf = new Map(nodes.map((n) => [n.id, n]));
    for (const id of nodeIds) {
      const n = nodeOf.get(id);
      if (n) {
        state.nodes.set(id, n);
        kept?.setNode(n);
      } else if (state.nodes.delete(id)) kept?.removeNode(id);
    }
    if (jobIds.length > 0) this.sortedQueue = undefined;
    if (leaseIds.length > 0) this.sortedLeases = undefined;
    await Promise.all([
      whole.has("sites") && store.fleet.listSites().then((x) => (state.sites = x)),
      whole.has("prices") && store.fleet.listPrices().then((x) => (state.prices = x)),
      whole.has("curtailments") &&
        store.energy.curtailments({ activeAt: now }).then((x) => (state.curtailments = x)),
      whole.has("energy_series") && store.energy.series().then((x) => (state.series = x)),
      whole.has("gpu_reservations") &&
        store.checkpoints.reservations(now).then((x) => (state.reservations = x)),
      whole.has("gpu_models") && loadGpuCatalogue(store).then((x) => (state.catalogue = x)),
      whole.has("checkpoint_transfers") &&
        store.checkpoints.openTransfers().then((x) => (state.transfers = x)),
    ]);
    // Node views follow the catalogue (model memory and power): a new one rebuilds them.
    if (kept && whole.has("gpu_models"))
      kept.rebuild(state.nodes.values(), state.leases.values(), state.catalogue);
    if (dirtyJobs.size > 0) await this.refreshJobs(state, dirtyJobs);
    // A fresh read being caught up for a reconcile (not the view yet) tells no one.
    if (state !== this.state) return;
    for (const id of touched) this.versions.set(id, (this.versions.get(id) ?? 0) + 1);
    const keys = ids("api_keys");
    for (const fn of this.listeners) fn({ nodesWithLeaseChanges: touched, keys });
  }

  /**
   * Re-reads what the view keeps per job for the given ones: the ended part of the attained service
   * and the newest checkpoint (jobs queued or holding a lease: where a requeued job resumes, what a
   * preemption of a running one loses); drops the rest.
   */
  private async refreshJobs(state: ViewState, jobIds: Set<string>): Promise<void> {
    const holding = new Set<string>();
    for (const l of state.leases.values()) if (jobIds.has(l.jobId)) holding.add(l.jobId);
    const tracked = [...jobIds].filter((id) => state.queue.has(id) || holding.has(id));
    const [ended, checkpoints] = await Promise.all([
      this.store.view.endedGpuS(tracked),
      this.store.checkpoints.checkpointsFor(tracked),
    ]);
    for (const id of jobIds) {
      state.endedGpuS.delete(id);
      state.checkpoints.delete(id);
    }
    for (const id of tracked) state.endedGpuS.set(id, ended.get(id) ?? 0);
    for (const c of checkpoints) state.checkpoints.set(c.jobId, c);
  }

  private realMs(): number {
    return (this.opts.realMs ?? (() => performance.now()))();
  }
}

/** Attained service (GPU-seconds so far) of requeued jobs and of jobs holding leases, at `now`. */
function attainedOf(s: ViewState, preempted: Job[], leases: LeaseRecord[], now: number): Map<string, number> {
  // Ended leases (kept) plus the running ones up to now.
  const attainedGpuS = new Map<string, number>();
  for (const j of preempted) attainedGpuS.set(j.id, s.endedGpuS.get(j.id) ?? 0);
  for (const l of leases) {
    const base = attainedGpuS.get(l.jobId) ?? s.endedGpuS.get(l.jobId) ?? 0;
    const run = l.startedAt == null ? 0 : (l.gpuIndices.length * Math.max(0, now - l.startedAt)) / 1000;
    attainedGpuS.set(l.jobId, base + run);
  }
  return attainedGpuS;
}

function setLease(s: ViewState, l: LeaseRecord): void {
  s.leases.set(l.id, l);
  let m = s.byNode.get(l.nodeId);
  if (!m) s.byNode.set(l.nodeId, (m = new Map<string, LeaseRecord>()));
  m.set(l.id, l);
}

function deleteLease(s: ViewState, l: LeaseRecord): void {
  s.leases.delete(l.id);
  const m = s.byNode.get(l.nodeId);
  m?.delete(l.id);
  if (m?.size === 0) s.byNode.delete(l.nodeId);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether two nodes agree on everything but liveness (an offline node's last heartbeat counts). */
function sameNode(a: Node, b: Node): boolean {
  const live = (n: Node): number | null | undefined => (n.state === "offline" ? n.lastHeartbeatAt : null);
  return live(a) === live(b) && sameValue({ ...a, lastHeartbeatAt: null }, { ...b, lastHeartbeatAt: null });
}

/** How many keys differ between two maps (present in one only, or not the same), yielding to other work every DIFF_SLICE entries. */
async function diffInSlices<T>(
  a: Map<string, T>,
  b: Map<string, T>,
  same: (x: T, y: T) => boolean,
): Promise<number> {
  let n = 0;
  let i = 0;
  for (const [id, x] of a) {
    const y = b.get(id);
    if (y === undefined || !same(x, y)) n++;
    if (++i % DIFF_SLICE === 0) await new Promise((r) => setImmediate(r));
  }
  for (const id of b.keys()) if (!a.has(id)) n++;
  return n;
}

/** Entries compared between yields in a reconcile (about 5 ms of work). */
const DIFF_SLICE = 1000;
