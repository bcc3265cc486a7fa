import type { Ctx } from "./context.js";

/** What /healthz answers: the store answers, which dialect it is, how long one read took, and the server's clock. */
export interface StoreHealth {
  status: "ok";
  store: string;
  storeLatencyMs: number;
  /** The server's time, ms since the epoch: `zumbido agent doctor` measures the node's clock offset with it. */
  serverTime: number;
}

/** Pings the store with one small read and times it (throws when the store does not answer). */
export async function storeHealth(ctx: Ctx): Promise<StoreHealth> {
  const t0 = performance.now();
  await ctx.store.accounts.getSetting("health");
  return {
    status: "ok",
    store: ctx.store.dialect,
    storeLatencyMs: Math.round((performance.now() - t0) * 1000) / 1000,
    serverTime: ctx.clock.now(),
  };
}
