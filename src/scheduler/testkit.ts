import { findGpuModel } from "../domain/index.js";
import type { JobClass, JobRequest, Jurisdiction } from "../domain/index.js";
import type { LeaseView, NodeView, PendingJob, ReservationView, SiteView, Snapshot } from "./types.js";

/** Options of a node in the testkit. */
export interface NodeOpts {
  powerW?: number;
  memoryGb?: number;
  draining?: boolean;
  /** The node's executor runs container images (podman, Kubernetes). */
  images?: boolean;
  /** Cluster-network fabric label. */
  fabric?: string;
  /** Switch group on the fabric. */
  switchGroup?: string;
}

/** Fluent builder of one site and its nodes: `site("asturias").node("n1").gpus("H100", 8)`. */
export class SiteBuilder {
  readonly view: SiteView;
  readonly nodes: NodeView[] = [];
  constructor(id: string) {
    this.view = {
      id,
      name: id,
      country: "ES",
      pue: 1.2,
      powerCapKw: 1_000_000,
      nodeOverheadW: 0,
      prices: {},
    };
  }
  /** ISO country code. */
  country(c: string): this {
    this.view.country = c;
    return this;
  }
  /** Power usage effectiveness. */
  pue(p: number): this {
    this.view.pue = p;
    return this;
  }
  /** Facility power cap, kW. */
  capKw(kw: number): this {
    this.view.powerCapKw = kw;
    return this;
  }
  /** Per-node overhead, W. */
  overheadW(w: number): this {
    this.view.nodeOverheadW = w;
    return this;
  }
  /** Grid carbon intensity now. */
  carbon(g: number): this {
    this.view.carbonGPerKwh = g;
    return this;
  }
  /** Prices in minor units per GPU-hour. */
  price(model: string, onDemand: number, interruptible = Math.floor(onDemand / 2)): this {
    this.view.prices[model] = {
      onDemandMinorPerGpuHour: onDemand,
      interruptibleMinorPerGpuHour: interruptible,
    };
    return this;
  }
  /** Default image for jobs that name none. */
  defaultImage(ref: string): this {
    this.view.defaultImage = ref;
    return this;
  }
  /** Image allowlist (glob patterns). */
  allowImages(...patterns: string[]): this {
    this.view.allowImages = patterns;
    return this;
  }
  /** Image denylist (glob patterns). */
  denyImages(...patterns: string[]): this {
    this.view.denyImages = patterns;
    return this;
  }
  /** Starts a node; finish it with `.gpus(model, n)`. */
  node(id: string): { gpus: (model: string, n: number, opts?: NodeOpts) => SiteBuilder } {
    return {
      gpus: (model: string, n: number, opts: NodeOpts = {}) => {
        const m = findGpuModel(model);
        this.nodes.push({
          id,
          siteId: this.view.id,
          gpuModel: model,
          gpuMemoryGb: opts.memoryGb ?? m?.memoryGb ?? 80,
          gpuIndices: Array.from({ length: n }, (_, i) => i),
          gpuPowerW: opts.powerW ?? m?.tdpW ?? 700,
          schedulable: !opts.draining,
          ...(opts.images !== undefined ? { runsImages: opts.images } : {}),
          ...(opts.fabric !== undefined ? { fabric: opts.fabric } : {}),
          ...(opts.switchGroup !== undefined ? { switchGroup: opts.switchGroup } : {}),
        });
        if (!this.view.prices[model]) this.price(model, 200, 100);
        return this;
      },
    };
  }
}

/** Starts a site builder. */
export function site(id: string): SiteBuilder {
  return new SiteBuilder(id);
}

/** Options of a lease in the testkit. */
export interface LeaseOpts {
  class?: JobClass;
  tenant?: string;
  startedAt?: number;
  stopping?: boolean;
  price?: number;
  /** When the lease last checkpointed its job (epoch ms). */
  savedAt?: number;
}

