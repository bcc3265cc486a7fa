/** The conversion planner: public surface. */
export { plan, planFromJson } from "./plan.js";
export type {
  PlanOptions,
  PlanResult,
  MiningResult,
  HostingResult,
  GpuCloudResult,
  HybridResult,
  Recommendation,
} from "./plan.js";
export { parseScenario, formatErrors, scenarioSchema } from "./schema.js";
export type { Scenario, ScenarioInput, ScenarioError, ParseResult } from "./schema.js";
export { renderReport } from "./report.js";
export type { ReportOptions } from "./report.js";
export { asicModels, findAsic, plannerGpus, findPlannerGpu } from "./catalogue.js";
export { hashpriceUsdPerPhDay, breakevenUsdPerKwh, miningRevenueUsdPerMwYear } from "./mining.js";
export { hostingEconomics } from "./hosting.js";
