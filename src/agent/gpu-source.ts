import type { Gpu } from "../domain/index.js";
import type { GpuSource } from "./agent.js";
import { discoverGpus, simulatedGpus, type GpuInfo } from "./gpu/nvidia-smi.js";

/** Converts a discovered GPU into the control plane's form. */
export function toGpu(g: GpuInfo): Gpu {
  return {
    index: g.index,
    uuid: g.uuid,
    model: g.modelId ?? "UNKNOWN",
    name: g.name,
    memoryMb: g.memoryMiB ?? 0,
    powerLimitW: g.powerLimitW ?? 0,
    ...(g.pciBusId ? { pciBusId: g.pciBusId } : {}),
    healthy: g.modelId !== undefined,
  };
}

/** GPUs made up from a spec like "H100x8" (demo nodes and tests). */
export function simulatedGpuSource(spec: string): GpuSource {
  const gpus = simulatedGpus(spec).map(toGpu);
  return {
    discover: () => Promise.resolve({ gpus, driverVersion: "simulated" }),
    health: () => Promise.resolve({ healthy: true, reasons: [] }),
  };
}

/** The node's real NVIDIA GPUs through nvidia-smi; an unanswered query drains the node. */
export function nvidiaGpuSource(bin = "nvidia-smi"): GpuSource {
  let last: { gpus: Gpu[]; driverVersion: string | null } | undefined;
  let lastError: string | undefined;
  return {
    async discover() {
      const r = await discoverGpus({ bin, timeoutMs: 10_000 });
      if (!r.ok) {
        lastError = `nvidia-smi ${r.kind}: ${r.message}`;
        if (last) return last;
        throw new Error(`GPU discovery failed: ${r.message}. Use --simulate-gpus H100x8 on a machine without NVIDIA GPUs`);
      }
      lastError = undefined;
      last = { gpus: r.discovery.gpus.map(toGpu), driverVersion: r.discovery.gpus[0]?.driverVersion ?? null };
      return last;
    },
    async health() {
      const r = await discoverGpus({ bin, timeoutMs: 10_000 });
      if (!r.ok) return { healthy: false, reasons: [`nvidia-smi did not answer: ${r.message}`] };
      const reasons: string[] = [];
      if (lastError) reasons.push(lastError);
      if (last && r.discovery.gpus.length < last.gpus.length) reasons.push(`${last.gpus.length - r.discovery.gpus.length} GPU(s) disappeared (driver error or fallen off the bus)`);
      return { healthy: reasons.length === 0, reasons };
    },
  };
}

/** True when nvidia-smi answers on this machine. */
export async function hasNvidiaGpus(bin = "nvidia-smi"): Promise<boolean> {
  const r = await discoverGpus({ bin, timeoutMs: 5_000 });
  return r.ok && r.discovery.gpus.length > 0;
}
