import { randomBytes } from "node:crypto";
import type { Cooling, Gpu, Node, NodeCluster, NodeRuntime, Price, Site } from "../domain/index.js";
import {
  approvedGpusOf,
  DomainError,
  inventoryHold,
  inventoryPending,
  imageRefusal,
  inJurisdiction,
  invalid,
  isKnownCountry,
  notFound,
} from "../domain/index.js";
import { valueAt } from "../energy/index.js";
import type { CapacityOffer } from "../contract/index.js";
import { ownerOf, requireRole, type Ctx, type Principal } from "./context.js";
import { loadGpuCatalogue, resolveReportedGpus } from "./gpu-models-service.js";
import { interruptiblePriceNow } from "./spot-price.js";

export type { CapacityOffer };

/** Input to register a site. */
export interface SiteInput {
  name: string;
  country: string;
  lat: number;
  lon: number;
  powerKw: number;
  pue: number;
  cooling: Cooling;
  nodeOverheadW?: number;
  carbonGPerKwh?: number | null;
  /** Admin only: register the site for this operator. */
  operatorId?: string;
  /** Image for jobs that name none (null clears it). */
  defaultImage?: string | null;
  /** Only images matching one of these globs run here (empty: any image not denied). */
  allowImages?: string[];
  /** Images matching one of these globs never run here. */
  denyImages?: string[];
  /** Jobs that ask for network get it. */
  allowNetwork?: boolean;
}

/** Sites, prices, enrolment and nodes, with ownership checks. */
export class FleetService {
  constructor(private readonly ctx: Ctx) {}

  private async ownSite(p: Principal, siteId: string): Promise<Site> {
    const site = await this.ctx.store.fleet.getSite(siteId);
    if (!site) throw notFound("site", siteId);
    if (p.role === "admin") return site;
    if (p.role === "operator" && site.operatorId === p.ownerId) return site;
    if (p.role === "operator")
      throw new DomainError("forbidden", `site ${siteId} belongs to another operator`);
    throw new DomainError("forbidden", `only the site's operator or an admin may change site ${siteId}`);
  }

  async createSite(p: Principal, input: SiteInput): Promise<Site> {
    requireRole(p, "operator", "admin");
    const operatorId = p.role === "admin" ? input.operatorId : ownerOf(p);
    if (!operatorId) throw invalid("an admin must name the operator: set operatorId");
    if (!(await this.ctx.store.accounts.getOperator(operatorId))) throw notFound("operator", operatorId);
    checkSite(input);
    const site: Site = {
      id: this.ctx.ids("site"),
      operatorId,
      name: input.name,
      country: input.country,
      lat: input.lat,
      lon: input.lon,
      powerKw: input.powerKw,
      pue: input.pue,
      cooling: input.cooling,
      nodeOverheadW: input.nodeOverheadW ?? 500,
      carbonGPerKwh: input.carbonGPerKwh ?? null,
      createdAt: this.ctx.clock.now(),
      defaultImage: input.defaultImage ?? null,
      allowImages: input.allowImages ?? [],
      denyImages: input.denyImages ?? [],
      allowNetwork: input.allowNetwork ?? false,
    };
    checkImagePolicy(site);
    return this.ctx.store.fleet.createSite(site);
  }

  async updateSite(p: Principal, siteId: string, patch: Partial<SiteInput>): Promise<Site> {
    const site = await this.ownSite(p, siteId);
    checkSite({ ...site, ...patch });
    checkImagePolicy({ ...site, ...patch });
    await this.ctx.store.fleet.updateSite(siteId, patch);
    this.ctx.nudge();
    return (await this.ctx.store.fleet.getSite(siteId))!;
  }

  /** Sites visible to the caller: operators see their own, everyone else sees all (the marketplace). */
  async listSites(p: Principal): Promise<Site[]> {
    return this.ctx.store.fleet.listSites(p.role === "operator" ? ownerOf(p) : undefined);
  }

  async getSite(p: Principal, siteId: string): Promise<Site> {
    const site = await this.ctx.store.fleet.getSite(siteId);
    if (!site || (p.role === "operator" && site.operatorId !== p.ownerId)) throw notFound("site", siteId);
    return site;
  }

