// The smallest world the store can place into: operator op1, tenant t1, site s1 (ES) and node n1,
// written through the repositories; with builders for a pending job and a lease on n1.
import { expect } from "vitest";
import type { Job } from "../../src/domain/index.js";
import type { NewLease, Store } from "../../src/store/index.js";

export async function seedOneNode(store: Store): Promise<void> {
  await store.accounts.createOperator({ id: "op1", name: "Hall", createdAt: 1 });
  await store.accounts.createTenant({
    id: "t1",
    name: "Lab",
    country: "ES",
    vatId: null,
    creditLimitMinor: 0,
    createdAt: 1,
  });
  await store.fleet.createSite({
    id: "s1",
    operatorId: "op1",
    name: "Asturias",
    country: "ES",
    lat: 43.36,
    lon: -5.84,
    powerKw: 2000,
    pue: 1.2,
    cooling: "air",
    nodeOverheadW: 800,
    carbonGPerKwh: 120,
    createdAt: 1,
  });
  await store.fleet.createEnrolmentToken("s1", "tok", 1, 10_000);
  const n = await store.fleet.consumeEnrolmentToken(
    "tok",
    { id: "n1", name: "n1", state: "ready", gpus: [], executor: "local" },
    2,
  );
  expect(n.ok).toBe(true);
}

/** A pending on-demand job of tenant t1 asking for `gpus` H100s. */
export const pendingJob = (id: string, gpus = 1): Job => ({
  id,
  tenantId: "t1",
  name: id,
  request: { gpuModels: ["H100"], gpus, class: "on-demand" },
  spec: { command: ["true"] },
  state: "pending",
  reasons: [],
  submittedAt: 100,
});

/** A lease of `jobId` on GPUs `gpuIndices` of n1. */
export const leaseOn = (id: string, jobId: string, gpuIndices: number[], createdAt: number): NewLease => ({
  id,
  jobId,
  tenantId: "t1",
  siteId: "s1",
  operatorId: "op1",
  nodeId: "n1",
  country: "ES",
  gpuModel: "H100",
  gpuIndices,
  class: "on-demand",
  priceMinorPerGpuHour: 240,
  currency: "EUR",
  createdAt,
});
