// Issue 15: a volume's storage is billed per GB-hour through the ledger, lands on the invoice as one
// line, and a second run or a restarted control plane never charges it twice (SQLite and PostgreSQL).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { billingRoutes } from "../../src/api/routes/billing.js";
import { LedgerService } from "../../src/control/ledger-service.js";
import { storageLineId } from "../../src/ledger/index.js";
import { worldOn, type World } from "../helpers/fixtures.js";
import { call, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

const MIN = 60_000;

for (const factory of STORES) {
  describe(`storage billing (${factory.name})`, () => {
    let h: Harness;
    let w: World;
    let skip = false;
    beforeAll(async () => {
      const on = await worldOn(factory, "storage billing", [billingRoutes]);
      if (on) ({ h, w } = on);
      else skip = true;
    });
    afterAll(async () => h?.close());

    it("charges GB-hours once, across repeated runs and a restart, as one invoice line", async () => {
      if (skip) return;
      // 10 GB at 0.73 EUR per GB-month: 1 cent per hour.
      await call(h.app, w.operatorKey, "PUT", `/v1/sites/${w.sites.es}/storage`, {
        path: "/srv/vols",
        capacityBytes: 100e9,
        priceMinorPerGbMonth: 73,
      });
      h.clock.advance(10 * MIN); // 08:10
      const v = await call(h.app, w.tenantKey, "POST", "/v1/volumes", {
        name: "ds",
        siteId: w.sites.es,
        sizeBytes: 10e9,
      });
      expect(v.status).toBe(201);
      h.clock.advance(5 * 60 * MIN + 20 * MIN); // 13:30: charged to 13:00, 4 h 50 min = 4.83 cents -> 5
      const first = new LedgerService(h.services.ctx);
      await first.charge();
      await first.charge();
      h.clock.advance(5 * MIN);
      // A restarted control plane (a fresh service over the same store) in the same hour adds nothing.
      await new LedgerService(h.services.ctx).charge({ all: true });
      const txs = await h.store.ledger.transactions({ leaseIds: [storageLineId(v.json.id)] });
      expect(txs.map((t) => [t.idempotencyKey, t.line!.grossMinor])).toEqual([
        [`storage-charge:${v.json.id}:2026-11:2026-11-02T13:00Z`, 5],
      ]);
      const inv = await call(h.app, w.tenantKey, "GET", "/v1/invoices/2026-11");
      expect(inv.status).toBe(200);
      const lines = inv.json.lines.filter((l: { storage?: unknown }) => l.storage);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        jobId: "volume:ds",
        amountMinor: 5,
        storage: {
          volumeId: v.json.id,
          volume: "ds",
          sizeBytes: 10e9,
          gbHours: 48.333,
          rateMinorPerGbMonth: 73,
        },
      });
      // Another tenant's invoice carries none of it.
      const other = await call(h.app, w.otherTenantKey, "GET", "/v1/invoices/2026-11");
      expect(other.json.lines ?? []).toEqual([]);
      // Deleted 30 minutes into the next hour: charged to the deletion, then never again.
      h.clock.set(Date.UTC(2026, 10, 2, 14, 30));
      expect((await call(h.app, w.tenantKey, "DELETE", `/v1/volumes/${v.json.id}`)).status).toBe(200);
      h.clock.set(Date.UTC(2026, 10, 3, 0, 0));
      await first.charge();
      await first.charge();
      const after = await h.store.ledger.transactions({ leaseIds: [storageLineId(v.json.id)] });
      // 6 h 20 min = 6.33 cents -> 6 in all; the second transaction is the delta of 1.
      expect(after.map((t) => t.line!.grossMinor)).toEqual([5, 1]);
    });
  });
}
