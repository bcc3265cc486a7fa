import { describe, it, expect } from "vitest";
import * as ledger from "./index.js";

describe("ledger index", () => {
  it("re-exports the public functions", () => {
    for (const name of [
      "makeTransaction",
      "appendTransaction",
      "correctionOf",
      "balancesOf",
      "chargeUsage",
      "dedupeUsage",
      "vatTreatment",
      "buildInvoices",
      "buildPayoutStatements",
      "renderInvoiceCsv",
      "renderInvoiceHtml",
      "decideSpend",
      "canAfford",
      "topupTransaction",
      "billingPeriodFor",
    ])
      expect(typeof (ledger as Record<string, unknown>)[name]).toBe("function");
  });
});
