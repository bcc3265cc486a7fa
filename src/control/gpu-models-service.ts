import {
  conflict,
  DomainError,
  findGpuModel,
  gpuCatalogue,
  invalid,
  notFound,
  sameInventory,
  type GpuCatalogue,
  type Gpu,
  type GpuVendor,
} from "../domain/index.js";
import type { GpuModelRecord, GpuModelState, Store } from "../store/index.js";
import { ownerOf, requireRole, type Ctx, type Principal } from "./context.js";

/** What an operator proposes for a GPU model the built-in catalogue lacks. */
export interface GpuModelProposal {
  /** Canonical id, e.g. "RTX3080" or "MI300X": upper-case letters, digits and dashes. */
  id: string;
  vendor: GpuVendor;
  /** Display name, e.g. "AMD Instinct MI300X 192GB". */
  name: string;
  memoryGb: number;
  /** Board power, watts: the power budget and the spot price use it when a node reports no limit. */
  powerW: number;
  /** Throughput relative to an A100 (default 0.5). */
  relThroughput?: number;
  /** Lower-case substrings of the driver's product name that identify it (default: the id, lower-case). */
  match?: string[];
}

const ID = /^[A-Z0-9][A-Z0-9-]{1,31}$/;

/** The catalogue in force now: built-in models plus the approved operator-defined ones. */
export async function loadGpuCatalogue(store: Store): Promise<GpuCatalogue> {
  return gpuCatalogue(await store.gpuModels.list({ state: "approved" }));
}

/**
 * Names the GPUs an agent reported without a catalogue model (model "UNKNOWN": the driver's product
 * name matched no built-in model) after an approved operator-defined model whose patterns match
 * the name; such GPUs then count as healthy. GPUs that still match nothing stay unknown and unplaced.
 */
export function resolveReportedGpus(gpus: Gpu[], catalogue: GpuCatalogue): Gpu[] {
  return gpus.map((g) => {
    if (catalogue.find(g.model)) return g;
    const m = catalogue.fromDeviceName(g.name);
    return m ? { ...g, model: m.id, healthy: true } : g;
  });
}

/** Operator-defined GPU models: operators propose, an admin approves or rejects, approved ones are sold. */
export class GpuModelsService {
  constructor(private readonly ctx: Ctx) {}

  /** Stores an operator's (or admin's) proposal; it is placed and sold only once approved. */
  async propose(p: Principal, input: GpuModelProposal): Promise<GpuModelRecord> {
    requireRole(p, "operator", "admin");
    const id = input.id.trim().toUpperCase();
    if (!ID.test(id))
      throw invalid(
        `GPU model id "${input.id}" must be 2-32 letters, digits or dashes, starting with a letter or digit, e.g. RTX3080 or MI300X`,
        { field: "id" },
      );
    const builtIn = findGpuModel(id);
    if (builtIn)
      throw conflict(
        `${builtIn.id} is already in the built-in catalogue (${builtIn.name}); nodes with it need no proposal`,
        {
          field: "id",
        },
      );
    const match = [...new Set((input.match ?? [id]).map((m) => m.trim().toLowerCase()))];
    if (match.some((m) => m.length < 3 || m.length > 64))
      throw invalid(
        'each match pattern must be 3-64 characters of the driver\'s product name, e.g. "rtx 3080"',
        {
          field: "match",
        },
      );
    const model = {
      id,
      vendor: input.vendor,
      name: input.name.trim(),
      memoryGb: input.memoryGb,
      tdpW: input.powerW,
      relThroughput: input.relThroughput ?? 0.5,
      smiPatterns: match,
      proposedBy: p.role === "operator" ? ownerOf(p) : null,
      proposedAt: this.ctx.clock.now(),
    };
    if (!(await this.ctx.store.gpuModels.propose(model))) {
      const existing = await this.ctx.store.gpuModels.get(id);
      throw conflict(
        `GPU model ${existing?.id ?? id} was already proposed (${existing?.state ?? "proposed"}); see GET /v1/gpu-models/proposals`,
        { field: "id" },
      );
    }
    return (await this.ctx.store.gpuModels.get(id))!;
  }

  /** Operator-defined models: an admin sees all, an operator its own proposals and every approved one. */
  async list(p: Principal, state?: GpuModelState): Promise<GpuModelRecord[]> {
    requireRole(p, "operator", "admin");
    const all = await this.ctx.store.gpuModels.list(state ? { state } : {});
    if (p.role === "admin") return all;
    const me = ownerOf(p);
    return all.filter((m) => m.proposedBy === me || m.state === "approved");
  }

  /** An admin's decision on a proposed model: approved models join the catalogue at once. */
  async decide(
    p: Principal,
    id: string,
    decision: "approved" | "rejected",
    reason?: string,
  ): Promise<GpuModelRecord> {
    requireRole(p, "admin");
    const m = await this.ctx.store.gpuModels.get(id);
    if (!m) throw notFound("proposed GPU model", id);
    if (decision === "rejected" && !reason?.trim())
      throw invalid("say why the model is rejected (reason), so the operator can fix the proposal", {
        field: "reason",
      });
    const ok = await this.ctx.store.gpuModels.decide(
      m.id,
      decision,
      this.ctx.clock.now(),
      reason?.trim() ?? null,
    );
    if (!ok)
      throw new DomainError(
        "invalid-state",
        `GPU model ${m.id} is already ${m.state}; only a proposed model can be decided`,
        {
          state: m.state,
        },
      );
    if (decision === "approved") await this.renameUnknownGpus();
    this.ctx.nudge();
    return (await this.ctx.store.gpuModels.get(m.id))!;
  }

  /**
   * Names every node's unknown GPUs after the catalogue now in force, in the reported and the
   * approved inventory alike: the node's hardware did not change, the catalogue learnt its name,
   * so this is no inventory change to approve again (another pending change stays pending).
   */
  private async renameUnknownGpus(): Promise<void> {
    const { store } = this.ctx;
    const catalogue = await loadGpuCatalogue(store);
    for (const n of await store.fleet.listNodes()) {
      const gpus = resolveReportedGpus(n.gpus, catalogue);
      const approvedGpus = n.approvedGpus && resolveReportedGpus(n.approvedGpus, catalogue);
      if (
        JSON.stringify(gpus) === JSON.stringify(n.gpus) &&
        JSON.stringify(approvedGpus) === JSON.stringify(n.approvedGpus)
      )
        continue;
      const pending = approvedGpus !== undefined && !sameInventory(gpus, approvedGpus);
      await store.gpuModels.renameNodeGpus(
        n.id,
        { gpus: n.gpus, approvedGpus: n.approvedGpus },
        {
          gpus,
          approvedGpus,
          inventoryChangedAt: pending ? (n.inventoryChangedAt ?? this.ctx.clock.now()) : null,
        },
      );
    }
  }

  /** The catalogue in force (public): built-in plus approved models. */
  async catalogue(): Promise<GpuCatalogue> {
    return loadGpuCatalogue(this.ctx.store);
  }
}