  async setPrice(
    p: Principal,
    siteId: string,
    gpuModel: string,
    onDemand: number,
    interruptible: number,
  ): Promise<Price> {
    await this.ownSite(p, siteId);
    const model = (await loadGpuCatalogue(this.ctx.store)).find(gpuModel);
    if (!model)
      throw invalid(
        `unknown GPU model "${gpuModel}": see GET /v1/gpu-models; a model not there is proposed with POST /v1/gpu-models and sold once an admin approves it`,
        { field: "gpuModel" },
      );
    if (interruptible > onDemand)
      throw invalid("the interruptible floor must not exceed the on-demand price", {
        field: "interruptibleMinorPerGpuHour",
      });
    const price = await this.ctx.store.fleet.setPrice(
      {
        siteId,
        gpuModel: model.id,
        onDemandMinorPerGpuHour: onDemand,
        interruptibleMinorPerGpuHour: interruptible,
      },
      this.ctx.clock.now(),
    );
    this.ctx.nudge();
    return price;
  }

  async listPrices(p: Principal, siteId?: string): Promise<Price[]> {
    if (siteId) await this.getSite(p, siteId);
    const prices = await this.ctx.store.fleet.listPrices(siteId);
    if (p.role !== "operator") return prices;
    const own = new Set((await this.listSites(p)).map((s) => s.id));
    return prices.filter((x) => own.has(x.siteId));
  }

  /** A one-time token an agent trades for a node credential. */
  async createEnrolmentToken(
    p: Principal,
    siteId: string,
  ): Promise<{ token: string; siteId: string; expiresAt: number }> {
    await this.ownSite(p, siteId);
    const token = `zet_${randomBytes(18).toString("base64url")}`;
    const now = this.ctx.clock.now();
    const expiresAt = now + this.ctx.config.enrolmentTokenTtlMs;
    await this.ctx.store.fleet.createEnrolmentToken(siteId, token, now, expiresAt);
    return { token, siteId, expiresAt };
  }

  /** An agent trades its token for a node id and a node key (shown once). */
  async enrol(input: {
    token: string;
    name: string;
    gpus: Gpu[];
    executor: Node["executor"];
    driverVersion?: string | null;
    runtime?: NodeRuntime;
    cluster?: NodeCluster;
  }): Promise<{
    nodeId: string;
    siteId: string;
    key: string;
  }> {
    const nodeId = this.ctx.ids("node");
    const now = this.ctx.clock.now();
    const r = await this.ctx.store.fleet.consumeEnrolmentToken(
      input.token,
      {
        id: nodeId,
        name: input.name,
        state: "ready",
        stateReason: null,
        executor: input.runtime?.executor ?? input.executor,
        // A card the built-in catalogue lacks is named after an approved operator-defined model.
        gpus: resolveReportedGpus(input.gpus, await loadGpuCatalogue(this.ctx.store)),
        driverVersion: input.driverVersion ?? null,
        runtime: input.runtime ?? null,
        cluster: input.cluster ?? null,
      },
      now,
    );
    if (!r.ok) throw new DomainError("unauthorized", r.reason);
    const { key } = await this.ctx.store.accounts.createKey({
      id: this.ctx.ids("key"),
      role: "node",
      ownerId: nodeId,
      name: `node ${input.name}`,
      now,
    });
    this.ctx.nudge();
    return { nodeId, siteId: r.siteId, key };
  }

  async listNodes(p: Principal, siteId?: string): Promise<Node[]> {
    requireRole(p, "operator", "admin");
    if (siteId) await this.ownSite(p, siteId);
    const siteIds = siteId
      ? [siteId]
      : p.role === "operator"
        ? (await this.listSites(p)).map((s) => s.id)
        : undefined;
    return (await this.ctx.store.fleet.listNodes(siteIds)).map(withHold);
  }

  async getNode(p: Principal, nodeId: string): Promise<Node> {
    const node = await this.ctx.store.fleet.getNode(nodeId);
    if (!node) throw notFound("node", nodeId);
    if (p.role === "node" && p.ownerId === nodeId) return withHold(node);
    requireRole(p, "operator", "admin");
    const site = await this.ctx.store.fleet.getSite(node.siteId);
    if (p.role === "operator" && site?.operatorId !== p.ownerId) throw notFound("node", nodeId);
    return withHold(node);
  }

