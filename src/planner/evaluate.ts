/**
 * Evaluates a configuration of the site (share of power mining, what the rest does) into cash
 * flows, and searches the hybrid split with the best NPV.
 */
import { addInto, emptyFlows, netFlows, npv } from "./flows.js";
import type { Flows } from "./flows.js";
import { gpuCloudFlows, gpuSetup, gpusFor } from "./gpu-cloud.js";
import type { GpuSetup } from "./gpu-cloud.js";
import { hostingFlows } from "./hosting.js";
import { basePath, miningFlows, miningSetup, NEUTRAL } from "./mining.js";
import type { Levers, MarketPath, MiningSetup } from "./mining.js";
import type { Scenario } from "./schema.js";

/** What the non-mining share of the site does. */
export type AiMode = "hosting" | "gpuCloud";

/** A configuration: share of site power mining (0..1) and the use of the rest. */
export interface Config {
  readonly miningShare: number;
  readonly aiMode: AiMode | null;
}

/** Scenario plus everything derived from it once. */
export interface Context {
  readonly s: Scenario;
  readonly mining: MiningSetup | undefined;
  readonly gpu: GpuSetup | undefined;
  readonly path: MarketPath;
}

/** Builds the evaluation context of a validated scenario. */
export function context(s: Scenario): Context {
  return {
    s,
    mining: s.mining ? miningSetup(s) : undefined,
    gpu: s.gpuCloud ? gpuSetup(s) : undefined,
    path: basePath(s),
  };
}

/** IT MW the AI share gets under a configuration (hosting: capped by the contract's itMw). */
export function aiItMw(ctx: Context, cfg: Config): number {
  const { s } = ctx;
  const aiShare = 1 - cfg.miningShare;
  if (cfg.aiMode === "hosting") {
    const h = s.hosting!;
    if (!s.site) return h.itMw;
    return Math.min(h.itMw, (aiShare * s.site.powerMw) / (h.pue ?? s.site.pue));
  }
  if (cfg.aiMode === "gpuCloud") {
    const g = ctx.gpu!;
    return (gpusFor(s, g, (aiShare * s.site!.powerMw) / g.pue) * g.itWattsPerGpu) / 1e6;
  }
  return 0;
}

/** GPUs the AI share runs under a configuration (0 unless aiMode is gpuCloud). */
export function aiGpus(ctx: Context, cfg: Config): number {
  if (cfg.aiMode !== "gpuCloud") return 0;
  const g = ctx.gpu!;
  return gpusFor(ctx.s, g, ((1 - cfg.miningShare) * ctx.s.site!.powerMw) / g.pue);
}

/** Cash flows of a configuration under a market path and levers. */
export function configFlows(
  ctx: Context,
  cfg: Config,
  path: MarketPath = ctx.path,
  lv: Levers = NEUTRAL,
): Flows {
  const { s } = ctx;
  const f = emptyFlows(s.horizonYears * 12);
  if (cfg.miningShare > 0 && ctx.mining)
    addInto(f, miningFlows(s, ctx.mining, cfg.miningShare * s.site!.powerMw, path, lv).flows);
  if (cfg.aiMode === "hosting") addInto(f, hostingFlows(s, aiItMw(ctx, cfg), lv));
  if (cfg.aiMode === "gpuCloud") addInto(f, gpuCloudFlows(s, ctx.gpu!, aiGpus(ctx, cfg), lv));
  return f;
}

/** NPV of a configuration (discount rate overridable for the sensitivity). */
export function configNpv(
  ctx: Context,
  cfg: Config,
  path: MarketPath = ctx.path,
  lv: Levers = NEUTRAL,
  rate = ctx.s.discountRate,
): number {
  return npv(netFlows(configFlows(ctx, cfg, path, lv)), rate);
}

/** One point of the split search. */
export interface SplitPoint {
  readonly miningShare: number;
  readonly miningMw: number;
  readonly aiMw: number;
  readonly npvUsd: number;
}

/** Shares to try: 0, step, ..., 1, plus the share that leaves the AI side exactly its contracted size. */
export function splitGrid(ctx: Context, aiMode: AiMode, step: number): number[] {
  const { s } = ctx;
  const set = new Set<number>();
  const n = Math.round(1 / step);
  for (let i = 0; i <= n; i++) set.add(Math.min(1, Math.round(i * step * 1e9) / 1e9));
  set.add(1);
  const power = s.site!.powerMw;
  let capFacilityMw: number | undefined;
  if (aiMode === "hosting") capFacilityMw = s.hosting!.itMw * (s.hosting!.pue ?? s.site!.pue);
  else if (s.gpuCloud!.gpus !== undefined)
    capFacilityMw = (s.gpuCloud!.gpus * ctx.gpu!.itWattsPerGpu * ctx.gpu!.pue) / 1e6;
  if (capFacilityMw !== undefined && capFacilityMw < power)
    set.add(Math.round((1 - capFacilityMw / power) * 1e9) / 1e9);
  return [...set].sort((a, b) => a - b);
}

/** NPV of every split on the grid; the best is the first with the highest NPV. */
export function searchSplit(
  ctx: Context,
  aiMode: AiMode,
  step: number,
): { curve: SplitPoint[]; best: SplitPoint } {
  const power = ctx.s.site!.powerMw;
  const curve = splitGrid(ctx, aiMode, step).map((share) => ({
    miningShare: share,
    miningMw: share * power,
    aiMw: (1 - share) * power,
    npvUsd: configNpv(ctx, { miningShare: share, aiMode }),
  }));
  let best = curve[0]!;
  for (const p of curve) if (p.npvUsd > best.npvUsd) best = p;
  return { curve, best };
}
