// A small federation built through the public API, shared by API and end-to-end tests.
import type { FastifyInstance } from "fastify";
import { call } from "./harness.js";

export interface World {
  operatorKey: string;
  operatorId: string;
  otherOperatorKey: string;
  tenantKey: string;
  tenantId: string;
  otherTenantKey: string;
  sites: { es: string; fi: string; py: string };
}

/** Two operators (one with ES, FI and PY sites), two tenants, H100 prices. */
export async function buildWorld(app: FastifyInstance, adminKey: string): Promise<World> {
  const op = await call(app, adminKey, "POST", "/v1/operators", { name: "Hashfield Energy" });
  const op2 = await call(app, adminKey, "POST", "/v1/operators", { name: "Other Hall" });
  const t = await call(app, adminKey, "POST", "/v1/tenants", {
    name: "Acme AI",
    country: "ES",
    creditLimitMinor: 100_000,
  });
  const t2 = await call(app, adminKey, "POST", "/v1/tenants", {
    name: "Beta Labs",
    country: "DE",
    creditLimitMinor: 100_000,
  });
  const operatorKey = op.json.key as string;
  const mk = async (name: string, country: string, price: number) => {
    const s = await call(app, operatorKey, "POST", "/v1/sites", {
      name,
      country,
      lat: 40,
      lon: -3,
      powerKw: 500,
      pue: 1.2,
      cooling: "air",
    });
    if (s.status !== 201) throw new Error(`site: ${JSON.stringify(s.json)}`);
    await call(app, operatorKey, "PUT", `/v1/sites/${s.json.id}/prices/H100`, {
      onDemandMinorPerGpuHour: price,
      interruptibleMinorPerGpuHour: Math.floor(price / 2),
    });
    return s.json.id as string;
  };
  const es = await mk("Asturias", "ES", 240);
  const fi = await mk("Kajaani", "FI", 260);
  const py = await mk("Itaipu", "PY", 150);
  return {
    operatorKey,
    operatorId: op.json.operator.id,
    otherOperatorKey: op2.json.key,
    tenantKey: t.json.key,
    tenantId: t.json.tenant.id,
    otherTenantKey: t2.json.key,
    sites: { es, fi, py },
  };
}

/** GPUs as an agent would report them. */
export function simGpus(
  model: string,
  n: number,
): {
  index: number;
  uuid: string;
  model: string;
  name: string;
  memoryMb: number;
  powerLimitW: number;
  healthy: boolean;
}[] {
  return Array.from({ length: n }, (_, i) => ({
    index: i,
    uuid: `GPU-sim-${model}-${i}`,
    model,
    name: `NVIDIA ${model}`,
    memoryMb: 81_559,
    powerLimitW: 700,
    healthy: true,
  }));
}

/** Enrols a node at a site through the API and returns its key and id. */
export async function enrolNode(
  app: FastifyInstance,
  operatorKey: string,
  siteId: string,
  name: string,
  gpus = simGpus("H100", 8),
): Promise<{ nodeKey: string; nodeId: string }> {
  const tok = await call(app, operatorKey, "POST", `/v1/sites/${siteId}/enrolment-tokens`);
  const e = await call(app, null, "POST", "/v1/agent/enrol", {
    token: tok.json.token,
    name,
    gpus,
    executor: "local",
  });
  if (e.status !== 201) throw new Error(`enrol: ${JSON.stringify(e.json)}`);
  return { nodeKey: e.json.key, nodeId: e.json.nodeId };
}

/** What a heartbeat answers. */
export interface HeartbeatAnswer {
  assignments: { leaseId: string; jobId: string; gpuIndices: number[] }[];
  stops: { leaseId: string; reason: string; graceS: number }[];
}

/** A healthy heartbeat from a node with 8 simulated H100s, reporting the given workloads. */
export async function heartbeat(
  app: FastifyInstance,
  nodeKey: string,
  workloads: unknown[] = [],
): Promise<HeartbeatAnswer> {
  const r = await call(app, nodeKey, "POST", "/v1/agent/heartbeat", {
    gpus: simGpus("H100", 8),
    health: { healthy: true, reasons: [] },
    workloads,
  });
  return r.json as HeartbeatAnswer;
}
