// Tenants' secrets over HTTP with a real store: secret env values and registry logins are sealed at
// rest (not in the database in clear), shown to nobody (names only), opened only in the assignment
// of the node holding the lease, deleted with the job's end, re-sealed after a key rotation.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extraRoutePlugins } from "../../src/api/plugins.js";
import { resealSecrets, SecretBox } from "../../src/control/index.js";
import { buildWorld, simGpus, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

const HF_TOKEN = "hf_S3cretValue_9d1f0c7e2b";
const REGISTRY_PASSWORD = "nvapi-R3gistryPassw0rd-77aa";
const PLAIN = "plain-value-the-tenant-sees";
const IMAGE = "nvcr.io/nvidia/pytorch:24.08-py3";
const KEY_1 = randomBytes(32);
const KEY_2 = randomBytes(32);
const PODMAN = { executor: "podman", images: true, isolated: true } as const;

interface Assigned {
  leaseId: string;
  jobId: string;
  spec: { env?: Record<string, string> };
  registryAuth?: { server: string; username: string; password: string };
}

for (const factory of STORES) {
  const available = await factory.available();
  describe.skipIf(!available)(`tenants' secrets: ${factory.name}`, () => {
    let h: Harness;
    let w: World;
    let url = "";
    const nodes: { nodeKey: string; nodeId: string }[] = [];

    const beat = async (nodeKey: string, workloads: unknown[] = []) =>
      (
        await call(h.app, nodeKey, "POST", "/v1/agent/heartbeat", {
          gpus: simGpus("H100", 8),
          health: { healthy: true, reasons: [] },
          workloads,
        })
      ).json as { assignments: Assigned[] };
    const submit = (body: object, key = w.tenantKey) =>
      call(h.app, key, "POST", "/v1/jobs", {
        gpus: 1,
        gpuModels: ["H100"],
        countries: ["ES"],
        command: ["python", "train.py"],
        ...body,
      });
    const jobCount = async () => (await h.store.jobs.listJobs({})).length;

    /** Every byte the store holds, as text: the SQLite file and its WAL, or every PostgreSQL row. */
    const storedText = async (): Promise<string> => {
      if (factory.name === "sqlite") {
        const path = url.slice("sqlite:".length);
        return [path, `${path}-wal`]
          .filter(existsSync)
          .map((f) => readFileSync(f).toString("latin1"))
          .join("\n");
      }
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const tables = await c.query<{ t: string }>(
          "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public'",
        );
        const out: string[] = [];
        for (const { t } of tables.rows) {
          const rows = await c.query<{ j: string }>(`SELECT row_to_json(x)::text AS j FROM "${t}" x`);
          out.push(...rows.rows.map((r) => r.j));
        }
        return out.join("\n");
      } finally {
        await c.end();
      }
    };

    beforeAll(async () => {
      const opened = { url: "" };
      h = await startHarness(
        {
          ...factory,
          open: async () => {
            const o = await factory.open();
            opened.url = o.url;
            return o;
          },
        },
        extraRoutePlugins(),
      );
      url = opened.url;
      h.services.ctx.secrets = new SecretBox([KEY_1]);
      w = await buildWorld(h.app, h.adminKey);
      for (const name of ["es-a", "es-b"]) {
        const tok = await call(h.app, w.operatorKey, "POST", `/v1/sites/${w.sites.es}/enrolment-tokens`);
        const e = await call(h.app, null, "POST", "/v1/agent/enrol", {
          token: tok.json.token,
          name,
          gpus: simGpus("H100", 8),
          runtime: PODMAN,
        });
        expect(e.status).toBe(201);
        nodes.push({ nodeKey: e.json.key, nodeId: e.json.nodeId });
      }
      for (const n of nodes) await beat(n.nodeKey);
    });
    afterAll(async () => h?.close());

    it("stores a registry login, lists names only, refuses a duplicate, hides it from other tenants", async () => {
      const r = await call(h.app, w.tenantKey, "POST", "/v1/secrets", {
        name: "ngc",
        type: "registry",
        registry: "nvcr.io",
        username: "$oauthtoken",
        password: REGISTRY_PASSWORD,
      });
      expect(r.status).toBe(201);
      expect(r.json).toEqual({
        name: "ngc",
        type: "registry",
        registry: "nvcr.io",
        createdAt: h.clock.now(),
      });
      const list = await call(h.app, w.tenantKey, "GET", "/v1/secrets");
      expect(list.json).toEqual([r.json]);
      const again = await call(h.app, w.tenantKey, "POST", "/v1/secrets", {
        name: "ngc",
        type: "registry",
        registry: "nvcr.io",
        username: "u",
        password: "p",
      });
      expect(again.status).toBe(409);
      expect(again.json.detail).toContain('"ngc"');
      expect((await call(h.app, w.otherTenantKey, "GET", "/v1/secrets")).json).toEqual([]);
      expect((await call(h.app, w.otherTenantKey, "DELETE", "/v1/secrets/ngc")).status).toBe(404);
      const bad = await call(h.app, w.tenantKey, "POST", "/v1/secrets", {
        name: "Bad Name",
        type: "registry",
        registry: "nvcr.io/x",
        username: "u",
        password: "p",
      });
      expect(bad.status).toBe(400);
      expect(bad.json.errors.map((e: { path: string }) => e.path).sort()).toEqual([
        "body.name",
        "body.registry",
      ]);
    });

    let jobId = "";
    it("submits a job with secret env and a registry secret: the answer carries names only", async () => {
      const r = await submit({
        env: { PLAIN },
        secretEnv: { HF_TOKEN },
        image: IMAGE,
        registrySecret: "ngc",
      });
      expect(r.status).toBe(201);
      jobId = r.json.id;
      expect(r.json.spec).toMatchObject({
        env: { PLAIN },
        secretEnvNames: ["HF_TOKEN"],
        registrySecret: "ngc",
      });
      expect(JSON.stringify(r.json)).not.toContain(HF_TOKEN);
    });

    it("keeps no secret in the database in clear", async () => {
      const text = await storedText();
      expect(text).toContain(PLAIN); // the scan does see what is stored in clear
      expect(text).not.toContain(HF_TOKEN);
      expect(text).not.toContain(REGISTRY_PASSWORD);
      expect(text).not.toContain("$oauthtoken");
      const rows = await h.store.secrets.jobSecrets(jobId);
      expect(rows.map((x) => [x.name, x.keyId])).toEqual([["HF_TOKEN", h.services.ctx.secrets!.activeKeyId]]);
    });

    let lease: { id: string; nodeId: string } | undefined;
    it("gives the values only to the node holding the lease, in its assignment", async () => {
      await h.loop.tick();
      const leases = await h.store.jobs.leasesForJob(jobId);
      expect(leases).toHaveLength(1);
      lease = { id: leases[0]!.id, nodeId: leases[0]!.nodeId };
      const holder = nodes.find((n) => n.nodeId === lease!.nodeId)!;
      const other = nodes.find((n) => n.nodeId !== lease!.nodeId)!;
      const otherAnswer = await beat(other.nodeKey);
      expect(JSON.stringify(otherAnswer)).not.toContain(HF_TOKEN);
      expect(JSON.stringify(otherAnswer)).not.toContain(REGISTRY_PASSWORD);
      const a = (await beat(holder.nodeKey)).assignments.find((x) => x.jobId === jobId)!;
      expect(a.spec.env).toEqual({ PLAIN, HF_TOKEN });
      expect(a.registryAuth).toEqual({
        server: "nvcr.io",
        username: "$oauthtoken",
        password: REGISTRY_PASSWORD,
      });
      await beat(holder.nodeKey, [{ leaseId: a.leaseId, phase: "running", startedAt: h.clock.now() }]);
    });

    it("shows the values to nobody: tenant, operator and admin see names; the operator no env values at all", async () => {
      const answers = {
        tenant: [
          await call(h.app, w.tenantKey, "GET", `/v1/jobs/${jobId}`),
          await call(h.app, w.tenantKey, "GET", "/v1/jobs"),
        ],
        admin: [
          await call(h.app, h.adminKey, "GET", `/v1/jobs/${jobId}`),
          await call(h.app, h.adminKey, "GET", "/v1/jobs"),
          await call(h.app, h.adminKey, "GET", "/v1/audit"),
        ],
        operator: [
          await call(h.app, w.operatorKey, "GET", `/v1/jobs/${jobId}`),
          await call(h.app, w.operatorKey, "GET", `/v1/jobs/${jobId}/events`),
          await call(h.app, w.operatorKey, "GET", "/v1/operator/summary"),
          await call(h.app, w.operatorKey, "GET", "/v1/audit"),
        ],
      };
      for (const [who, rs] of Object.entries(answers))
        for (const r of rs) {
          expect(r.status, who).toBe(200);
          expect(JSON.stringify(r.json), who).not.toContain(HF_TOKEN);
          expect(JSON.stringify(r.json), who).not.toContain(REGISTRY_PASSWORD);
        }
      expect(answers.tenant[0]!.json.spec).toMatchObject({ env: { PLAIN }, secretEnvNames: ["HF_TOKEN"] });
      expect(answers.tenant[1]!.json.find((j: { id: string }) => j.id === jobId).spec.secretEnvNames).toEqual(
        ["HF_TOKEN"],
      );
      expect(answers.admin[0]!.json.spec.secretEnvNames).toEqual(["HF_TOKEN"]);
      const op = answers.operator[0]!.json;
      expect(op.spec.env).toBeUndefined();
      expect(op.spec).toMatchObject({
        envNames: ["PLAIN"],
        secretEnvNames: ["HF_TOKEN"],
        registrySecret: "ngc",
      });
      expect(JSON.stringify(answers.operator)).not.toContain(PLAIN);
    });

    it("deletes the job's secret values when the job ends", async () => {
      const holder = nodes.find((n) => n.nodeId === lease!.nodeId)!;
      const t = h.clock.now();
      await beat(holder.nodeKey, [
        { leaseId: lease!.id, phase: "succeeded", exitCode: 0, startedAt: t, endedAt: t },
      ]);
      expect((await h.store.jobs.getJob(jobId))!.state).toBe("succeeded");
      expect(await h.store.secrets.jobSecrets(jobId)).toEqual([]);
      expect(await storedText()).not.toContain(HF_TOKEN);
    });

    it("refuses bad secrets with a 400 naming what is wrong, and writes nothing", async () => {
      const before = await jobCount();
      const cases: [object, string][] = [
        [{ secretEnv: { "1BAD": "x" } }, '"1BAD" is not an environment variable name'],
        [{ secretEnv: { "A-B": "x" } }, '"A-B" is not an environment variable name'],
        [{ secretEnv: { CUDA_VISIBLE_DEVICES: "0" } }, "is set by the platform"],
        [{ secretEnv: { ZUMBIDO_LEASE_ID: "0" } }, "is set by the platform"],
        [{ env: { TOKEN: "a" }, secretEnv: { TOKEN: "b" } }, "TOKEN is both in env and in secretEnv"],
        [{ secretEnv: { BIG: "x".repeat(32 * 1024 + 1) } }, "at most 32768 bytes"],
        [
          { secretEnv: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`S${i}`, "x"])) },
          "at most 64 secret env values",
        ],
        [
          {
            secretEnv: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`S${i}`, "x".repeat(30_000)])),
          },
          "at most 131072 are accepted",
        ],
        [{ image: IMAGE, registrySecret: "nope" }, 'registry secret "nope" does not exist'],
        [{ registrySecret: "ngc" }, "needs an image"],
        [{ image: "ghcr.io/acme/train:1", registrySecret: "ngc" }, "is a login for nvcr.io, but image"],
        [{ image: IMAGE, registrySecret: "NGC!" }, "secret names are lower-case"],
      ];
      for (const [body, msg] of cases) {
        const r = await submit(body);
        expect(r.status, msg).toBe(400);
        expect(JSON.stringify(r.json), msg).toContain(msg.replace(/"/g, '\\"'));
      }
      // Another tenant cannot use this tenant's registry secret.
      const other = await submit({ image: IMAGE, registrySecret: "ngc" }, w.otherTenantKey);
      expect(other.status).toBe(400);
      expect(await jobCount()).toBe(before);
    });

    it("fails a job whose registry secret was deleted before it started, naming the secret", async () => {
      await call(h.app, w.tenantKey, "POST", "/v1/secrets", {
        name: "short-lived",
        type: "registry",
        registry: "nvcr.io",
        username: "u",
        password: "p",
      });
      const r = await submit({ image: IMAGE, registrySecret: "short-lived" });
      expect(r.status).toBe(201);
      expect((await call(h.app, w.tenantKey, "DELETE", "/v1/secrets/short-lived")).status).toBe(204);
      await h.loop.tick();
      const [l] = await h.store.jobs.leasesForJob(r.json.id);
      const holder = nodes.find((n) => n.nodeId === l!.nodeId)!;
      const answer = await beat(holder.nodeKey);
      expect(answer.assignments.find((a) => a.jobId === r.json.id)).toBeUndefined();
      const job = (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${r.json.id}`)).json;
      expect(job.state).toBe("failed");
      expect(job.stateReason).toContain('registry secret "short-lived" was deleted');
      expect(job.usage.gpuSeconds).toBe(0);
    });

    it("audits each secret stored or deleted: who, what, which name; never the value", async () => {
      const audit = (await call(h.app, h.adminKey, "GET", "/v1/audit")).json as {
        action: string;
        target: string | null;
        role: string;
        status: number;
      }[];
      const mine = audit.filter((e) => e.action.includes("/v1/secrets")).reverse();
      expect(mine.map((e) => [e.action, e.target, e.role, e.status])).toEqual([
        ["POST /v1/secrets", '{"name":"ngc"}', "tenant", 201],
        ["POST /v1/secrets", '{"name":"ngc"}', "tenant", 409],
        ["DELETE /v1/secrets/:name", '{"name":"ngc"}', "tenant", 404],
        ["POST /v1/secrets", null, "tenant", 400], // refused before the handler: no name taken
        ["POST /v1/secrets", '{"name":"short-lived"}', "tenant", 201],
        ["DELETE /v1/secrets/:name", '{"name":"short-lived"}', "tenant", 204],
      ]);
    });

    it("re-seals every value with the new key after a rotation; refuses to go on without the old key", async () => {
      const r = await submit({ secretEnv: { HF_TOKEN } });
      const old = h.services.ctx.secrets!;
      const fresh = new SecretBox([KEY_2]);
      await expect(resealSecrets(h.store, fresh)).rejects.toThrow(
        new RegExp(`sealed with key id\\(s\\) ${old.activeKeyId}`),
      );
      // The new key first, the old one after it: every value moves to the new key.
      const rotated = new SecretBox([KEY_2, KEY_1]);
      expect(await resealSecrets(h.store, rotated)).toBe(2); // the ngc login and this job's value
      expect(await resealSecrets(h.store, rotated)).toBe(0);
      const after = await h.store.secrets.jobSecrets(r.json.id);
      expect(after.map((x) => x.keyId)).toEqual([fresh.activeKeyId]);
      expect(rotated.open(after[0]!, `job:${r.json.id}:env:HF_TOKEN`)).toBe(HF_TOKEN);
      // Now the new key alone opens everything.
      expect(await resealSecrets(h.store, fresh)).toBe(0);
      h.services.ctx.secrets = fresh;
    });
  });
}
