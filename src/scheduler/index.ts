export * from "./types.js";
export { scheduleBasic, freeGpus, priceAt, siteRejection } from "./basic.js";
import { scheduleBasic } from "./basic.js";
import type { ScheduleFn } from "./types.js";

/** The scheduler the control plane uses. */
export const schedule: ScheduleFn = scheduleBasic;
