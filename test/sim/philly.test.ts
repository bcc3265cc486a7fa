// Replays the real Philly traces from $ZUMBIDO_DATA_DIR (never copied into the repo).
// Under CI (CI=true) the folder must be set; elsewhere the suite says clearly that it did not run.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cutWindow, parseTraceCsv, uniformFleet } from "../../src/sim/index.js";
import type { TraceJob } from "../../src/sim/index.js";
import { runSimulation } from "../../src/sim/run.js";

const dir = process.env.ZUMBIDO_DATA_DIR;
const ci = process.env.CI === "true";

describe("Philly replays (ZUMBIDO_DATA_DIR)", () => {
  if (!dir) {
    if (ci) {
      it("needs ZUMBIDO_DATA_DIR under CI", () => {
        expect.fail(
          "ZUMBIDO_DATA_DIR is not set: CI must point it at the shared data folder (../shared/data)",
        );
      });
    } else {
      // Skipped with a reason: the real traces live outside the repo; set ZUMBIDO_DATA_DIR to run these.
      it.skip("ZUMBIDO_DATA_DIR is not set: the Philly replays did not run (set it to ../shared/data)", () => {});
      console.warn("test/sim: ZUMBIDO_DATA_DIR is not set; the Philly replay suite did NOT run");
    }
    return;
  }
  const week = join(dir, "traces/philly-pollux/philly_week_2017-10-09.csv");
  const full = join(dir, "traces/philly-pollux/philly.csv");

  it("the data files are there", () => {
    expect(existsSync(week), week).toBe(true);
    expect(existsSync(full), full).toBe(true);
  });

  // Issue 17 targets, default overheads (restore 60 s, checkpoints every 1,800 s). Asserted only
  // where they hold; README.md "Scheduling quality" has every week and load, misses included.
  const philly = () => parseTraceCsv(readFileSync(full, "utf8"));
  const weekOf = (trace: TraceJob[], monday: string) => {
    const s = Date.parse(`${monday}T00:00:00Z`) / 1000 - Date.parse("2017-09-04T10:30:41Z") / 1000;
    return cutWindow(trace, s, s + 7 * 86_400);
  };
  const compare = (trace: TraceJob[], gpus: number) => {
    const out = runSimulation({
      trace,
      fleet: uniformFleet(gpus),
      policies: ["fifo-backfill", "las", "srtf-oracle", "zumbido"],
    });
    const r = Object.fromEntries(out.map((o) => [o.result.policy, o.result]));
    for (const x of out) expect(x.result.violations, x.result.policy).toBe(0);
    return { fb: r["fifo-backfill"]!, las: r.las!, oracle: r["srtf-oracle"]!, z: r.zumbido! };
  };
  /** Four replays of a week: minutes on a shared machine. */
  const LONG = 900_000;
  const gapClosed = (c: ReturnType<typeof compare>) =>
    (c.las.avgJctS - c.z.avgJctS) / (c.las.avgJctS - c.oracle.avgJctS);

  it(
    "week 2017-10-09 at 512 GPUs: zumbido within 2% of srtf-oracle, fewer preemptions than las",
    () => {
      const trace = parseTraceCsv(readFileSync(week, "utf8"));
      expect(trace).toHaveLength(12_751);
      const c = compare(trace, 512);
      expect(c.z.avgJctS).toBeLessThanOrEqual(c.oracle.avgJctS * 1.02);
      expect(c.z.avgJctS).toBeLessThan(c.las.avgJctS);
      expect(c.z.preemptions).toBeLessThanOrEqual(c.las.preemptions);
    },
    LONG,
  );

  // Every heavy-load target (gap closed >= 60%, p99 within fifo-backfill's, preemptions <= las) is
  // met on the week at both loads (63% at 256 GPUs, 71% at 384), on 2017-10-16 at 384 (68%)
  // and on 2017-11-06 at 256 (61%).
  for (const [monday, gpus] of [
    ["2017-10-09", 256],
    ["2017-10-09", 384],
    ["2017-10-16", 384],
    ["2017-11-06", 256],
  ] as const) {
    it(
      `week ${monday} at ${gpus} GPUs: zumbido closes >= 60% of the las-to-oracle gap, p99 within fifo-backfill's, preemptions <= las`,
      () => {
        const c = compare(weekOf(philly(), monday), gpus);
        expect(gapClosed(c)).toBeGreaterThanOrEqual(0.6);
        expect(c.z.p99JctS).toBeLessThanOrEqual(c.fb.p99JctS);
        expect(c.z.preemptions).toBeLessThanOrEqual(c.las.preemptions);
      },
      LONG,
    );
  }

  // These close >= 60% with fewer preemptions than las, and waste less, but their p99 is above
  // fifo-backfill's (README.md "Scheduling quality" has every row, misses included).
  for (const [monday, gpus] of [
    ["2017-10-30", 256],
    ["2017-11-20", 256],
    ["2017-12-04", 384],
  ] as const) {
    it(
      `week ${monday} at ${gpus} GPUs: zumbido closes >= 60% of the gap, preemptions and wasted GPU time <= las`,
      () => {
        const c = compare(weekOf(philly(), monday), gpus);
        expect(gapClosed(c)).toBeGreaterThanOrEqual(0.6);
        expect(c.z.preemptions).toBeLessThanOrEqual(c.las.preemptions);
        expect(c.z.wastedGpuS).toBeLessThanOrEqual(c.las.wastedGpuS);
      },
      LONG,
    );
  }

  // The simulator-only bounds (docs/scheduling.md, tenth pass): on 2017-10-02 at 256 GPUs the zumbido
  // rule told the week's service distribution closes 73-79% (under four tie seeds) and on
  // srtf-oracle's levels 94-97%, where the product's online learner closes 32%.
  it(
    "week 2017-10-02 at 256 GPUs: zumbido-hindsight meets every target, zumbido-clairvoyant closes >= 90%",
    () => {
      const out = runSimulation({
        trace: weekOf(philly(), "2017-10-02"),
        fleet: uniformFleet(256),
        policies: ["fifo-backfill", "las", "srtf-oracle", "zumbido-hindsight", "zumbido-clairvoyant"],
      });
      const r = Object.fromEntries(out.map((o) => [o.result.policy, o.result]));
      for (const x of out) expect(x.result.violations, x.result.policy).toBe(0);
      const [las, oracle] = [r.las!, r["srtf-oracle"]!];
      const closed = (p: string) => (las.avgJctS - r[p]!.avgJctS) / (las.avgJctS - oracle.avgJctS);
      expect(closed("zumbido-hindsight")).toBeGreaterThanOrEqual(0.6);
      expect(r["zumbido-hindsight"]!.p99JctS).toBeLessThanOrEqual(r["fifo-backfill"]!.p99JctS);
      expect(r["zumbido-hindsight"]!.preemptions).toBeLessThanOrEqual(las.preemptions);
      expect(closed("zumbido-clairvoyant")).toBeGreaterThanOrEqual(0.9);
    },
    LONG,
  );

  // At 512 GPUs every week but 2017-10-02 (+2.2%) is within 2% of the oracle.
  it(
    "week 2017-10-23 at 512 GPUs: zumbido within 2% of srtf-oracle, preemptions <= las",
    () => {
      const c = compare(weekOf(philly(), "2017-10-23"), 512);
      expect(c.z.avgJctS).toBeLessThanOrEqual(c.oracle.avgJctS * 1.02);
      expect(c.z.preemptions).toBeLessThanOrEqual(c.las.preemptions);
    },
    LONG,
  );

  it(
    "full trace (82,247 jobs) on 1,024 GPUs: every job completes with 0 violations",
    () => {
      const trace = parseTraceCsv(readFileSync(full, "utf8"));
      expect(trace).toHaveLength(82_247);
      const [z] = runSimulation({ trace, fleet: uniformFleet(1024), policies: ["zumbido"] });
      expect(z!.result.violations).toBe(0);
      expect(z!.result.jobs).toBe(82_247);
    },
    LONG,
  );
});
