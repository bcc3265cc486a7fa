/**
 * GPU inventory approval: the GPUs a node declared at enrolment (or an approver last accepted) are
 * the only ones placement and the marketplace's capacity use. A node that reports other GPUs (model,
 * count or memory) is held out of placement until the change is approved; its running leases go on.
 */
import type { Gpu, Node } from "./types.js";

/** Most GPUs one node may have: the scheduler keeps a node's free GPUs in one 32-bit mask. */
export const MAX_GPUS_PER_NODE = 32;

/** What approval compares: the GPU count and each GPU's model and memory (not health, UUIDs or power limits). */
export function inventorySignature(gpus: readonly Pick<Gpu, "model" | "memoryMb">[]): string {
  return gpus
    .map((g) => `${g.model}:${g.memoryMb}`)
    .sort()
    .join(",");
}

/** True when two inventories are the same for approval (count, models, memory). */
export function sameInventory(
  a: readonly Pick<Gpu, "model" | "memoryMb">[],
  b: readonly Pick<Gpu, "model" | "memoryMb">[],
): boolean {
  return a.length === b.length && inventorySignature(a) === inventorySignature(b);
}

/** Whether the node waits for an inventory approval (and is held out of placement). */
export function inventoryPending(n: Pick<Node, "inventoryChangedAt">): boolean {
  return n.inventoryChangedAt != null;
}

/**
 * The GPUs placement and capacity may use: the reported ones while they match the approved
 * inventory (they carry current health), else the approved ones.
 */
export function approvedGpusOf(n: Pick<Node, "gpus" | "approvedGpus" | "inventoryChangedAt">): Gpu[] {
  return inventoryPending(n) ? (n.approvedGpus ?? []) : n.gpus;
}

/** A short phrase for an inventory: "4 x L40S (46068 MiB)", "2 x H100 (81559 MiB), 1 x A100 (40960 MiB)". */
export function describeInventory(gpus: readonly Pick<Gpu, "model" | "memoryMb">[]): string {
  if (gpus.length === 0) return "no GPUs";
  const counts = new Map<string, number>();
  for (const g of gpus) {
    const k = `${g.model} (${g.memoryMb} MiB)`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n} x ${k}`).join(", ");
}

/** Why a node is held out of placement by its inventory, in words; null when it is not. */
export function inventoryHold(n: Pick<Node, "gpus" | "approvedGpus" | "inventoryChangedAt">): string | null {
  if (!inventoryPending(n)) return null;
  return `inventory change pending approval: reports ${describeInventory(n.gpus)}, approved ${describeInventory(n.approvedGpus ?? [])}; running leases continue, no new work until the operator approves (zumbido nodes approve-inventory)`;
}