  /** What the marketplace offers now: per site and model, free GPUs and the prices a new lease pays. */
  async capacity(p: Principal): Promise<CapacityOffer[]> {
    requireRole(p, "tenant", "operator", "admin");
    const store = this.ctx.store;
    const [sites, nodes, leases, prices, series, catalogue] = await Promise.all([
      store.fleet.listSites(),
      store.fleet.listNodes(),
      store.jobs.activeLeases(),
      store.fleet.listPrices(),
      store.energy.series(),
      loadGpuCatalogue(store),
    ]);
    const now = this.ctx.clock.now();
    // Carbon now: the site's hourly series where it has one, else its declared figure.
    const carbonNow = new Map(
      series
        .filter((x) => x.kind === "carbon")
        .map((x) => [x.siteId, Math.round(valueAt(x.series, now) * 10) / 10]),
    );
    const powerPrice = new Map(series.filter((x) => x.kind === "price").map((x) => [x.siteId, x.series]));
    const busy = new Map<string, number>();
    for (const l of leases) busy.set(l.nodeId, (busy.get(l.nodeId) ?? 0) + l.gpuIndices.length);
    const out: CapacityOffer[] = [];
    for (const site of sites) {
      const models = new Map<string, { total: number; free: number }>();
      // Approved inventory only: a node reporting other GPUs shows what was approved, none of it free.
      for (const n of nodes.filter((x) => x.siteId === site.id)) {
        const gpus = approvedGpusOf(n);
        if (gpus.length === 0) continue;
        const m = models.get(gpus[0]!.model) ?? { total: 0, free: 0 };
        const healthy = gpus.filter((g) => g.healthy).length;
        m.total += gpus.length;
        if (n.state === "ready" && !inventoryPending(n))
          m.free += Math.max(0, healthy - (busy.get(n.id) ?? 0));
        models.set(gpus[0]!.model, m);
      }
      for (const price of prices.filter((x) => x.siteId === site.id)) {
        const m = models.get(price.gpuModel) ?? { total: 0, free: 0 };
        out.push({
          siteId: site.id,
          siteName: site.name,
          country: site.country,
          gpuModel: price.gpuModel,
          totalGpus: m.total,
          freeGpus: m.free,
          onDemandMinorPerGpuHour: price.onDemandMinorPerGpuHour,
          interruptibleMinorPerGpuHour: interruptiblePriceNow(
            price,
            site,
            powerPrice.get(site.id),
            now,
            catalogue.find,
          ),
          currency: this.ctx.config.currency,
          carbonGPerKwh: carbonNow.get(site.id) ?? site.carbonGPerKwh ?? null,
          jurisdictions: (["EU", "EEA"] as const).filter((j) => inJurisdiction(site.country, j)),
          pue: site.pue,
        });
      }
    }
    return out;
  }

  /** Operator states (or clears) a node's place on its site's cluster network. */
  async setNodeCluster(p: Principal, nodeId: string, cluster: NodeCluster | null): Promise<Node> {
    const node = await this.getNode(p, nodeId);
    requireRole(p, "operator", "admin");
    await this.ctx.store.fleet.setNodeCluster(nodeId, cluster);
    this.ctx.nudge();
    return { ...node, cluster };
  }

  /** Operator drains (no new work) or returns a node to service. */
  async setNodeDrain(p: Principal, nodeId: string, drain: boolean, reason?: string): Promise<Node> {
    const node = await this.getNode(p, nodeId);
    requireRole(p, "operator", "admin");
    await this.ctx.store.fleet.setNodeState(
      nodeId,
      drain ? "draining" : "ready",
      drain ? (reason ?? "drained by operator") : null,
    );
    this.ctx.nudge();
    return { ...node, state: drain ? "draining" : "ready" };
  }
}

/** The node with `held`: why its inventory keeps it from new work (null when it does not). */
function withHold(n: Node): Node & { held: string | null } {
  return { ...n, held: inventoryHold(n) };
}

/** The site's default image must pass its own allow and deny lists. */
function checkImagePolicy(s: Pick<Site, "defaultImage" | "allowImages" | "denyImages">): void {
  if (!s.defaultImage) return;
  const why = imageRefusal(s, s.defaultImage);
  if (why)
    throw invalid(
      `default image ${s.defaultImage} is refused by this site's own image policy (${why}); allow it or pick another default`,
      { field: "defaultImage" },
    );
}

/** Domain checks beyond the schema: the figures must make physical sense. */
function checkSite(s: Pick<SiteInput, "country" | "pue" | "powerKw" | "lat" | "lon">): void {
  if (!isKnownCountry(s.country))
    throw invalid(
      `unknown country code "${s.country}"; use an ISO 3166-1 alpha-2 code such as ES, FI or PY`,
      { field: "country" },
    );
  if (!(s.pue >= 1))
    throw invalid(
      `PUE ${s.pue} is below 1, which is physically impossible; PUE = facility energy / IT energy`,
      { field: "pue" },
    );
  if (!(s.powerKw > 0)) throw invalid("powerKw (contracted power) must be positive", { field: "powerKw" });
}
