import type { DataLocation, StorageOfferView, VolumeView } from "../contract/index.js";
import type { JobVolume, Site } from "../domain/index.js";
import {
  conflict,
  DomainError,
  formatBytes,
  GB,
  invalid,
  MAX_JOB_VOLUMES,
  mountPathProblem,
  notFound,
  TERMINAL_JOB_STATES,
  volumeNameProblem,
  type VolumeMountRequest,
} from "../domain/index.js";
import type { StorageOffer, VolumeRecord } from "../store/index.js";
import { ownerOf, requireRole, type Ctx, type Principal } from "./context.js";

/** Default most bytes of volumes one tenant may hold (1 TB). */
export const DEFAULT_VOLUME_QUOTA_BYTES = 1000 * GB;
/** Largest storage capacity one site may offer (1 EB keeps every sum a safe integer). */
const MAX_CAPACITY_BYTES = 1e18;
/** Smallest volume (1 MB). */
const MIN_VOLUME_BYTES = 1_000_000;

/** Storage offers (operators) and volumes (tenants): create, list, delete, locations. */
export class VolumesService {
  constructor(private readonly ctx: Ctx) {}

  private async site(siteId: string): Promise<Site | undefined> {
    return this.ctx.store.fleet.getSite(siteId);
  }

  /** Offers storage at a site (operator of the site, or admin); replaces an earlier offer. */
  async offer(
    p: Principal,
    siteId: string,
    o: { path: string; capacityBytes: number; priceMinorPerGbMonth: number },
  ): Promise<StorageOfferView> {
    requireRole(p, "operator", "admin");
    const site = await this.site(siteId);
    if (!site || (p.role === "operator" && site.operatorId !== p.ownerId)) throw notFound("site", siteId);
    if (!o.path.startsWith("/") || o.path.split("/").includes("..") || o.path === "/")
      throw invalid(
        `path "${o.path}": give the absolute folder the storage is mounted at on the site's nodes, e.g. /srv/zumbido-volumes (not /)`,
        { field: "path" },
      );
    if (
      !Number.isSafeInteger(o.capacityBytes) ||
      o.capacityBytes < GB ||
      o.capacityBytes > MAX_CAPACITY_BYTES
    )
      throw invalid(`capacity ${o.capacityBytes} bytes: offer between 1 GB and 1 EB, e.g. 10TB`, {
        field: "capacityBytes",
      });
    if (
      !Number.isSafeInteger(o.priceMinorPerGbMonth) ||
      o.priceMinorPerGbMonth < 0 ||
      o.priceMinorPerGbMonth > 1_000_000
    )
      throw invalid(
        `price ${o.priceMinorPerGbMonth}: give whole minor units per GB-month between 0 and 1000000, e.g. 2 for 0.02 ${this.ctx.config.currency}`,
        { field: "priceMinorPerGbMonth" },
      );
    const taken = await this.ctx.store.volumes.liveSizeBytes({ siteId });
    if (o.capacityBytes < taken)
      throw conflict(
        `site ${siteId} already holds ${formatBytes(taken)} of volumes; offer at least that much (delete volumes first to offer less)`,
      );
    const now = this.ctx.clock.now();
    const before = await this.ctx.store.volumes.getOffer(siteId);
    const saved = await this.ctx.store.volumes.putOffer({
      siteId,
      operatorId: site.operatorId,
      path: o.path,
      capacityBytes: o.capacityBytes,
      priceMinorPerGbMonth: o.priceMinorPerGbMonth,
      currency: this.ctx.config.currency,
      createdAt: before?.createdAt ?? now,
      updatedAt: now,
    });
    return this.offerView(saved, site, true);
  }

  private async offerView(
    o: StorageOffer,
    site: Site | undefined,
    withPath: boolean,
  ): Promise<StorageOfferView> {
    const taken = await this.ctx.store.volumes.liveSizeBytes({ siteId: o.siteId });
    return {
      siteId: o.siteId,
      siteName: site?.name ?? o.siteId,
      country: site?.country ?? "",
      ...(withPath ? { path: o.path } : {}),
      capacityBytes: o.capacityBytes,
      freeBytes: Math.max(0, o.capacityBytes - taken),
      priceMinorPerGbMonth: o.priceMinorPerGbMonth,
      currency: o.currency,
      updatedAt: o.updatedAt,
    };
  }

  /** Storage offers: an operator's own (with paths); everyone else sees every offer without paths. */
  async offers(p: Principal): Promise<StorageOfferView[]> {
    const own = p.role === "operator" ? ownerOf(p) : undefined;
    const list = await this.ctx.store.volumes.listOffers(own);
    const out: StorageOfferView[] = [];
    for (const o of list) out.push(await this.offerView(o, await this.site(o.siteId), p.role !== "tenant"));
    return out;
  }

