import { planCurtailment, type CurtailableLease } from "../energy/index.js";
import type { Node } from "../domain/index.js";
import type { Curtailment, Fence } from "../store/index.js";
import type { Ctx } from "./context.js";
import { loadGpuCatalogue } from "./gpu-models-service.js";
import { leaseFacilityKw, siteDrawKw } from "./power.js";
import type { CycleWorld } from "./snapshot.js";

/**
 * Brings sites under their curtailment caps: from the notice time on, each cycle plans which leases
 * to stop (interruptible first, cheapest per kW; on-demand only when interruptible work cannot meet
 * the cap: src/energy/curtailment.ts), sends them a checkpoint notice due by the cap's start, and
 * records the event's report (kW before, at start, when the cap was met, what was stopped).
 */
export async function enforceCurtailments(
  ctx: Ctx,
  now: number,
  world?: Pick<CycleWorld, "sites" | "nodes" | "leases" | "curtailments" | "catalogue">,
  fence?: Fence,
): Promise<{ noticesSent: number }> {
  const { store } = ctx;
  const events = (world?.curtailments ?? (await store.energy.curtailments({ activeAt: now }))).filter(
    (c) => now >= c.startMs - c.noticeS * 1000,
  );
  if (events.length === 0) {
    await endPast(ctx, now);
    return { noticesSent: 0 };
  }
  // The scheduling cycle passes the rows it already read (each table once per cycle).
  const [sites, nodeMap, leases] = world
    ? [world.sites, world.nodes, world.leases]
    : await Promise.all([
        store.fleet.listSites(),
        store.fleet.listNodes().then((ns) => new Map<string, Node>(ns.map((n) => [n.id, n]))),
        store.jobs.activeLeases(),
      ]);
  // GPU power by the one rule over the catalogue in force (approved operator-defined models included).
  const lookup = (world?.catalogue ?? (await loadGpuCatalogue(store))).find;
  let noticesSent = 0;
  for (const c of events) {
    const site = sites.find((s) => s.id === c.siteId);
    if (!site) continue;
    const here = leases.filter((l) => l.siteId === site.id);
    const drawAll = siteDrawKw(site, here, nodeMap, lookup);
    const running = here.filter((l) => l.state !== "stopping");
    const drawKept = siteDrawKw(site, running, nodeMap, lookup);
    const next: Curtailment = { ...c, stopped: [...c.stopped], reasoning: [...c.reasoning] };
    if (next.kwBefore === null) next.kwBefore = drawAll;
    if (drawKept > c.maxKw + 1e-9) {
      const plan = planCurtailment(
        running.map((l): CurtailableLease => ({
          id: l.id,
          class: l.class,
          facilityKw: leaseFacilityKw(l, nodeMap.get(l.nodeId) ?? { gpus: [] }, site, lookup),
          priceMinorPerGpuHour: l.priceMinorPerGpuHour,
          gpus: l.gpuIndices.length,
          startedAtMs: l.startedAt ?? l.createdAt,
        })),
        drawKept,
        { maxKw: c.maxKw, startMs: c.startMs, endMs: c.endMs },
      );
      const deadline = Math.max(now, c.startMs);
      for (const v of plan.victims) {
        const lease = running.find((l) => l.id === v.id)!;
        const why = `curtailment ${c.id}: site capped at ${c.maxKw} kW from ${new Date(c.startMs).toISOString()}`;
        if (await store.jobs.requestLeaseStop(v.id, why, now, deadline, fence)) {
          // A multi-node gang stops as one: its other ranks get the same notice and deadline.
          if (lease.gang)
            for (const o of running.filter((x) => x.jobId === lease.jobId && x.id !== lease.id))
              if (
                o.state !== "stopping" &&
                (await store.jobs.requestLeaseStop(o.id, why, now, deadline, fence))
              )
                o.state = "stopping";
          noticesSent++;
          lease.state = "stopping";
          next.stopped.push({
            leaseId: v.id,
            jobId: lease.jobId,
            class: v.class,
            facilityKw: Math.round(v.facilityKw * 1000) / 1000,
            at: now,
          });
        }
      }
      next.reasoning.push(...plan.reasoning);
      next.state = plan.capMet ? "enforcing" : "unmet";
    }
    if (now >= c.startMs && next.kwAtStart === null) next.kwAtStart = drawAll;
    if (drawAll <= c.maxKw + 1e-9 && next.metAtMs === null) {
      next.metAtMs = now;
      next.state = "met";
    }
    if (JSON.stringify(next) !== JSON.stringify(c)) await store.energy.updateCurtailment(next);
  }
  await endPast(ctx, now);
  return { noticesSent };
}

async function endPast(ctx: Ctx, now: number): Promise<void> {
  for (const c of await ctx.store.energy.curtailments()) {
    if (c.endMs <= now && c.state !== "ended" && c.state !== "met" && c.state !== "unmet")
      await ctx.store.energy.updateCurtailment({ ...c, state: "ended" });
  }
}
