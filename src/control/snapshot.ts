import { waitsForCheckpoint } from "./checkpoint-copy.js";
import {
  approvedGpusOf,
  gpuCatalogue,
  inventoryPending,
  MAX_GPUS_PER_NODE,
  nodeGpuPowerW,
  type GpuCatalogue,
  type Node,
  type Price,
  type Site,
} from "../domain/index.js";
import { powerBudgetAt, valueAt, type HourlySeries } from "../energy/index.js";
import { loadGpuCatalogue } from "./gpu-models-service.js";
import { interruptiblePriceNow } from "./spot-price.js";
import type { LeaseView, NodeView, PendingJob, Snapshot } from "../scheduler/index.js";
import type { CheckpointRecord, Curtailment, GpuReservation, LeaseRecord, Store } from "../store/index.js";

/** The rows a scheduling cycle reads, each table once; every step of the cycle works on these. */
export interface CycleWorld {
  sites: Site[];
  /** Nodes by id (the cluster view's own records: read them, never change them). */
  nodes: ReadonlyMap<string, Node>;
  leases: LeaseRecord[];
  prices: Price[];
  jobs: Awaited<ReturnType<Store["jobs"]["pendingJobs"]>>;
  curtailments: Curtailment[];
  series: Awaited<ReturnType<Store["energy"]["series"]>>;
  /** Recently finished jobs' service, oldest first (the queue policy learns from it). */
  finishedService?: Snapshot["finishedService"];
  /** GPU-seconds each pending (requeued) or running job has held so far: the queue policy's attained service. */
  attainedGpuS?: Map<string, number>;
  /** GPUs held for preemptors while their victims vacate them. */
  reservations?: GpuReservation[];
  /** Where pending (requeued) jobs' checkpoints are: the scheduler prefers that site and node. */
  checkpoints?: CheckpointRecord[];
  /**
   * The newest checkpoint of jobs holding leases, by job id (others may be there too): a lease's
   * `savedAt` (what a preemption of it loses) when that lease wrote it.
   */
  checkpointOf?: ReadonlyMap<string, CheckpointRecord>;
  /** The GPU catalogue in force (built-in plus approved operator-defined models); built-in only when absent. */
  catalogue?: GpuCatalogue;
}

/** What the pure scheduler decides on, plus the lookups the commit step needs. */
export interface CycleSnapshot {
  snapshot: Snapshot;
  pending: PendingJob[];
  siteOperator: Map<string, string>;
  siteCountry: Map<string, string>;
  carbon: Map<string, HourlySeries>;
  /** "node:port" of every active gang's rendezvous (rank 0's node), so new gangs pick others. */
  gangPorts: Set<string>;
  /** Requeued jobs held back: their checkpoint's node is offline and they do not allow a fresh start. */
  waitingForCheckpoint?: { jobId: string; reason: string }[];
}

/** Reads the cycle's world: sites, nodes, active leases, prices, the queue, curtailments and series. */
export async function readWorld(store: Store, now: number): Promise<CycleWorld> {
  const [sites, nodes, leases, prices, jobs, curtailments, series, reservations, finishedService, catalogue] =
    await Promise.all([
      store.fleet.listSites(),
      store.fleet.listNodes(),
      store.jobs.activeLeases(),
      store.fleet.listPrices(),
      store.jobs.pendingJobs(),
      store.energy.curtailments({ activeAt: now }),
      store.energy.series(),
      store.checkpoints.reservations(now),
      store.jobs.finishedService(),
      loadGpuCatalogue(store),
    ]);
  const attainedGpuS = await store.jobs.attainedGpuS(
    [
      ...new Set([
        ...jobs.filter((j) => j.state === "preempted").map((j) => j.id),
        ...leases.map((l) => l.jobId),
      ]),
    ],
    now,
  );
  const preempted = new Set(jobs.filter((j) => j.state === "preempted").map((j) => j.id));
  const saved = await store.checkpoints.checkpointsFor([
    ...new Set([...preempted, ...leases.map((l) => l.jobId)]),
  ]);
  return {
    sites,
    checkpoints: saved.filter((c) => preempted.has(c.jobId)),
    checkpointOf: new Map(saved.map((c) => [c.jobId, c])),
    nodes: new Map(nodes.map((n) => [n.id, n])),
    leases,
    prices,
    jobs,
    curtailments,
    series,
    reservations,
    finishedService,
    attainedGpuS,
    catalogue,
  };
}

/** Reads the scheduler's view of the world from the store (one consistent-enough read per cycle). */
export async function readSnapshot(store: Store, now: number): Promise<CycleSnapshot> {
  return buildSnapshot(await readWorld(store, now), now);
}

