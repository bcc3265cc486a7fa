// Fuzzes every operation in /openapi.json on SQLite and PostgreSQL with fast-check (fixed seed): path,
// query and body values drawn from the route's JSON schemas, mixed with values that break them (NUL
// bytes, lone surrogates, huge numbers, wrong types, malformed JSON), sent with a key of a role the
// route accepts. No answer may be a 5xx, and a refused request (4xx) may write nothing: the row count
// of every table is the same before and after it. ZUMBIDO_FUZZ_RUNS sets the requests per store
// (default 2,000); ZUMBIDO_FUZZ_SEED the seed.
import fc from "fast-check";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extraRoutePlugins } from "../../src/api/plugins.js";
import { ledgerServiceFor } from "../../src/control/ledger-service.js";
import type { Role } from "../../src/domain/index.js";
import type { Store } from "../../src/store/index.js";
import { buildWorld, enrolNode, heartbeat, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { fromSchema, nastyString, resolver, type JsonSchema } from "../helpers/schema-arb.js";
import { STORES } from "../helpers/stores.js";

const RUNS = Number(process.env.ZUMBIDO_FUZZ_RUNS ?? 2000);
const SEED = Number(process.env.ZUMBIDO_FUZZ_SEED ?? 20261201);
// Append-only by design: admin and operator actions are audited whatever their status.
const WRITES_ON_REFUSAL = new Set(["audit_log"]);

interface Param {
  name: string;
  in: "path" | "query";
  schema: JsonSchema;
}
interface Op {
  method: string;
  path: string;
  access: "public" | Role[];
  params: Param[];
  body?: JsonSchema;
}
interface Req {
  role: Role | null;
  path: Record<string, string>;
  query: Record<string, string>;
  body: { raw: string } | { json: unknown } | undefined;
}

/** Malformed or hostile JSON texts. */
const RAW_BODIES = [
  '{"a":',
  "1e999",
  '{"gpus":1e999,"gpuModels":["H100"],"command":["x"]}',
  '{"amountMinor":123456789012345678901234567890}',
  "[]",
  "null",
  '"x"',
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"x":1}}}',
  `${"[".repeat(3000)}${"]".repeat(3000)}`,
  '{"name":"\\u0000"}',
  '{"name":"\\ud800"}',
  "\u0000",
  "",
];

/** Raw percent-encodings that decode to NUL, lone surrogates, invalid UTF-8 or traversal. */
const RAW_SEGMENTS = ["%00", "%ED%A0%80", "%FF", "%C0%AF", "..%2F..%2Fetc", "%E2%80%AE", "a%00b", "%25"];

const enc = (s: string): string => {
  try {
    return encodeURIComponent(s);
  } catch {
    return "%ED%A0%80"; // a lone surrogate has no UTF-8; send the bytes a naive encoder would
  }
};

/** Table name -> row count, for every table but the append-only audit trail. */
async function rowCounts(store: Store, names: string[]): Promise<Record<string, number>> {
  const q = names.map((n) => `select '${n}' as t, count(*) as n from "${n}"`).join(" union all ");
  const rows = (await sql<{ t: string; n: number | string }>`${sql.raw(q)}`.execute(store.db.kysely)).rows;
  return Object.fromEntries(rows.map((r) => [r.t, Number(r.n)]));
}

/** The store's tables the refusal check counts. */
async function tablesOf(store: Store): Promise<string[]> {
  const db = store.db.kysely;
  const tables =
    store.db.dialect === "sqlite"
      ? (await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(db)).rows
      : (
          await sql<{
            name: string;
          }>`select tablename as name from pg_tables where schemaname = current_schema()`.execute(db)
        ).rows;
  return tables.map((t) => t.name).filter((n) => !WRITES_ON_REFUSAL.has(n) && !n.startsWith("sqlite_"));
}

