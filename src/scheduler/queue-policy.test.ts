import { describe, expect, expectTypeOf, it } from "vitest";
import {
  cheaperPreemption,
  chooseVictims,
  gittinsRule,
  indexLevel,
  queueRule,
  queueRuleFromHistory,
  preemptionCost,
  ServiceLearner,
  GITTINS_DEFAULTS,
} from "./queue-policy.js";
import type { QueueJobView, VictimView } from "./queue-policy.js";
import { job, site, snapshot } from "./testkit.js";
import { scheduleFast, unfinishedJobs } from "./schedule.js";
import { DEFAULT_POLICY } from "./types.js";

const view = (tenant: string, gpus: number, attainedGpuS: number): QueueJobView => ({
  job: 0,
  tenant,
  gpus,
  submittedAt: 0,
  attainedGpuS,
});

describe("queue policy (shared by the control plane and the simulator)", () => {
  it("its job view carries no duration: only what the control plane knows", () => {
    expectTypeOf<keyof QueueJobView>().toEqualTypeOf<
      "job" | "tenant" | "gpus" | "submittedAt" | "attainedGpuS"
    >();
  });

  it("Gittins index: a bimodal class ranks new jobs high and survivors of the short mode low", () => {
    const l = new ServiceLearner();
    // 90 jobs of 100 GPU-s, 10 of 100,000 GPU-s.
    l.addMany(
      Array.from({ length: 100 }, (_, k) => ({
        tenant: "vc",
        gpus: 1,
        serviceGpuS: k % 10 === 0 ? 100_000 : 100,
      })),
    );
    const fresh = l.index("vc", 1, 0);
    const survivor = l.index("vc", 1, 600); // past the short mode (a grid point)
    // At 0: finishing 90% within 100 GPU-s -> about 0.9 / (0.9*100 + 0.1*100) = 1/111.
    expect(fresh).toBeCloseTo(0.9 / 100, 6);
    // Past 100 GPU-s only the long mode is left: 1 / (100,000 - 600).
    expect(survivor).toBeCloseTo(1 / (100_000 - 600), 9);
    expect(indexLevel(fresh)).toBeLessThan(indexLevel(survivor));
    // Deterministic: the same history gives the same table.
    // Learning online (tables refreshed as jobs finish) gives nearly the same answer, deterministically.
    const online = new ServiceLearner();
    for (let k = 0; k < 100; k++) online.add("vc", 1, k % 10 === 0 ? 100_000 : 100);
    expect(online.index("vc", 1, 0)).toBeCloseTo(fresh, 3);
    const again = new ServiceLearner();
    for (let k = 0; k < 100; k++) again.add("vc", 1, k % 10 === 0 ? 100_000 : 100);
    expect(again.index("vc", 1, 0)).toBe(online.index("vc", 1, 0));
  });

  it("falls back to coarser classes, then to a LAS-like guess when nothing finished got that far", () => {
    const l = new ServiceLearner();
    for (let k = 0; k < 40; k++) l.add("a", 1, 500);
    // Tenant b has no history: the all-tenants class with one GPU answers.
    expect(l.index("b", 1, 0)).toBe(l.index("a", 1, 0));
    // Nobody got past 500 GPU-s: expect as much again as attained.
    const k = l.gridPoint(10_000);
    expect(l.index("a", 1, 10_000)).toBe(1 / (l.grid[k]! + GITTINS_DEFAULTS.gridBaseGpuS));
  });

  it("addMany (the control plane, each cycle) builds the same tables as learning online to the end", () => {
    const hist = Array.from({ length: 300 }, (_, k) => ({
      tenant: `t${k % 3}`,
      gpus: k % 5 === 0 ? 8 : 1,
      serviceGpuS: 50 + ((k * 7919) % 20_000),
    }));
    const batch = new ServiceLearner();
    batch.addMany(hist);
    const online = new ServiceLearner({ ...GITTINS_DEFAULTS, minSamples: 1 });
    online.addMany(hist);
    for (const a of [0, 100, 5_000, 50_000]) expect(batch.index("t1", 1, a)).toBe(online.index("t1", 1, a));
  });

  it("counts unfinished jobs as censored samples (Kaplan-Meier): finished jobs alone are biased short", () => {
    const finished = Array.from({ length: 16 }, () => ({ tenant: "vc", gpus: 1, serviceGpuS: 100 }));
    const plain = new ServiceLearner();
    plain.addMany(finished);
    // Every finished job took 100 GPU-s: a new job expects to be done in 100.
    expect(plain.index("vc", 1, 0)).toBeCloseTo(1 / 100, 12);
    // As many jobs of the class are still running, past 1,000 GPU-s: half the class outlives 100
    // GPU-s (Kaplan-Meier: 16 ends among 32 at risk), so the chance per GPU-second halves.
    const km = new ServiceLearner();
    km.unfinished = () => [
      ...Array.from({ length: 16 }, () => ({ tenant: "vc", gpus: 1, attainedGpuS: 1_000 })),
      // Jobs that have had no service yet say nothing; another tenant's jobs are not this class.
      ...Array.from({ length: 50 }, () => ({ tenant: "vc", gpus: 1, attainedGpuS: 0 })),
      ...Array.from({ length: 50 }, () => ({ tenant: "other", gpus: 1, attainedGpuS: 5_000 })),
    ];
    km.addMany(finished);
    expect(km.index("vc", 1, 0)).toBeCloseTo(0.5 / 100, 12);
    expect(indexLevel(km.index("vc", 1, 0))).toBe(indexLevel(plain.index("vc", 1, 0)) + 1);
    // Past every finished job the estimate says nothing: the LAS-like guess, as before.
    const k = km.gridPoint(600);
    expect(km.index("vc", 1, 600)).toBe(1 / (km.grid[k]! + GITTINS_DEFAULTS.gridBaseGpuS));
    // Learning online reads the unfinished jobs at each rebuild, and a rule passes them on.
    const rule = gittinsRule();
    rule.watchUnfinished!(() => [{ tenant: "vc", gpus: 1, attainedGpuS: 1_000 }]);
    for (let n = 0; n < 16; n++) rule.onFinish(view("vc", 1, 100));
    // 16 ends among 17 at risk.
    expect(rule.learner.index("vc", 1, 0)).toBeCloseTo(16 / 17 / 100, 12);
  });

  it("the control plane's censored samples: pending jobs with service and running jobs, each once", () => {
    const snap = snapshot(site("a").node("a1").gpus("H100", 8).node("a2").gpus("H100", 8))
      .lease("multi", "a1", [0, 1, 2, 3], { tenant: "t1", startedAt: 0 })
      .lease("multi", "a2", [0, 1, 2, 3], { tenant: "t1", startedAt: 0 })
      .lease("single", "a1", [4], { tenant: "t2", startedAt: 1_000_000 })
      .build();
    snap.leases[0]!.jobGpus = 8;
    snap.leases[1]!.jobGpus = 8;
    snap.leases[0]!.attainedGpuS = 16_000;
    snap.leases[1]!.attainedGpuS = 16_000;
    const requeued = { ...job("again").of("t3").gpus(2).build(), attainedGpuS: 700 };
    const out = unfinishedJobs([requeued, job("new").of("t3").gpus(1).build()], snap.leases, 2_000_000);
    expect(out).toEqual([
      { tenant: "t3", gpus: 2, attainedGpuS: 700 },
      { tenant: "t3", gpus: 1, attainedGpuS: 0 },
      { tenant: "t1", gpus: 8, attainedGpuS: 16_000 },
      { tenant: "t2", gpus: 1, attainedGpuS: 1_000 },
    ]);
    // The rule the control plane builds reads them: long-running jobs of a class push its new jobs down.
    const finished = Array.from({ length: 16 }, () => ({ tenantId: "t1", gpus: 8, serviceGpuS: 1_000 }));
    const longRunning = Array.from({ length: 48 }, () => ({ tenant: "t1", gpus: 8, attainedGpuS: 50_000 }));
    const without = queueRuleFromHistory("zumbido", finished);
    const withRunning = queueRuleFromHistory("zumbido", finished, {}, () => longRunning);
    expect(withRunning.level(view("t1", 8, 0))).toBe(without.level(view("t1", 8, 0)) + 2);
  });

  it("levels change only at grid points of attained service", () => {
    const r = gittinsRule();
    expect(r.nextCheck(view("a", 1, 0))).toBe(GITTINS_DEFAULTS.gridBaseGpuS);
    expect(r.nextCheck(view("a", 1, GITTINS_DEFAULTS.gridBaseGpuS + 1))).toBe(
      GITTINS_DEFAULTS.gridBaseGpuS * 2,
    );
    const las = queueRule("las");
    expect(las.level(view("a", 1, 3_599))).toBe(0);
    expect(las.level(view("a", 1, 3_600))).toBe(1);
    expect(las.nextCheck(view("a", 1, 3_600))).toBe(36_000);
  });

  it("preemption choice: lowest priority first, then the latest started; hysteresis margin and minimum run", () => {
    const rule = { ...gittinsRule({ victimCostK: 0, victimMaxLostS: 0 }), preemptMargin: 2, minRunS: 100 };
    const running: VictimView[] = [
      { level: 9, gpus: 2, runStart: 0, order: 0 },
      { level: 12, gpus: 2, runStart: 10, order: 1 },
      { level: 12, gpus: 2, runStart: 50, order: 2 },
      { level: 20, gpus: 2, runStart: 990, order: 3 }, // started too recently
    ];
    expect(chooseVictims(rule, 8, 2, 0, running, 1_000)).toEqual([2]);
    expect(chooseVictims(rule, 8, 4, 0, running, 1_000)).toEqual([2, 1]);
    expect(chooseVictims(rule, 8, 6, 0, running, 1_000)).toBeNull(); // level 9 is within the margin
    expect(chooseVictims(rule, 7, 6, 0, running, 1_000)).toEqual([2, 1, 0]);
    expect(chooseVictims(rule, 8, 2, 0, running, 2_000)).toEqual([3]);
  });

  it("return margin: a preempted gang of a whole node preempts at 1 level, every other job at 3", () => {
    const r = gittinsRule();
    expect(r.minMargin).toBe(1);
    expect(r.marginFor!(view("a", 8, 10_000))).toBe(1); // held GPUs before: a preempted gang
    expect(r.marginFor!(view("a", 8, 0))).toBe(3); // a new gang
    expect(r.marginFor!(view("a", 4, 10_000))).toBe(3); // less than a node
    expect("marginFor" in gittinsRule({ returnMargin: 3 })).toBe(false);
    // chooseVictims takes the waiting job's margin.
    const running: VictimView[] = [{ level: 15, gpus: 8, runStart: 0, order: 0 }];
    const noCost = gittinsRule({ victimCostK: 0 });
    expect(chooseVictims(noCost, 13, 8, 0, running, 10)).toBeNull();
    expect(chooseVictims(noCost, 13, 8, 0, running, 10, 1)).toEqual([0]);
  });

  it("the control plane: a preempted 8-GPU job takes a node back from a lease 2 levels below it; a 4-GPU one does not", () => {
    const now = 10_000_000;
    const snap = snapshot(site("a").node("a1").gpus("H100", 8))
      .lease("low", "a1", [0, 1, 2, 3, 4, 5, 6, 7], { class: "interruptible", startedAt: now - 1_900_000 })
      .build();
    // No history: levels are the LAS-like guess, floor(log2(grid point + 300)): 13 at 10,000 GPU-s
    // attained, 15 at 40,000. The lease checkpointed 100 s ago, so the cost test passes.
    snap.leases[0]!.attainedGpuS = 40_000;
    const back = { ...job("back").interruptible().gpus(8).build(), attainedGpuS: 10_000 };
    const ds = scheduleFast(snap, [back], DEFAULT_POLICY, now);
    expect(ds.map((d) => d.kind)).toEqual(["preempt", "wait"]);
    expect(ds[0]).toMatchObject({ leaseId: "lease-low-a1", forJobId: "back" });
    const half = { ...job("half").interruptible().gpus(4).build(), attainedGpuS: 10_000 };
    expect(scheduleFast(snap, [half], DEFAULT_POLICY, now).map((d) => d.kind)).toEqual(["wait"]);
  });

  it("cost-aware preemption: a victim is stopped only when the gain repays K times its restart cost", () => {
    // K = 2, grace 30 s + restore 60 s + work since its last checkpoint (every 1,800 s from its start);
    // no bound on that work here (the next test has it).
    const rule = gittinsRule({ victimCostK: 2, victimMaxLostS: 0 });
    const one = (level: number, gpus: number, runStart: number): VictimView[] => [
      { level, gpus, runStart, order: 0 },
    ];
    // 2^13.5 - 2^8.5 = 11,223 GPU-s of gain; a 1-GPU victim 1,000 s after a checkpoint costs 2 x 1,090.
    expect(chooseVictims(rule, 8, 1, 0, one(13, 1, 0), 1_000)).toEqual([0]);
    // The same victim on 8 GPUs costs 2 x 8,720 GPU-s: not worth it.
    expect(chooseVictims(rule, 8, 1, 0, one(13, 8, 0), 1_000)).toBeNull();
    // ... until it has just checkpointed (1,810 s after its start: 10 s of work to lose).
    expect(chooseVictims(rule, 8, 1, 0, one(13, 8, 0), 1_810)).toEqual([0]);
    // A waiting job that may stop anything (the control plane's on-demand jobs) pays no cost test.
    expect(chooseVictims(rule, Number.NEGATIVE_INFINITY, 1, 0, one(0, 8, 0), 1_000)).toEqual([0]);
    // las has no cost test.
    expect(chooseVictims(queueRule("las"), 0, 1, 0, one(1, 8, 0), 1_000)).toEqual([0]);
    // When the victim reported its last checkpoint, the test charges the work since then instead.
    const saved = (savedAt: number): VictimView[] => [{ level: 13, gpus: 8, runStart: 0, order: 0, savedAt }];
    expect(chooseVictims(rule, 8, 1, 0, saved(990), 1_000)).toEqual([0]); // 10 s since it saved
    expect(chooseVictims(rule, 8, 1, 0, saved(0), 1_810)).toBeNull(); // saved at its start: 1,810 s to lose
  });

  it("checkpoint-aligned preemption: a victim more than 600 s of work past its last checkpoint keeps running", () => {
    const rule = gittinsRule({ victimCostK: 0 });
    expect(GITTINS_DEFAULTS.victimMaxLostS).toBe(600);
    const v = (runStart: number, savedAt?: number): VictimView[] => [
      { level: 20, gpus: 1, runStart, order: 0, ...(savedAt !== undefined ? { savedAt } : {}) },
    ];
    expect(chooseVictims(rule, 8, 1, 0, v(0, 9_400), 10_000)).toEqual([0]); // 600 s since it saved
    expect(chooseVictims(rule, 8, 1, 0, v(0, 9_399), 10_000)).toBeNull(); // 601 s
    // Unknown: estimated from its start, a checkpoint every 1,800 s (10,000 mod 1,800 = 1,000 s).
    expect(chooseVictims(rule, 8, 1, 0, v(0), 10_000)).toBeNull();
    expect(chooseVictims(rule, 8, 1, 0, v(0), 9_500)).toEqual([0]); // 500 s
    // A waiting job that may stop anything is exempt; 0 turns the bound off.
    expect(chooseVictims(rule, Number.NEGATIVE_INFINITY, 1, 0, v(0), 10_000)).toEqual([0]);
    expect(chooseVictims(gittinsRule({ victimCostK: 0, victimMaxLostS: 0 }), 8, 1, 0, v(0), 10_000)).toEqual([
      0,
    ]);
    expect("worthPreempting" in gittinsRule({ victimCostK: 0, victimMaxLostS: 0 })).toBe(false);
  });

  it("the node to preempt on (both loops): fewest GPUs stopped, then least work lost since the victims' checkpoints", () => {
    const running: VictimView[] = [
      { level: 9, gpus: 2, runStart: 0, order: 0, savedAt: 900 },
      { level: 9, gpus: 1, runStart: 500, order: 1 },
      { level: 9, gpus: 4, runStart: 0, order: 2, savedAt: 2_000 }, // a report from the future counts as now
    ];
    expect(preemptionCost(running, [0], 1_000)).toEqual({ gpus: 2, lostGpuS: 200 });
    expect(preemptionCost(running, [1], 1_000)).toEqual({ gpus: 1, lostGpuS: 500 });
    expect(preemptionCost(running, [0, 1], 1_000)).toEqual({ gpus: 3, lostGpuS: 700 });
    expect(preemptionCost(running, [2], 1_000)).toEqual({ gpus: 4, lostGpuS: 0 });
    const c = (gpus: number, lostGpuS: number) => ({ gpus, lostGpuS });
    expect(cheaperPreemption(c(8, 1e9), null)).toBe(true);
    expect(cheaperPreemption(c(1, 500), c(2, 200))).toBe(true); // fewer GPUs wins over less work
    expect(cheaperPreemption(c(2, 100), c(2, 200))).toBe(true);
    expect(cheaperPreemption(c(2, 200), c(2, 200))).toBe(false); // a tie keeps the node found first
    expect(cheaperPreemption(c(4, 0), c(2, 200))).toBe(false);
  });

  it("the control plane orders its queue by the learned levels: a job of a short-job tenant goes first", () => {
    const finished = [
      ...Array.from({ length: 40 }, () => ({ tenantId: "quick", gpus: 4, serviceGpuS: 400 })),
      ...Array.from({ length: 40 }, () => ({ tenantId: "slow", gpus: 4, serviceGpuS: 400_000 })),
    ];
    const snap = { ...snapshot(site("a").node("a1").gpus("H100", 4)).build(), finishedService: finished };
    const pending = [
      job("long").of("slow").gpus(4).submitted(0).build(),
      job("short").of("quick").gpus(4).submitted(5).build(),
    ];
    const ds = scheduleFast(snap, pending, DEFAULT_POLICY, 10);
    expect(ds.find((d) => d.kind === "place")).toMatchObject({ jobId: "short" });
    // The reversed history reverses the order.
    const swapped = finished.map((f) => ({ ...f, tenantId: f.tenantId === "quick" ? "slow" : "quick" }));
    const rev = scheduleFast({ ...snap, finishedService: swapped }, pending, DEFAULT_POLICY, 10);
    expect(rev.find((d) => d.kind === "place")).toMatchObject({ jobId: "long" });
    const rule = queueRuleFromHistory("zumbido", finished);
    expect(rule.level(view("quick", 4, 0))).toBeLessThan(rule.level(view("slow", 4, 0)));
  });

  it("the control plane preempts an interruptible lease the policy ranks far below a waiting interruptible job", () => {
    const finished = Array.from({ length: 40 }, (_, k) => ({
      tenantId: "t1",
      gpus: 4,
      serviceGpuS: k < 36 ? 400 : 4_000_000,
    }));
    const snap = {
      ...snapshot(site("a").node("a1").gpus("H100", 4))
        // It checkpointed 100 s ago: stopping it loses little (the rule stops nothing 600 s past one).
        .lease("old", "a1", [0, 1, 2, 3], { class: "interruptible", startedAt: 0, savedAt: 9_900_000 })
        .build(),
      finishedService: finished,
    };
    snap.leases[0]!.attainedGpuS = 40_000; // far past the short mode
    const ds = scheduleFast(snap, [job("new").interruptible().gpus(4).build()], DEFAULT_POLICY, 10_000_000);
    expect(ds.map((d) => d.kind)).toEqual(["preempt", "wait"]);
    expect(ds[0]).toMatchObject({ leaseId: "lease-old-a1", forJobId: "new" });
    // A lease of about the same priority is left alone (hysteresis).
    snap.leases[0]!.attainedGpuS = 0;
    const calm = scheduleFast(snap, [job("new").interruptible().gpus(4).build()], DEFAULT_POLICY, 10_000_000);
    expect(calm.map((d) => d.kind)).toEqual(["wait"]);
    // The cost test charges the grace this control plane gives (policy.preemptionGraceS): a grace
    // so long that no expected gain pays for it leaves the far-below lease running.
    snap.leases[0]!.attainedGpuS = 40_000;
    const costly = { ...DEFAULT_POLICY, preemptionGraceS: 1e15 };
    const kept = scheduleFast(snap, [job("new").interruptible().gpus(4).build()], costly, 10_000_000);
    expect(kept.map((d) => d.kind)).toEqual(["wait"]);
  });
});