/** Builds the scheduler's snapshot from the rows the cycle read (pure): the full-rebuild path. */
export function buildSnapshot(world: CycleWorld, now: number): CycleSnapshot {
  const { nodes, leases, jobs } = world;
  const attained = world.attainedGpuS ?? new Map<string, number>();
  const catalogue = world.catalogue ?? gpuCatalogue();
  const jobGpus = new Map<string, number>();
  for (const l of leases) jobGpus.set(l.jobId, (jobGpus.get(l.jobId) ?? 0) + l.gpuIndices.length);
  const sites = siteParts(world, now);
  const nodeList = [...nodes.values()];
  const snapshot: Snapshot = {
    sites: sites.sites,
    nodes: nodeList.flatMap((n) => nodeViewOf(n, catalogue) ?? []),
    leases: leases.map((l) =>
      leaseViewOf(
        l,
        world.attainedGpuS ? (attained.get(l.jobId) ?? 0) : undefined,
        jobGpus.get(l.jobId),
        savedAtOf(l, world.checkpointOf),
      ),
    ),
    ...(world.finishedService ? { finishedService: world.finishedService } : {}),
    reservations: reservationViews(world.reservations, jobs),
  };
  const nodeState = new Map(nodeList.map((n) => [n.id, n.state as string]));
  return {
    snapshot,
    ...pendingOf(
      jobs,
      world.checkpoints,
      (id) => nodeState.get(id),
      (id) => attained.get(id) ?? 0,
    ),
    siteOperator: sites.siteOperator,
    siteCountry: sites.siteCountry,
    carbon: sites.carbon,
    gangPorts: new Set(leases.filter((l) => l.gang?.rank === 0).map((l) => `${l.nodeId}:${l.gang!.port}`)),
  };
}

/** The sites' part of a snapshot at `now` (caps under curtailment, carbon and prices now) and its lookups. */
export function siteParts(
  world: Pick<CycleWorld, "sites" | "prices" | "curtailments" | "series" | "catalogue">,
  now: number,
): Pick<CycleSnapshot, "siteOperator" | "siteCountry" | "carbon"> & { sites: Snapshot["sites"] } {
  const { sites, prices, curtailments, series } = world;
  const catalogue = world.catalogue ?? gpuCatalogue();
  // A cap applies from its notice time: no new work is placed that would have to stop at its start.
  const capKw = (siteId: string, contracted: number): number =>
    powerBudgetAt(
      contracted,
      curtailments
        .filter((c) => c.siteId === siteId)
        .map((c) => ({ startMs: c.startMs - c.noticeS * 1000, endMs: c.endMs, maxKw: c.maxKw })),
      now,
    );
  const carbonNow = new Map(
    series.filter((x) => x.kind === "carbon").map((x) => [x.siteId, valueAt(x.series, now)]),
  );
  const powerPrice = new Map(series.filter((x) => x.kind === "price").map((x) => [x.siteId, x.series]));
  const priceMap = new Map<string, Snapshot["sites"][number]["prices"]>();
  for (const p of prices) {
    const m = priceMap.get(p.siteId) ?? {};
    // Interruptible capacity follows the power price (never below the operator's floor).
    const site = sites.find((x) => x.id === p.siteId);
    m[p.gpuModel] = {
      onDemandMinorPerGpuHour: p.onDemandMinorPerGpuHour,
      interruptibleMinorPerGpuHour: interruptiblePriceNow(
        p,
        site,
        powerPrice.get(p.siteId),
        now,
        catalogue.find,
      ),
    };
    priceMap.set(p.siteId, m);
  }
  return {
    sites: sites.map((s) => ({
      id: s.id,
      name: s.name,
      country: s.country,
      pue: s.pue,
      powerCapKw: capKw(s.id, s.powerKw),
      nodeOverheadW: s.nodeOverheadW,
      ...(carbonNow.has(s.id)
        ? { carbonGPerKwh: carbonNow.get(s.id)! }
        : s.carbonGPerKwh != null
          ? { carbonGPerKwh: s.carbonGPerKwh }
          : {}),
      prices: priceMap.get(s.id) ?? {},
      ...(s.defaultImage ? { defaultImage: s.defaultImage } : {}),
      ...(s.allowImages?.length ? { allowImages: s.allowImages } : {}),
      ...(s.denyImages?.length ? { denyImages: s.denyImages } : {}),
    })),
    siteOperator: new Map(sites.map((s) => [s.id, s.operatorId])),
    siteCountry: new Map(sites.map((s) => [s.id, s.country])),
    carbon: new Map(series.filter((x) => x.kind === "carbon").map((x) => [x.siteId, x.series])),
  };
}

/**
 * A node as placement sees it, or undefined when it takes no part: placement sees approved inventory
 * only, so a node whose reported GPUs await approval (or with none) is left out.
 */