function opsOf(doc: { paths: Record<string, Record<string, Record<string, unknown>>> }): Op[] {
  const ops: Op[] = [];
  for (const [path, methods] of Object.entries(doc.paths))
    for (const [m, o] of Object.entries(methods)) {
      if (m === "head") continue;
      const content = (o.requestBody as { content?: Record<string, { schema?: JsonSchema }> } | undefined)
        ?.content;
      const body = content?.["application/json"]?.schema;
      ops.push({
        method: m.toUpperCase(),
        path,
        access: o["x-zumbido-access"] as Op["access"],
        params: ((o.parameters as Param[] | undefined) ?? []).filter(
          (p) => p.in === "path" || p.in === "query",
        ),
        ...(body ? { body } : {}),
      });
    }
  return ops;
}

for (const factory of STORES) {
  const available = await factory.available();
  describe.skipIf(!available)(`fuzzing the API from /openapi.json: ${factory.name}`, () => {
    let h: Harness;
    let w: World;
    let ops: Op[] = [];
    let resolve: (s: JsonSchema) => JsonSchema;
    const keyOf = {} as Record<Role, string>;
    const ids: Record<string, string[]> = {};

    beforeAll(async () => {
      h = await startHarness(factory, extraRoutePlugins());
      await h.app.ready();
      // The periodic charge run would write between requests; the fuzz suite looks at requests only.
      await ledgerServiceFor(h.services.ctx).stop();
      w = await buildWorld(h.app, h.adminKey);
      const node = await enrolNode(h.app, w.operatorKey, w.sites.es, "es-1");
      const job = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
        gpuModels: ["H100"],
        countries: ["ES"],
        command: ["train"],
        gpus: 1,
      });
      await heartbeat(h.app, node.nodeKey);
      await h.loop.tick();
      const lease = (await heartbeat(h.app, node.nodeKey)).assignments[0]?.leaseId ?? "lease_1";
      Object.assign(keyOf, {
        admin: h.adminKey,
        operator: w.operatorKey,
        tenant: w.tenantKey,
        node: node.nodeKey,
      });
      Object.assign(ids, {
        sites: Object.values(w.sites),
        nodes: [node.nodeId],
        jobs: [job.json.id as string],
        tenants: [w.tenantId],
        operators: [w.operatorId],
        leases: [lease],
      });
      const doc = (await call(h.app, null, "GET", "/openapi.json")).json;
      resolve = resolver(doc);
      ops = opsOf(doc);
    }, 120_000);
    afterAll(async () => h?.close());

    /** Values for a path parameter: real ids of the right kind, plausible words, or junk. */
    const pathValue = (op: Op, name: string): fc.Arbitrary<string> => {
      const kind = op.path.split("/")[2] ?? "";
      const real =
        name === "month"
          ? ["2026-11", "2026-10", "2026-12"]
          : name === "model"
            ? ["H100", "A100"]
            : name === "kind"
              ? ["carbon", "price"]
              : name === "id" && op.method !== "DELETE"
                ? (ids[kind] ?? [])
                : [];
      return fc.oneof(
        { arbitrary: real.length ? fc.constantFrom(...real) : fc.constant("x"), weight: 4 },
        { arbitrary: nastyString.map(enc), weight: 2 },
        { arbitrary: fc.constantFrom(...RAW_SEGMENTS), weight: 1 },
      );
    };

    const reqArb = (op: Op): fc.Arbitrary<Req> => {
      const roles = op.access === "public" ? [null, "tenant" as const] : op.access;
      const pathParams = op.params.filter((p) => p.in === "path");
      const queryParams = op.params.filter((p) => p.in === "query");
      const path = fc.record(Object.fromEntries(pathParams.map((p) => [p.name, pathValue(op, p.name)])));
      const query = fc.record(
        Object.fromEntries(
          queryParams.map((p) => [
            p.name,
            fc.option(
              fc.oneof(
                fromSchema(p.schema, resolve, 1).map((v) =>
                  enc(typeof v === "string" ? v : (JSON.stringify(v) ?? "")),
                ),
                fc.constantFrom(...RAW_SEGMENTS),
                fc.constantFrom(...(ids.tenants ?? []), ...(ids.operators ?? []), ...(ids.sites ?? [])),
              ),
              { nil: undefined },
            ),
          ]),
        ),
      );
      const withBody = op.body !== undefined || ["POST", "PUT", "PATCH"].includes(op.method);
      const body: fc.Arbitrary<Req["body"]> = withBody
        ? fc.oneof(
            {
              arbitrary: (op.body ? fromSchema(op.body, resolve, 1) : fc.constant({})).map((json) => ({
                json,
              })),
              weight: 8,
            },
            { arbitrary: fc.constantFrom(...RAW_BODIES).map((raw) => ({ raw })), weight: 1 },
          )
        : fc.constant(undefined);
      return fc.record({ role: fc.constantFrom(...roles), path, query, body }) as fc.Arbitrary<Req>;
    };

    const send = async (op: Op, r: Req) => {
      let url = op.path.replace(/\{([^}]+)\}/g, (_, n: string) => r.path[n] ?? "x");
      const qs = Object.entries(r.query)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${v}`)
        .join("&");
      if (qs) url += `?${qs}`;
      const payload =
        r.body === undefined ? undefined : "raw" in r.body ? r.body.raw : JSON.stringify(r.body.json);
      const res = await h.app.inject({
        method: op.method as "GET",
        url,
        headers: {
          ...(r.role ? { authorization: `Bearer ${keyOf[r.role]}` } : {}),
          ...(payload !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(payload !== undefined ? { payload } : {}),
      });
      return { url, payload, status: res.statusCode, body: res.body };
    };

    it(`answers ${RUNS} generated requests with no 5xx, and refused ones write nothing`, async () => {
      // Requests per operation: those with a body or parameters get more.
      const weight = (op: Op): number => 1 + (op.body ? 4 : 0) + op.params.length;
      const total = ops.reduce((a, op) => a + weight(op), 0);
      const failures: string[] = [];
      let sent = 0;
      const byClass: Record<string, number> = {};
      const tables = await tablesOf(h.store);
      expect(tables.length).toBeGreaterThan(15);
      let before = await rowCounts(h.store, tables);
      for (const [i, op] of ops.entries()) {
        const n = Math.max(2, Math.round((RUNS * weight(op)) / total));
        for (const r of fc.sample(reqArb(op), { seed: SEED + i, numRuns: n })) {
          const res = await send(op, r);
          sent++;
          const cls = `${Math.floor(res.status / 100)}xx`;
          byClass[cls] = (byClass[cls] ?? 0) + 1;
          const after = await rowCounts(h.store, tables);
          const what = () =>
            `${op.method} ${res.url.slice(0, 200)} as ${r.role ?? "anonymous"} body=${(res.payload ?? "").slice(0, 300)}`;
          if (res.status >= 500) failures.push(`${what()} -> ${res.status} ${res.body.slice(0, 300)}`);
          else if (res.status >= 400) {
            const moved = Object.keys({ ...before, ...after }).filter((t) => before[t] !== after[t]);
            if (moved.length)
              failures.push(
                `${what()} -> ${res.status} but wrote ${moved.map((t) => `${t} ${before[t]}->${after[t]}`).join(", ")}`,
              );
          }
          before = after;
        }
      }
      expect(failures).toEqual([]);
      expect(sent).toBeGreaterThanOrEqual(RUNS * 0.9);
      // The generated requests reach the handlers: a good share is accepted, a good share refused.
      expect(byClass["2xx"] ?? 0).toBeGreaterThan(sent * 0.1);
      expect(byClass["4xx"] ?? 0).toBeGreaterThan(sent * 0.1);
      console.log(`fuzz ${factory.name}: ${sent} requests, ${JSON.stringify(byClass)}`);
    }, 600_000);
  });
}
