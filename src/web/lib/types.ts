// Shapes of the API's answers, as the console reads them.

/** GET /v1/me */
export interface Me {
  role: "admin" | "operator" | "tenant" | "node";
  ownerId: string | null;
  name: string | null;
  keyId: string;
}

/** One row of GET /v1/capacity: a site's offer for one GPU model. */
export interface Offer {
  siteId: string;
  siteName: string;
  country: string;
  gpuModel: string;
  totalGpus: number;
  freeGpus: number;
  onDemandMinorPerGpuHour: number;
  interruptibleMinorPerGpuHour: number;
  currency: string;
  carbonGPerKwh: number | null;
  pue: number;
}

/** One model of GET /v1/gpu-models. */
export interface GpuModelInfo {
  id: string;
  name: string;
  memoryGb: number;
  tdpW: number;
  relThroughput: number;
}

/** A job as GET /v1/jobs returns it. */
export interface Job {
  id: string;
  tenantId: string;
  name: string;
  request: {
    gpus: number;
    gpuModels: string[];
    class: string;
    jurisdiction?: string;
    countries?: string[];
    maxPriceMinorPerGpuHour?: number;
    maxCarbonGPerKwh?: number;
    gpusPerNode?: number;
    minGpuMemoryGb?: number;
  };
  spec: { command: string[]; image?: string; network?: boolean };
  state: string;
  stateReason?: string | null;
  reasons: string[];
  submittedAt: number;
  startedAt?: number | null;
  endedAt?: number | null;
  exitCode?: number | null;
}

/** One bill line. */
export interface Charge {
  leaseId: string;
  jobId: string;
  siteId: string;
  country: string;
  gpuModel: string;
  gpus: number;
  class: string;
  priceMinorPerGpuHour: number;
  gpuSeconds: number;
  costMinor: number;
  energyWh: number;
  energySource: "measured" | "modelled" | "none";
}

/** GET /v1/jobs/:id */
export interface JobView extends Job {
  leases: {
    id: string;
    siteId: string;
    nodeId: string;
    country: string;
    gpuModel: string;
    gpuIndices: number[];
    state: string;
    priceMinorPerGpuHour: number;
  }[];
  usage: { gpuSeconds: number; costMinor: number; energyWh: number; currency: string; lines: Charge[] };
  placements: { siteId: string; country: string; nodeId: string; from: number | null; to: number | null }[];
}

/** A job's state change. */
export interface JobEvent {
  id: number;
  at: number;
  state: string;
  message: string;
}

/** A chunk of a job's log. */
export interface LogLine {
  id: number;
  leaseId: string;
  stream: string;
  text: string;
  at: number;
}

/** GET /v1/sites */
export interface Site {
  id: string;
  operatorId: string;
  name: string;
  country: string;
  powerKw: number;
  pue: number;
  cooling: string;
  nodeOverheadW: number;
  carbonGPerKwh?: number | null;
  /** Image a job that names none runs in here. */
  defaultImage?: string | null;
  allowImages?: string[];
  denyImages?: string[];
  allowNetwork?: boolean;
}

/** GET /v1/prices */
export interface Price {
  siteId: string;
  gpuModel: string;
  onDemandMinorPerGpuHour: number;
  interruptibleMinorPerGpuHour: number;
}

/** One site of GET /v1/operator/summary. */
export interface SiteSummary {
  id: string;
  name: string;
  country: string;
  pue: number;
  cooling: string;
  carbonGPerKwh: number | null;
  contractedKw: number;
  powerDrawKw: number;
  gpusTotal: number;
  gpusBusy: number;
  revenue: { grossMinor: number; feeMinor: number; netMinor: number; gpuSeconds: number };
  nodes: {
    id: string;
    name: string;
    state: string;
    stateReason: string | null;
    lastHeartbeatAt: number | null;
    gpuModel: string | null;
    gpus: { index: number; healthy: boolean; busy: boolean; jobId: string | null }[];
  }[];
}

/** GET /v1/operator/summary */
export interface OperatorSummary {
  at: number;
  month: string;
  currency: string;
  feeBps: number;
  sites: SiteSummary[];
  totals: {
    gpusTotal: number;
    gpusBusy: number;
    powerDrawKw: number;
    contractedKw: number;
    revenueGrossMinor: number;
    revenueNetMinor: number;
  };
}

/** GET /v1/sites/:id/utilisation */
export interface Utilisation {
  siteId: string;
  from: number;
  to: number;
  stepMs: number;
  totalGpus: number;
  contractedKw: number;
  points: { at: number; busyPeak: number; busyAvg: number; powerKw: number }[];
}
