/** The energy core: series, per-job energy and carbon, EU indicators, curtailment and deferral. */
export * from "./series.js";
export * from "./job-energy.js";
export * from "./indicators.js";
export * from "./curtailment.js";
export * from "./deferral.js";
export * from "./energy-csv.js";
