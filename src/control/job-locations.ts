import type { DataLocation } from "../contract/index.js";
import type { Job } from "../domain/index.js";
import type { Ctx } from "./context.js";
import { volumeLocation } from "./volumes-service.js";

/** Where a job's data lives or lived: the sites of its volumes and of its checkpoint. */
export class JobLocationsService {
  constructor(private readonly ctx: Ctx) {}

  /** The job's volumes' and checkpoint's sites (the caller has checked the job is visible). */
  async dataOf(job: Pick<Job, "id" | "spec">): Promise<DataLocation[]> {
    const names = new Map<string, string>();
    const siteName = async (id: string): Promise<string> => {
      if (!names.has(id)) names.set(id, (await this.ctx.store.fleet.getSite(id))?.name ?? id);
      return names.get(id)!;
    };
    const out: DataLocation[] = [];
    const ids = (job.spec.volumes ?? []).map((v) => v.volumeId);
    for (const v of await this.ctx.store.volumes.listVolumes({ ids, withDeleted: true }))
      out.push(volumeLocation(v, await siteName(v.siteId)));
    const ckpt = await this.ctx.store.checkpoints.getCheckpoint(job.id);
    if (ckpt)
      out.push({
        kind: "checkpoint",
        siteId: ckpt.siteId,
        siteName: await siteName(ckpt.siteId),
        country: ckpt.country,
        nodeId: ckpt.nodeId,
        from: ckpt.savedAt,
        to: null,
      });
    return out;
  }
}
