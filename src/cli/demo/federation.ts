import type { ApiClient } from "../../agent/client.js";
import { ApiClient as Client } from "../../agent/client.js";

/** One demo hall: where it is, what it has, what it asks. */
export interface DemoSite {
  name: string;
  country: string;
  lat: number;
  lon: number;
  powerKw: number;
  pue: number;
  cooling: "air" | "immersion" | "direct-liquid" | "hybrid";
  carbonGPerKwh: number;
  /** Simulated GPUs of its one demo node. */
  gpus: string;
  /** On-demand and interruptible prices, cents per GPU-hour, per model. */
  prices: Record<string, [number, number]>;
}

/**
 * The demo federation: three EU halls (two in Spain, one in Sweden) and one outside the EU
 * (Paraguay, hydro power, cheapest). Carbon figures are typical grid intensities for those
 * countries (gCO2e/kWh, rounded); prices are illustrative.
 */
export const DEMO_SITES: DemoSite[] = [
  {
    name: "Asturias Hall",
    country: "ES",
    lat: 43.36,
    lon: -5.85,
    powerKw: 2000,
    pue: 1.15,
    cooling: "air",
    carbonGPerKwh: 110,
    gpus: "H100x8",
    prices: { H100: [240, 120] },
  },
  {
    name: "Zaragoza Hall",
    country: "ES",
    lat: 41.65,
    lon: -0.88,
    powerKw: 800,
    pue: 1.3,
    cooling: "hybrid",
    carbonGPerKwh: 120,
    gpus: "A100x8",
    prices: { A100: [130, 60] },
  },
  {
    name: "Boden Hall",
    country: "SE",
    lat: 65.83,
    lon: 21.69,
    powerKw: 1500,
    pue: 1.08,
    cooling: "air",
    carbonGPerKwh: 30,
    gpus: "H100x8",
    prices: { H100: [265, 140] },
  },
  {
    name: "Alto Parana Hall",
    country: "PY",
    lat: -25.51,
    lon: -54.61,
    powerKw: 5000,
    pue: 1.25,
    cooling: "immersion",
    carbonGPerKwh: 25,
    gpus: "H100x8",
    prices: { H100: [150, 70] },
  },
];

/** Keys and ids of a seeded demo federation. */
export interface DemoSeed {
  adminKey: string;
  operatorKey: string;
  tenantKey: string;
  operatorId: string;
  tenantId: string;
  sites: { id: string; name: string; country: string; gpus: string }[];
}

/** Creates the demo operator, tenant, sites and prices through the public API. */
export async function seedDemo(
  server: string,
  adminKey: string,
  sites: DemoSite[] = DEMO_SITES,
): Promise<DemoSeed> {
  const admin: ApiClient = new Client(server, adminKey);
  const op = await admin.post<{ operator: { id: string }; key: string }>("/v1/operators", {
    name: "Hashfield Energy (demo)",
  });
  const tn = await admin.post<{ tenant: { id: string }; key: string }>("/v1/tenants", {
    name: "Acme AI (demo)",
    country: "ES",
    vatId: "ESB12345678",
    creditLimitMinor: 500_000,
  });
  const operator = new Client(server, op.key);
  const out: DemoSeed["sites"] = [];
  for (const s of sites) {
    const site = await operator.post<{ id: string }>("/v1/sites", {
      name: s.name,
      country: s.country,
      lat: s.lat,
      lon: s.lon,
      powerKw: s.powerKw,
      pue: s.pue,
      cooling: s.cooling,
      carbonGPerKwh: s.carbonGPerKwh,
    });
    for (const [model, [od, intr]] of Object.entries(s.prices)) {
      await operator.put(`/v1/sites/${site.id}/prices/${model}`, {
        onDemandMinorPerGpuHour: od,
        interruptibleMinorPerGpuHour: intr,
      });
    }
    out.push({ id: site.id, name: s.name, country: s.country, gpus: s.gpus });
  }
  return {
    adminKey,
    operatorKey: op.key,
    tenantKey: tn.key,
    operatorId: op.operator.id,
    tenantId: tn.tenant.id,
    sites: out,
  };
}

/** A one-time enrolment token for a site. */
export async function enrolmentToken(server: string, operatorKey: string, siteId: string): Promise<string> {
  const r = await new Client(server, operatorKey).post<{ token: string }>(
    `/v1/sites/${siteId}/enrolment-tokens`,
  );
  return r.token;
}
