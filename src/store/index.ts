export * from "./store.js";
export * from "./db.js";
export * from "./accounts-repo.js";
export * from "./fleet-repo.js";
export * from "./jobs-repo.js";
export * from "./usage-repo.js";
export * from "./ledger-repo.js";
export * from "./energy-repo.js";
