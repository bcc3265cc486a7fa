// A small federation built through the public API, shared by API and end-to-end tests.
import type { FastifyInstance } from "fastify";
import type { RoutePlugin } from "../../src/api/server.js";
import type { Store } from "../../src/store/index.js";
import { call, startHarness, type Harness } from "./harness.js";
import type { StoreFactory } from "./stores.js";

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

/**
 * Copies node `id`'s row `n` times under ids and names `${prefix}${i}` (a large fleet without
 * enrolling it; the change feed's triggers name every copy, so a view syncs them in).
 */
export async function cloneNode(store: Store, id: string, n: number, prefix = "bulk_"): Promise<void> {
  const db = store.db.kysely;
  const row = await db.selectFrom("nodes").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  const copies = Array.from({ length: n }, (_, i) => ({
    ...row,
    id: `${prefix}${i}`,
    name: `${prefix}${i}`,
  }));
  for (let i = 0; i < copies.length; i += 250)
    await db
      .insertInto("nodes")
      .values(copies.slice(i, i + 250))
      .execute();
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
  intervalMs: number;
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

/**
 * A harness on one store with buildWorld's federation, for suites run on every store; undefined
 * (with a warning) where the store is not there, which fails under CI=true.
 */
export async function worldOn(
  factory: StoreFactory,
  suite: string,
  plugins: RoutePlugin[] = [],
): Promise<{ h: Harness; w: World } | undefined> {
  if (!(await factory.available())) {
    if (process.env.CI === "true") throw new Error(`${factory.name} is not available but CI=true`);
    console.warn(`${suite}: ${factory.name} not available, suite not run`);
    return undefined;
  }
  const h = await startHarness(factory, plugins);
  return { h, w: await buildWorld(h.app, h.adminKey) };
}

/** Submits an 8-GPU H100 job of the world's tenant (`extra` adds to the request); throws unless it answers 201; returns the id. */
export async function submitJob(
  h: Harness,
  w: World,
  cls: "on-demand" | "interruptible",
  extra: Record<string, unknown> = {},
): Promise<string> {
  const r = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
    gpus: 8,
    gpuModels: ["H100"],
    class: cls,
    command: ["train"],
    ...extra,
  });
  if (r.status !== 201) throw new Error(`submit: expected 201, got ${r.status}: ${JSON.stringify(r.json)}`);
  return r.json.id as string;
}

/** The messages of a job's events, oldest first, as its tenant reads them. */
export async function jobEvents(h: Harness, w: World, id: string): Promise<string[]> {
  return ((await call(h.app, w.tenantKey, "GET", `/v1/jobs/${id}/events`)).json as { message: string }[]).map(
    (e) => e.message,
  );
}

/** A heartbeat's answer with the checkpoint copies the node takes part in and the folders it may remove. */
export interface CopyHeartbeatAnswer {
  assignments: { leaseId: string; jobId: string }[];
  transfers: { id: string; jobId: string; role: string }[];
  removableCheckpoints?: string[];
}

/** A healthy heartbeat from a node with 8 simulated H100s and no workloads; `body` adds to or replaces fields. */
export async function heartbeatWith(
  app: FastifyInstance,
  nodeKey: string,
  body: Record<string, unknown> = {},
): Promise<CopyHeartbeatAnswer> {
  return (
    await call(app, nodeKey, "POST", "/v1/agent/heartbeat", {
      gpus: simGpus("H100", 8),
      health: { healthy: true, reasons: [] },
      workloads: [],
      ...body,
    })
  ).json as CopyHeartbeatAnswer;
}