  /** Creates a volume at a site with a storage offer, within the site's capacity and the tenant's quota. */
  async create(
    p: Principal,
    input: { name: string; siteId: string; sizeBytes: number },
  ): Promise<VolumeView> {
    requireRole(p, "tenant");
    const tenantId = ownerOf(p);
    const bad = volumeNameProblem(input.name);
    if (bad) throw invalid(bad, { field: "name" });
    const site = await this.site(input.siteId);
    const offer = site && (await this.ctx.store.volumes.getOffer(site.id));
    if (!site || !offer)
      throw invalid(
        `site ${input.siteId} offers no storage; \`zumbido volumes sites\` lists the sites that do`,
        { field: "siteId" },
      );
    if (!Number.isSafeInteger(input.sizeBytes) || input.sizeBytes < MIN_VOLUME_BYTES)
      throw invalid(`size ${input.sizeBytes} bytes: a volume is at least 1 MB, e.g. --size 10GB`, {
        field: "sizeBytes",
      });
    const free = offer.capacityBytes - (await this.ctx.store.volumes.liveSizeBytes({ siteId: site.id }));
    if (input.sizeBytes > free)
      throw conflict(
        `site ${site.id} has ${formatBytes(Math.max(0, free))} of storage free; ask for less than ${formatBytes(input.sizeBytes)} or choose another site`,
      );
    const quota = this.ctx.config.volumeQuotaBytes ?? DEFAULT_VOLUME_QUOTA_BYTES;
    const held = await this.ctx.store.volumes.liveSizeBytes({ tenantId });
    if (held + input.sizeBytes > quota)
      throw new DomainError(
        "conflict",
        `volume quota: your volumes hold ${formatBytes(held)} of your ${formatBytes(quota)}; a ${formatBytes(input.sizeBytes)} volume does not fit (delete a volume or ask for less)`,
        { quotaBytes: quota, heldBytes: held },
      );
    const now = this.ctx.clock.now();
    const v: VolumeRecord = {
      id: this.ctx.ids("vol"),
      tenantId,
      name: input.name,
      siteId: site.id,
      operatorId: site.operatorId,
      country: site.country,
      sizeBytes: input.sizeBytes,
      usedBytes: 0,
      priceMinorPerGbMonth: offer.priceMinorPerGbMonth,
      state: "ready",
      createdAt: now,
      deletedAt: null,
      billedUntil: now,
    };
    if (!(await this.ctx.store.volumes.createVolume(v)))
      throw conflict(`you already have a volume named ${input.name}; choose another name or delete it first`);
    return this.view(v, site);
  }

  /** The tenant's volume by id or name (admins: any by id); others get 404. */
  async visible(p: Principal, idOrName: string, opts: { withDeleted?: boolean } = {}): Promise<VolumeRecord> {
    requireRole(p, "tenant", "admin");
    let v = await this.ctx.store.volumes.getVolume(idOrName);
    if (!v && p.role === "tenant") v = await this.ctx.store.volumes.liveByName(ownerOf(p), idOrName);
    if (
      !v ||
      (p.role === "tenant" && v.tenantId !== p.ownerId) ||
      (v.state === "deleted" && !opts.withDeleted)
    )
      throw notFound("volume", idOrName);
    return v;
  }

  /** A volume with its locations. */
  async get(p: Principal, idOrName: string): Promise<VolumeView> {
    const v = await this.visible(p, idOrName, { withDeleted: true });
    return this.view(v, await this.site(v.siteId));
  }

  /** The tenant's live volumes (admins: every tenant's). */
  async list(p: Principal): Promise<VolumeView[]> {
    requireRole(p, "tenant", "admin");
    const rows = await this.ctx.store.volumes.listVolumes(
      p.role === "tenant" ? { tenantId: ownerOf(p) } : {},
    );
    const sites = new Map<string, Site | undefined>();
    const out: VolumeView[] = [];
    for (const v of rows) {
      if (!sites.has(v.siteId)) sites.set(v.siteId, await this.site(v.siteId));
      out.push(this.view(v, sites.get(v.siteId)));
    }
    return out;
  }

