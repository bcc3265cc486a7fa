/**
 * Tornado sensitivity: NPV of one configuration with each uncertain input moved to a low and a
 * high value, one at a time, the others as written.
 */
import { configNpv } from "./evaluate.js";
import type { Config, Context } from "./evaluate.js";
import { NEUTRAL } from "./mining.js";
import type { Levers, MarketPath } from "./mining.js";

/** One bar of the tornado. */
export interface TornadoBar {
  readonly input: string;
  /** What low and high mean, e.g. "-30%" / "+30%". */
  readonly lowLabel: string;
  readonly highLabel: string;
  readonly npvLowUsd: number;
  readonly npvHighUsd: number;
  /** |npvHigh - npvLow|. */
  readonly swingUsd: number;
}

const scalePath = (p: MarketPath, btc: number, net: number): MarketPath => ({
  btcFactor: p.btcFactor.map((x) => x * btc),
  netFactor: p.netFactor.map((x) => x * net),
});

interface Move {
  input: string;
  lowLabel: string;
  highLabel: string;
  at: (low: boolean) => { path?: MarketPath; lv?: Partial<Levers>; rate?: number };
}

/** The inputs moved and by how much (fixed ranges, documented in README.md). */
export function moves(ctx: Context): Move[] {
  const r = ctx.s.discountRate;
  return [
    {
      input: "BTC price",
      lowLabel: "-30%",
      highLabel: "+30%",
      at: (lo) => ({ path: scalePath(ctx.path, lo ? 0.7 : 1.3, 1) }),
    },
    {
      input: "Network hashrate",
      lowLabel: "-20%",
      highLabel: "+20%",
      at: (lo) => ({ path: scalePath(ctx.path, 1, lo ? 0.8 : 1.2) }),
    },
    {
      input: "Power price",
      lowLabel: "-20%",
      highLabel: "+20%",
      at: (lo) => ({ lv: { electricityFactor: lo ? 0.8 : 1.2 } }),
    },
    {
      input: "GPU-hour price",
      lowLabel: "-20%",
      highLabel: "+20%",
      at: (lo) => ({ lv: { gpuPriceFactor: lo ? 0.8 : 1.2 } }),
    },
    {
      input: "Utilisation",
      lowLabel: "-10 pp",
      highLabel: "+10 pp",
      at: (lo) => ({ lv: { utilisationDelta: lo ? -0.1 : 0.1 } }),
    },
    {
      input: "AI capex",
      lowLabel: "-20%",
      highLabel: "+20%",
      at: (lo) => ({ lv: { capexFactor: lo ? 0.8 : 1.2 } }),
    },
    {
      input: "Hosting contract value",
      lowLabel: "-10%",
      highLabel: "+10%",
      at: (lo) => ({ lv: { hostingFactor: lo ? 0.9 : 1.1 } }),
    },
    {
      input: "Discount rate",
      lowLabel: `${round1((r - 0.02) * 100)}%`,
      highLabel: `${round1((r + 0.02) * 100)}%`,
      at: (lo) => ({ rate: Math.max(0, lo ? r - 0.02 : r + 0.02) }),
    },
  ];
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/** Tornado bars of a configuration, largest swing first; inputs that move nothing are left out. */
export function tornado(ctx: Context, cfg: Config): TornadoBar[] {
  const bars: TornadoBar[] = [];
  for (const m of moves(ctx)) {
    const val = (low: boolean): number => {
      const a = m.at(low);
      return configNpv(ctx, cfg, a.path ?? ctx.path, { ...NEUTRAL, ...a.lv }, a.rate ?? ctx.s.discountRate);
    };
    const lo = val(true);
    const hi = val(false);
    const swing = Math.abs(hi - lo);
    if (swing < 0.5) continue;
    bars.push({
      input: m.input,
      lowLabel: m.lowLabel,
      highLabel: m.highLabel,
      npvLowUsd: lo,
      npvHighUsd: hi,
      swingUsd: swing,
    });
  }
  return bars.sort((a, b) => b.swingUsd - a.swingUsd || a.input.localeCompare(b.input));
}
