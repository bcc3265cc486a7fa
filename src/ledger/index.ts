/** The ledger core: accounts, balanced transactions, charges, VAT, invoices, payouts, spend limits. */
export * from "./accounts.js";
export * from "./postings.js";
export * from "./periods.js";
export * from "./vat.js";
export * from "./charges.js";
export * from "./movements.js";
export * from "./invoice.js";
export * from "./render.js";
export * from "./spend.js";
export { canonicalJson } from "./canonical.js";
export * from "./usage-bounds.js";
export * from "./storage.js";
