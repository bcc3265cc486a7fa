// The 5xx the fuzz suite (fuzz.test.ts) found, kept as cases on both stores:
// - PostgreSQL's 4-byte `real` columns refused tiny fractions (6.2e-86 W node overhead, 3.3e-108 g/kWh,
//   a 4.8e-76 kWh contract: "out of range for type real") and rounded pue 1.000000000000002 to 1;
// - a top-up of 9007199254740991 minor units was taken, after which every ledger sum overflowed the
//   safe integers: each later top-up and GET /v1/ledger/balances answered 500.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { billingRoutes } from "../../src/api/routes/billing.js";
import { ACCOUNT_LIMIT_MINOR, ledgerServiceFor } from "../../src/control/ledger-service.js";
import { buildWorld, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

for (const factory of STORES) {
  const available = await factory.available();
  describe.skipIf(!available)(`cases found by fuzzing: ${factory.name}`, () => {
    let h: Harness;
    let w: World;
    beforeAll(async () => {
      h = await startHarness(factory, [billingRoutes]);
      w = await buildWorld(h.app, h.adminKey);
    });
    afterAll(async () => h?.close());

    it("keeps tiny and precise fractions of sites and contracts exactly, on both stores", async () => {
      const patch = {
        powerKw: 8.985518892285801e-17,
        pue: 1.000000000000002,
        nodeOverheadW: 6.169764962835335e-86,
        carbonGPerKwh: 3.3177069199649e-108,
      };
      const r = await call(h.app, w.operatorKey, "PATCH", `/v1/sites/${w.sites.fi}`, patch);
      expect(r.status).toBe(200);
      const site = (await call(h.app, w.operatorKey, "GET", `/v1/sites/${w.sites.fi}`)).json;
      expect(site).toMatchObject(patch);
      const c = await call(h.app, h.adminKey, "POST", `/v1/sites/${w.sites.py}/contracts`, {
        kind: "ppa",
        periodStart: 1,
        periodEnd: 9007199254740991,
        kwh: 4.7563675934677884e-76,
        gPerKwh: 4.1055733468217517e-119,
      });
      expect(c.status).toBe(201);
    });

    it("refuses a top-up past 10^12 minor units, or one that takes an account past the ledger's limit", async () => {
      const huge = await call(h.app, h.adminKey, "POST", `/v1/tenants/${w.tenantId}/topups`, {
        amountMinor: 9007199254740991,
      });
      expect(huge.status).toBe(400);
      expect(huge.json.errors[0].path).toBe("body.amountMinor");
      const admin = { role: "admin" as const, ownerId: null, keyId: "key_admin" };
      await ledgerServiceFor(h.services.ctx).topup(admin, w.tenantId, { amountMinor: ACCOUNT_LIMIT_MINOR });
      const past = await call(h.app, h.adminKey, "POST", `/v1/tenants/${w.tenantId}/topups`, {
        amountMinor: 1,
      });
      expect(past.status).toBe(400);
      expect(past.json.detail).toMatch(/past the ledger's limit/);
      const other = await call(h.app, h.adminKey, "POST", `/v1/tenants/${w.tenantId}/topups`, {
        amountMinor: 1,
        via: "psp",
      });
      expect(other.status).toBe(400);
      const balances = await call(h.app, h.adminKey, "GET", "/v1/ledger/balances");
      expect(balances.status).toBe(200);
      expect(balances.json.trialBalance).toEqual([{ currency: "EUR", sumMinor: 0 }]);
    });
  });
}