/** Builder of a snapshot from sites, leases and usage. */
export class SnapshotBuilder {
  private leases: LeaseView[] = [];
  private usage: Record<string, number> = {};
  private held: ReservationView[] = [];
  constructor(private readonly sites: SiteBuilder[]) {}
  /** Holds `gpus` of `nodeId` for `jobId` (the job preempted their last holder). */
  reserve(jobId: string, nodeId: string, gpus: number[]): this {
    this.held.push({ jobId, nodeId, gpuIndices: gpus });
    return this;
  }
  /** Adds a lease of `gpus` on `nodeId`. */
  lease(jobId: string, nodeId: string, gpus: number[], opts: LeaseOpts = {}): this {
    const s = this.sites.find((x) => x.nodes.some((n) => n.id === nodeId));
    if (!s) throw new Error(`testkit: no node ${nodeId}`);
    this.leases.push({
      id: `lease-${jobId}-${nodeId}`,
      jobId,
      tenantId: opts.tenant ?? "t1",
      nodeId,
      siteId: s.view.id,
      gpuIndices: gpus,
      class: opts.class ?? "on-demand",
      priceMinorPerGpuHour: opts.price ?? 200,
      startedAt: opts.startedAt ?? 0,
      stopping: opts.stopping,
      ...(opts.savedAt !== undefined ? { savedAt: opts.savedAt } : {}),
    });
    return this;
  }
  /** Sets a tenant's attained GPU-seconds. */
  used(tenant: string, gpuS: number): this {
    this.usage[tenant] = gpuS;
    return this;
  }
  /** The snapshot. */
  build(): Snapshot {
    return {
      sites: this.sites.map((s) => ({
        ...s.view,
        prices: { ...s.view.prices },
        ...(s.view.allowImages ? { allowImages: [...s.view.allowImages] } : {}),
        ...(s.view.denyImages ? { denyImages: [...s.view.denyImages] } : {}),
      })),
      nodes: this.sites.flatMap((s) => s.nodes.map((n) => ({ ...n, gpuIndices: [...n.gpuIndices] }))),
      leases: this.leases.map((l) => ({ ...l })),
      tenantUsageGpuS: { ...this.usage },
      ...(this.held.length
        ? { reservations: this.held.map((r) => ({ ...r, gpuIndices: [...r.gpuIndices] })) }
        : {}),
    };
  }
}

/** Starts a snapshot builder over sites. */
export function snapshot(...sites: SiteBuilder[]): SnapshotBuilder {
  return new SnapshotBuilder(sites);
}

/** Builder of a pending job: `job("j1").gpus(8).model("H100").eu()`. */
export class JobBuilder {
  private r: JobRequest = { gpuModels: ["H100"], gpus: 1, class: "on-demand" };
  private tenant = "t1";
  private at = 0;
  private ckpt: PendingJob["checkpoint"];
  constructor(private readonly id: string) {}
  /** Requeued with its checkpoint on this node of this site. */
  checkpointAt(siteId: string, nodeId: string): this {
    this.ckpt = { siteId, nodeId };
    return this;
  }
  /** Gang size. */
  gpus(n: number): this {
    this.r.gpus = n;
    return this;
  }
  /** Acceptable models in preference order. */
  model(...m: string[]): this {
    this.r.gpuModels = m;
    return this;
  }
  /** GPUs per node of a multi-node gang. */
  perNode(k: number): this {
    this.r.gpusPerNode = k;
    return this;
  }
  /** Interruptible class. */
  interruptible(): this {
    this.r.class = "interruptible";
    return this;
  }
  /** Price cap, minor units per GPU-hour. */
  maxPrice(p: number): this {
    this.r.maxPriceMinorPerGpuHour = p;
    return this;
  }
  /** Jurisdiction. */
  within(j: Jurisdiction): this {
    this.r.jurisdiction = j;
    return this;
  }
  /** Allowed countries. */
  countries(...c: string[]): this {
    this.r.countries = c;
    return this;
  }
  /** Minimum GPU memory. */
  memory(gb: number): this {
    this.r.minGpuMemoryGb = gb;
    return this;
  }
  /** Carbon cap. */
  carbonCap(g: number): this {
    this.r.maxCarbonGPerKwh = g;
    return this;
  }
  /** Container image the job names. */
  image(ref: string): this {
    this.r.image = ref;
    return this;
  }
  /** Cluster-network fabric every node must be on. */
  fabric(f: string): this {
    this.r.fabric = f;
    return this;
  }
  /** Tenant. */
  of(tenant: string): this {
    this.tenant = tenant;
    return this;
  }
  /** Submit time. */
  submitted(t: number): this {
    this.at = t;
    return this;
  }
  /** The pending job. */
  build(): PendingJob {
    return {
      id: this.id,
      tenantId: this.tenant,
      submittedAt: this.at,
      request: { ...this.r, gpuModels: [...this.r.gpuModels] },
      ...(this.ckpt ? { checkpoint: { ...this.ckpt } } : {}),
    };
  }
}

/** Starts a job builder. */
export function job(id: string): JobBuilder {
  return new JobBuilder(id);
}