export function nodeViewOf(n: Node, catalogue: GpuCatalogue): NodeView | undefined {
  const gpus = approvedGpusOf(n);
  if (gpus.length === 0 || gpus.length > MAX_GPUS_PER_NODE) return undefined;
  const model = gpus[0]!.model;
  const cat = catalogue.find(model);
  return {
    id: n.id,
    siteId: n.siteId,
    gpuModel: model,
    gpuMemoryGb: cat?.memoryGb ?? Math.round(gpus[0]!.memoryMb / 1024),
    gpuIndices: gpus.filter((g) => g.healthy).map((g) => g.index),
    gpuPowerW: nodeGpuPowerW({ gpus }, catalogue.find),
    schedulable: n.state === "ready" && !inventoryPending(n),
    // An agent that predates the runtime advertisement: Kubernetes and podman run images.
    runsImages: n.runtime?.images ?? (n.executor === "kubernetes" || n.executor === "podman"),
    ...(n.cluster?.fabric ? { fabric: n.cluster.fabric } : {}),
    ...(n.cluster?.switchGroup ? { switchGroup: n.cluster.switchGroup } : {}),
  };
}

/** When the lease last saved its job's work: the job's newest checkpoint, if this lease wrote it. */
export function savedAtOf(
  l: LeaseRecord,
  checkpointOf: ReadonlyMap<string, CheckpointRecord> | undefined,
): number | undefined {
  const c = checkpointOf?.get(l.jobId);
  return c && c.leaseId === l.id ? c.savedAt : undefined;
}

/**
 * A lease as the scheduler sees it; `attainedGpuS` is its job's service so far (absent: unknown),
 * `savedAt` when this lease last checkpointed it.
 */
export function leaseViewOf(
  l: LeaseRecord,
  attainedGpuS: number | undefined,
  jobGpus: number | undefined,
  savedAt?: number,
): LeaseView {
  return {
    id: l.id,
    jobId: l.jobId,
    tenantId: l.tenantId,
    nodeId: l.nodeId,
    siteId: l.siteId,
    gpuIndices: l.gpuIndices,
    class: l.class,
    priceMinorPerGpuHour: l.priceMinorPerGpuHour,
    startedAt: l.startedAt ?? l.createdAt,
    stopping: l.state === "stopping",
    ...(attainedGpuS !== undefined ? { attainedGpuS } : {}),
    jobGpus: jobGpus ?? l.gpuIndices.length,
    ...(savedAt !== undefined ? { savedAt } : {}),
  };
}

/** GPUs held for pending preemptors (a claim whose job is no longer pending holds nothing). */
export function reservationViews(
  reservations: GpuReservation[] | undefined,
  jobs: CycleWorld["jobs"],
): NonNullable<Snapshot["reservations"]> {
  if (!reservations?.length) return [];
  const queued = new Set(jobs.map((j) => j.id));
  return reservations
    .filter((r) => queued.has(r.jobId))
    .map((r) => ({ jobId: r.jobId, nodeId: r.nodeId, gpuIndices: r.gpuIndices }));
}

/** The queue as the scheduler sees it, less requeued jobs held back for their checkpoint's offline node. */
export function pendingOf(
  jobs: CycleWorld["jobs"],
  checkpoints: CheckpointRecord[] | undefined,
  nodeState: (nodeId: string) => string | undefined,
  attained: (jobId: string) => number,
): Pick<CycleSnapshot, "pending" | "waitingForCheckpoint"> {
  const checkpointOf = new Map((checkpoints ?? []).map((c) => [c.jobId, c]));
  const waitingForCheckpoint: { jobId: string; reason: string }[] = [];
  const placeable = jobs.filter((j) => {
    const c = checkpointOf.get(j.id);
    if (!waitsForCheckpoint(j, c, nodeState)) return true;
    waitingForCheckpoint.push({
      jobId: j.id,
      reason: `its checkpoint is on node ${c!.nodeId}, which is offline; it waits for that node (submit with freshIfCheckpointLost to start from an empty folder instead)`,
    });
    return false;
  });
  const pending: PendingJob[] = placeable.map((j) => {
    const c = checkpointOf.get(j.id);
    return {
      id: j.id,
      tenantId: j.tenantId,
      submittedAt: j.submittedAt,
      request: j.spec.image ? { ...j.request, image: j.spec.image } : j.request,
      attainedGpuS: attained(j.id),
      ...(c ? { checkpoint: { siteId: c.siteId, nodeId: c.nodeId } } : {}),
    };
  });
  return { pending, ...(waitingForCheckpoint.length > 0 ? { waitingForCheckpoint } : {}) };
}
