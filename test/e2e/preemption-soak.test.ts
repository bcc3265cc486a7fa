// Soak on real processes (issue 15): a server, two agents running real child workloads with the local
// executor at one hall, and a seeded stream of interruptible and on-demand 8-GPU jobs, preemptions and
// cancels. A monitor reads the store throughout: no GPU is ever leased twice and no lease stays
// "stopping" past its grace period plus the stop timeout. Bounded: ZUMBIDO_SOAK_MS (default 40 s).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, type ApiClient } from "../../src/agent/client.js";
import type { Store } from "../../src/store/index.js";
import { startHall, type Hall } from "../helpers/hall.js";
import { waitFor } from "../helpers/processes.js";

const GRACE_S = 2;
const STOP_TIMEOUT_S = 3;
/** Allowed lateness of the server's own deadline: a scheduling cycle (200 ms) and a heartbeat, on a loaded machine. */
const SLACK_MS = 8_000;
const SOAK_MS = Number(process.env.ZUMBIDO_SOAK_MS ?? 40_000);

interface JobView {
  id: string;
  state: string;
  submittedAt: number;
  startedAt: number | null;
  request: { class: string };
  leases: { id: string; state: string; startedAt: number | null }[];
}

/** Deterministic PRNG (mulberry32) so a failing soak can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("preemption soak on real processes", () => {
  let hall: Hall;
  let tenant: ApiClient;
  let store: Store;
  const violations: string[] = [];
  let worstStopOverrunMs = Number.NEGATIVE_INFINITY;
  let checks = 0;
  let monitor: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    hall = await startHall({
      prefix: "zumbido-soak-",
      hall: "Soak Hall",
      graceS: GRACE_S,
      stopTimeoutS: STOP_TIMEOUT_S,
    });
    for (const name of ["soak-a", "soak-b"]) await hall.agent(name);
    await hall.ready(2, "both agents to enrol");
    ({ tenant, store } = hall);
    const check = async (): Promise<void> => {
      const now = Date.now();
      const held = new Map<string, string>();
      for (const l of await store.jobs.activeLeases()) {
        for (const g of l.gpuIndices) {
          const k = `${l.nodeId}#${g}`;
          const other = held.get(k);
          if (other) violations.push(`GPU ${k} leased twice: ${other} and ${l.id}`);
          held.set(k, l.id);
        }
        if (l.state === "stopping") {
          const over = now - ((l.stopDeadlineAt ?? now) + STOP_TIMEOUT_S * 1000);
          worstStopOverrunMs = Math.max(worstStopOverrunMs, over);
          if (over > SLACK_MS)
            violations.push(
              `lease ${l.id} stopping ${over} ms past its grace + stop timeout (${l.stopReason})`,
            );
        }
      }
      checks++;
    };
    const tick = (): void => {
      monitor = setTimeout(() => {
        check()
          .catch((err: unknown) => violations.push(`monitor: ${(err as Error).message}`))
          .finally(() => monitor !== undefined && tick());
      }, 250);
    };
    tick();
  }, 180_000);
  afterAll(async () => {
    const m = monitor;
    monitor = undefined;
    if (m) clearTimeout(m);
    await hall?.close();
  });

  const submit = (cls: "on-demand" | "interruptible", script: string, gpus = 8) =>
    hall.submit(cls, script, gpus);
  const job = (id: string) => hall.job<JobView>(id);
  /** Cancels a job; one that ended meanwhile answers 409, which is fine here. */
  const cancel = async (id: string): Promise<boolean> => {
    try {
      await tenant.post(`/v1/jobs/${id}/cancel`);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) return false;
      throw err;
    }
  };
  const polite = 'trap "echo checkpoint; exit 0" TERM; while :; do sleep 0.2; done';
  const stubborn = 'trap "" TERM; while :; do sleep 0.2; done';

  it("the wedge scenario: the on-demand job starts, the preempted one waits and never retakes its GPUs", async () => {
    const a = (await submit("interruptible", polite)).id;
    const b = (await submit("interruptible", stubborn)).id;
    await waitFor(
      async () => (await job(a)).state === "running" && (await job(b)).state === "running",
      "both spot jobs to run",
    );
    const t0 = Date.now();
    const od1 = (await submit("on-demand", "sleep 3")).id;
    const od2 = (await submit("on-demand", "sleep 3")).id;
    const both = await waitFor(
      async () => {
        const [x, y] = [await job(od1), await job(od2)];
        return x.state === "running" && y.state === "running" ? [x, y] : undefined;
      },
      "both on-demand jobs to run",
      (GRACE_S + STOP_TIMEOUT_S) * 1000 + 20_000,
    );
    const waited = Math.max(...both.map((j) => j.startedAt! - t0));
    console.log(
      `soak: two on-demand 8-GPU jobs started ${waited} ms after submission (grace ${GRACE_S} s, one ignores the notice)`,
    );
    // The polite one left within its grace period; the stubborn one was killed after it.
    expect(waited).toBeLessThan((GRACE_S + STOP_TIMEOUT_S) * 1000 + 10_000);
    for (const id of [a, b]) expect(["preempted", "pending"]).toContain((await job(id)).state);
    expect(violations).toEqual([]);
  }, 90_000);

  it(
    `soaks for ${SOAK_MS / 1000} s with no GPU leased twice and no lease stuck stopping`,
    async () => {
      const rnd = prng(Number(process.env.ZUMBIDO_SOAK_SEED ?? 15));
      const ids: string[] = [];
      const end = Date.now() + SOAK_MS;
      let submitted = 0;
      let cancels = 0;
      while (Date.now() < end) {
        const x = rnd();
        if (x < 0.35)
          ids.push((await submit("interruptible", rnd() < 0.7 ? polite : stubborn, rnd() < 0.7 ? 8 : 4)).id);
        else if (x < 0.7)
          ids.push((await submit("on-demand", `sleep ${1 + Math.floor(rnd() * 4)}`, rnd() < 0.7 ? 8 : 4)).id);
        else if (ids.length > 0) {
          const id = ids[Math.floor(rnd() * ids.length)]!;
          if (!["succeeded", "failed", "cancelled"].includes((await job(id)).state)) {
            await tenant.post(`/v1/jobs/${id}/cancel`);
            cancels++;
          }
        }
        submitted = ids.length;
        await new Promise((r) => setTimeout(r, 400 + rnd() * 1200));
      }
      // Wind down: cancel everything; every job must end and every lease with it.
      const all = await tenant.get<JobView[]>("/v1/jobs");
      for (const j of all) if (!["succeeded", "failed", "cancelled"].includes(j.state)) await cancel(j.id);
      const t = Date.now();
      await waitFor(
        async () =>
          (await tenant.get<JobView[]>("/v1/jobs")).every((j) =>
            ["succeeded", "failed", "cancelled"].includes(j.state),
          ) && (await store.jobs.activeLeases()).length === 0,
        "every job and lease to end after cancel",
        (GRACE_S + STOP_TIMEOUT_S) * 1000 + 20_000,
      );
      const states = new Map<string, number>();
      for (const j of await tenant.get<JobView[]>("/v1/jobs"))
        states.set(j.state, (states.get(j.state) ?? 0) + 1);
      console.log(
        `soak: ${SOAK_MS / 1000} s, ${submitted} jobs submitted, ${cancels} cancels mid-run, all ended ${Date.now() - t} ms after the final cancel; ` +
          `${checks} invariant checks, worst stop overrun ${worstStopOverrunMs} ms past grace + timeout (allowed ${SLACK_MS}); ` +
          `final states ${JSON.stringify(Object.fromEntries(states))}`,
      );
      expect(violations).toEqual([]);
    },
    SOAK_MS + 120_000,
  );
});