  /** Deletes a volume and its bytes; refused while a job that mounts it has not ended. */
  async delete(p: Principal, idOrName: string): Promise<VolumeView> {
    const v = await this.visible(p, idOrName);
    const users = (await this.ctx.store.jobs.listJobs({ tenantId: v.tenantId, limit: 10_000 })).filter(
      (j) => !TERMINAL_JOB_STATES.has(j.state) && (j.spec.volumes ?? []).some((m) => m.volumeId === v.id),
    );
    if (users.length > 0)
      throw conflict(
        `volume ${v.name} is mounted by job ${users[0]!.id} (${users[0]!.state}); cancel it or wait for it to end, then delete`,
        { jobs: users.map((j) => j.id) },
      );
    const now = this.ctx.clock.now();
    for (const t of await this.ctx.store.volumes.openTransfers({ volumeId: v.id }))
      await this.ctx.store.volumes.updateTransfer(
        t.id,
        { state: "failed", reason: "the volume was deleted" },
        now,
      );
    await this.ctx.store.volumes.markDeleted(v.id, now);
    // The bytes are removed by a node of the site (it holds the storage); the relay tells it.
    const node = await pickStorageNode(this.ctx, v.siteId);
    if (node)
      await this.ctx.store.volumes.createTransfer({
        id: this.ctx.ids("vxf"),
        volumeId: v.id,
        tenantId: v.tenantId,
        nodeId: node,
        direction: "delete",
        path: ".",
        sizeBytes: null,
        sha256: null,
        state: "open",
        receivedBytes: 0,
        deliveredBytes: 0,
        reason: null,
        createdAt: now,
        updatedAt: now,
      });
    return this.view({ ...v, state: "deleted", deletedAt: now }, await this.site(v.siteId));
  }

  /**
   * Resolves a job's `--volume` requests to the tenant's volumes: each exists, mount paths are valid
   * and distinct, all volumes are at one site, and that site passes the job's jurisdiction and
   * countries. Returns the mounts and the site the job is pinned to.
   */
  async forJob(
    tenantId: string,
    mounts: VolumeMountRequest[],
    request: { jurisdiction?: string; countries?: string[] },
    inJurisdiction: (country: string) => boolean,
  ): Promise<{ volumes: JobVolume[]; siteId: string } | undefined> {
    if (mounts.length === 0) return undefined;
    if (mounts.length > MAX_JOB_VOLUMES) throw invalid(`a job mounts at most ${MAX_JOB_VOLUMES} volumes`);
    const volumes: JobVolume[] = [];
    const sites = new Set<string>();
    const paths = new Set<string>();
    for (const m of mounts) {
      const bad = mountPathProblem(m.mountPath);
      if (bad) throw invalid(bad, { field: "volumes" });
      if (paths.has(m.mountPath))
        throw invalid(`two volumes are mounted at ${m.mountPath}`, { field: "volumes" });
      paths.add(m.mountPath);
      const v = await this.ctx.store.volumes.liveByName(tenantId, m.name);
      if (!v)
        throw invalid(`no volume named ${m.name}; \`zumbido volumes list\` shows yours`, {
          field: "volumes",
        });
      sites.add(v.siteId);
      if (!inJurisdiction(v.country))
        throw invalid(
          `volume ${v.name} is at site ${v.siteId} in ${v.country}, outside the job's ${request.jurisdiction ?? request.countries?.join(",") ?? ""}: its bytes never leave their site, so the job could never run`,
          { field: "volumes" },
        );
      volumes.push({ volumeId: v.id, name: v.name, mountPath: m.mountPath, readOnly: m.readOnly });
    }
    if (sites.size > 1)
      throw invalid(
        `the volumes are at different sites (${[...sites].join(", ")}); a job runs at one site, so mount volumes of one site`,
        { field: "volumes" },
      );
    return { volumes, siteId: [...sites][0]! };
  }

  private view(v: VolumeRecord, site: Site | undefined): VolumeView {
    const siteName = site?.name ?? v.siteId;
    return {
      id: v.id,
      tenantId: v.tenantId,
      name: v.name,
      siteId: v.siteId,
      siteName,
      country: v.country,
      sizeBytes: v.sizeBytes,
      usedBytes: v.usedBytes,
      priceMinorPerGbMonth: v.priceMinorPerGbMonth,
      currency: this.ctx.config.currency,
      state: v.state,
      createdAt: v.createdAt,
      deletedAt: v.deletedAt,
      locations: [volumeLocation(v, siteName)],
    };
  }
}

/** The one place a volume's bytes live. */
export function volumeLocation(v: VolumeRecord, siteName: string): DataLocation {
  return {
    kind: "volume",
    siteId: v.siteId,
    siteName,
    country: v.country,
    volume: v.name,
    from: v.createdAt,
    to: v.deletedAt,
  };
}

/** The node of a site that serves its storage: a ready one, most recently heard from. */
export async function pickStorageNode(ctx: Ctx, siteId: string): Promise<string | undefined> {
  const nodes = (await ctx.store.fleet.listNodes([siteId])).filter((n) => n.state !== "offline");
  nodes.sort((a, b) => (b.lastHeartbeatAt ?? 0) - (a.lastHeartbeatAt ?? 0) || a.id.localeCompare(b.id));
  return nodes[0]?.id;
}
