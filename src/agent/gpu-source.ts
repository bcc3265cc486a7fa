import type { Gpu } from "../domain/index.js";
import type { GpuSource } from "./agent.js";
import type { EnergyMeter } from "./energy-model.js";
import { ModelledEnergyMeter } from "./energy-model.js";
import { checkHealth } from "./gpu/health.js";
import { discoverGpus, simulatedGpus, type GpuInfo } from "./gpu/nvidia-smi.js";
import { powerQueryFields, probeQueryFields, samplePower } from "./gpu/power.js";
import { UtilisationTracker, type GpuUtilisation } from "./gpu/utilisation.js";
import { SampledEnergy } from "./gpu/sampled-energy.js";

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

/**
 * The node's real NVIDIA GPUs through nvidia-smi. Health asks for temperature, ECC and row-remap
 * state of every GPU discovered at start (src/agent/gpu/health.ts); a GPU that stops answering,
 * overheats or reports uncorrected errors makes the node unhealthy, and the control plane drains it.
 */
export function nvidiaGpuSource(bin = "nvidia-smi"): GpuSource {
  let found: GpuInfo[] = [];
  let last: { gpus: Gpu[]; driverVersion: string | null } | undefined;
  let available: Set<string> | undefined;
  return {
    async discover() {
      const r = await discoverGpus({ bin, timeoutMs: 10_000 });
      if (!r.ok) {
        if (last) return last;
        throw new Error(
          `GPU discovery failed: ${r.message}. Use --simulate-gpus H100x8 on a machine without NVIDIA GPUs`,
        );
      }
      found = r.discovery.gpus;
      available ??= await probeQueryFields({ bin, timeoutMs: 10_000 });
      last = { gpus: found.map(toGpu), driverVersion: found[0]?.driverVersion ?? null };
      return last;
    },
    async health() {
      return checkHealth(found, { bin, timeoutMs: 10_000, ...(available ? { available } : {}) });
    },
  };
}

/** A power sampler feeding measured energy per GPU, with the modelled meter for what it did not cover. */
export async function measuredEnergy(
  now: () => number,
  opts: { bin?: string; intervalMs?: number } = {},
): Promise<{ meter: EnergyMeter; utilisation: GpuUtilisation; stop(): void }> {
  const bin = opts.bin ?? "nvidia-smi";
  const utilisation = new UtilisationTracker();
  const fields = powerQueryFields(await probeQueryFields({ bin, timeoutMs: 10_000 }));
  const meter = new SampledEnergy({ fallback: new ModelledEnergyMeter() });
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      const r = await samplePower(fields, now, { bin, timeoutMs: 5_000 });
      if (Array.isArray(r)) {
        meter.observe(r);
        utilisation.observe(r);
      }
      await new Promise((res) => setTimeout(res, opts.intervalMs ?? 1000));
    }
  };
  void loop();
  return {
    meter,
    utilisation,
    stop: () => {
      running = false;
    },
  };
}

/** True when nvidia-smi answers on this machine. */
export async function hasNvidiaGpus(bin = "nvidia-smi"): Promise<boolean> {
  const r = await discoverGpus({ bin, timeoutMs: 5_000 });
  return r.ok && r.discovery.gpus.length > 0;
}
