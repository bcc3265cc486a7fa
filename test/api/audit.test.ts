// The audit trail: admin and operator actions and key changes, append-only, on both stores.
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extraRoutePlugins } from "../../src/api/plugins.js";
import { buildWorld, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

for (const factory of STORES) {
  const available = await factory.available();
  describe.skipIf(!available)(`audit trail (${factory.name})`, () => {
    let h: Harness;
    let w: World;
    beforeAll(async () => {
      h = await startHarness(factory, extraRoutePlugins());
      w = await buildWorld(h.app, h.adminKey);
    });
    afterAll(async () => h?.close());

    it("records who, what, when and from where; admins see all, operators their own, tenants none", async () => {
      // Before: there was no audit table and no GET /v1/audit (404).
      const key = await call(h.app, w.tenantKey, "POST", "/v1/keys", { role: "tenant", name: "ci" });
      expect(key.status).toBe(201);
      expect((await call(h.app, w.tenantKey, "DELETE", `/v1/keys/${key.json.record.id}`)).status).toBe(204);
      expect((await call(h.app, h.adminKey, "PUT", "/v1/settings/fee", { feeBps: 900 })).status).toBe(200);
      expect(
        (await call(h.app, w.operatorKey, "PATCH", `/v1/sites/${w.sites.es}`, { pue: 1.2 })).status,
      ).toBe(200);
      // Refused attempts are recorded with their status too.
      expect(
        (await call(h.app, w.otherOperatorKey, "PATCH", `/v1/sites/${w.sites.es}`, { pue: 2 })).status,
      ).toBe(403);

      const all = await call(h.app, h.adminKey, "GET", "/v1/audit?limit=1000");
      expect(all.status).toBe(200);
      const actions = all.json.map((e: { action: string }) => e.action);
      expect(actions).toContain("POST /v1/operators");
      expect(actions).toContain("POST /v1/keys");
      expect(actions).toContain("DELETE /v1/keys/:id");
      expect(actions).toContain("PUT /v1/settings/fee");
      const fee = all.json.find((e: { action: string }) => e.action === "PUT /v1/settings/fee");
      expect(fee).toMatchObject({ keyId: "key_admin", role: "admin", status: 200, source: "127.0.0.1" });
      expect(fee.at).toBe(h.clock.now());
      const revoke = all.json.find((e: { action: string }) => e.action === "DELETE /v1/keys/:id");
      expect(revoke).toMatchObject({ role: "tenant", target: JSON.stringify({ id: key.json.record.id }) });

      const own = await call(h.app, w.operatorKey, "GET", "/v1/audit");
      expect(own.status).toBe(200);
      expect(own.json.length).toBeGreaterThan(0);
      expect(own.json.every((e: { role: string; status: number }) => e.role === "operator")).toBe(true);
      expect(own.json.some((e: { status: number }) => e.status === 403)).toBe(false); // the other operator's
      const other = await call(h.app, w.otherOperatorKey, "GET", "/v1/audit");
      expect(other.json.some((e: { status: number }) => e.status === 403)).toBe(true);
      expect((await call(h.app, w.tenantKey, "GET", "/v1/audit")).status).toBe(403);
    });

    it("writes an audited request's entry before it answers, so entries follow the answers' order", async () => {
      // Before: the entry was written after the answer had gone (an onResponse hook), so a client's
      // next request could be recorded first, and a crash in between lost the entry.
      const audit = h.store.audit;
      const append = audit.append.bind(audit);
      audit.append = async (e) => {
        await new Promise((r) => setTimeout(r, 30));
        return append(e);
      };
      try {
        for (const pue of [1.21, 1.22, 1.23]) {
          const before = (await audit.list({ limit: 1 }))[0]?.id ?? 0;
          const r = await call(h.app, w.operatorKey, "PATCH", `/v1/sites/${w.sites.es}`, { pue });
          expect(r.status).toBe(200);
          const [last] = await audit.list({ limit: 1 });
          expect(last?.id).toBeGreaterThan(before);
          expect(last).toMatchObject({ action: "PATCH /v1/sites/:id", role: "operator", status: 200 });
        }
      } finally {
        audit.append = append;
      }
    });

    it("is append-only: the database refuses UPDATE and DELETE", async () => {
      const db = h.store.db.kysely;
      await expect(sql`UPDATE audit_log SET role = 'x'`.execute(db)).rejects.toThrow(/append-only/);
      await expect(sql`DELETE FROM audit_log`.execute(db)).rejects.toThrow(/append-only/);
      expect((await call(h.app, h.adminKey, "GET", "/v1/audit")).json.length).toBeGreaterThan(3);
    });
  });
}
