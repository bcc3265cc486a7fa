import type { EnergyMeter } from "./energy-model.js";
import type { AgentStore } from "./outbox.js";

/**
 * Meters tracked leases into the outbox: running ones when `meterDue`, ended ones once, up to their
 * end. Intervals are in server time (contiguous: each starts where the last ended); the energy meter
 * reads its own clock, so its interval is converted back with `offsetMs`.
 */
export function meterLeases(
  store: AgentStore,
  nodeId: string,
  meter: EnergyMeter,
  serverNow: number,
  offsetMs: number,
  meterDue: boolean,
): void {
  for (const l of store.leases()) {
    if (l.startedAt == null) continue;
    if (l.endedAt == null && !meterDue) continue;
    const to = l.endedAt ?? serverNow;
    store.appendUsage(nodeId, l.leaseId, to, (from, until) => ({
      gpuMs: l.gpuIndices.length * (until - from),
      ...meter.energyMilliWh(
        l.gpuIndices,
        l.gpuModel,
        from - offsetMs,
        until - offsetMs,
        l.gpuPowerW ?? undefined,
      ),
    }));
  }
}
