// Issue 15 end to end on real processes: a server, one agent running host workloads with the local
// executor, an interruptible job that counts steps into $ZUMBIDO_CHECKPOINT_DIR. An on-demand job
// preempts it; the on-demand job starts within the grace period plus a scheduling cycle (and a
// heartbeat); the interruptible job resumes on the same node and logs `RESUMED from N` (N > 0); its
// events list the notice, the preemption and the resume; no lease is left behind.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiClient } from "../../src/agent/client.js";
import type { Store } from "../../src/store/index.js";
import { startHall, type Hall } from "../helpers/hall.js";
import { waitFor } from "../helpers/processes.js";

const GRACE_S = 2;
const STOP_TIMEOUT_S = 3;
/** The server's scheduling cycle in these tests (startServerProc sets it) and the agent's busy heartbeat. */
const CYCLE_MS = 200;
const HEARTBEAT_MS = 1000;
/** A loaded 2-core machine: process start and a few round trips. */
const SLACK_MS = 3_000;

interface JobView {
  id: string;
  state: string;
  submittedAt: number;
  startedAt: number | null;
  leases: { id: string; nodeId: string; state: string; startedAt: number | null }[];
  checkpoint?: { nodeId: string; sizeBytes: number };
}

// Counts steps, saving each one (write then rename); on the notice it saves once more and leaves.
const COUNTER = [
  'd="$ZUMBIDO_CHECKPOINT_DIR"',
  'n=$(cat "$d/step" 2>/dev/null || echo 0)',
  '[ "$n" -gt 0 ] && echo "RESUMED from $n"',
  'trap \'echo "notice: $(cat "$ZUMBIDO_CHECKPOINT_NOTICE")"; echo $n > "$d/step"; exit 0\' TERM',
  'while :; do n=$((n+1)); echo $n > "$d/step.tmp" && mv "$d/step.tmp" "$d/step"; sleep 0.1; done',
].join("\n");

describe("checkpoint and resume on real processes", () => {
  let hall: Hall;
  let tenant: ApiClient;
  let store: Store;

  beforeAll(async () => {
    hall = await startHall({
      prefix: "zumbido-ckpt-",
      hall: "Resume Hall",
      graceS: GRACE_S,
      stopTimeoutS: STOP_TIMEOUT_S,
    });
    await hall.agent("ckpt-a");
    await hall.ready(1, "the agent to enrol");
    ({ tenant, store } = hall);
  }, 180_000);
  afterAll(async () => hall?.close());

  const submit = (cls: "on-demand" | "interruptible", script: string) => hall.submit(cls, script);
  const job = (id: string) => hall.job<JobView>(id);
  const logs = (id: string) => hall.logs(id);
  const events = (id: string) => hall.events(id);

  it("preempted, the interruptible job resumes on the same node from its checkpoint", async () => {
    const spot = (await submit("interruptible", COUNTER)).id;
    // It runs, and its node has reported a checkpoint.
    const first = await waitFor(
      async () => {
        const j = await job(spot);
        return j.state === "running" && j.checkpoint ? j : undefined;
      },
      "the interruptible job to run and save a checkpoint",
      60_000,
    );
    const node = first.leases[0]!.nodeId;
    expect(first.checkpoint!.nodeId).toBe(node);

    const od = (await submit("on-demand", "sleep 2")).id;
    const odRunning = await waitFor(
      async () => {
        const j = await job(od);
        return j.startedAt !== null ? j : undefined;
      },
      "the on-demand job to start",
      (GRACE_S + STOP_TIMEOUT_S) * 1000 + 20_000,
    );
    const waited = odRunning.startedAt! - odRunning.submittedAt;
    const bound = GRACE_S * 1000 + CYCLE_MS + HEARTBEAT_MS + SLACK_MS;
    console.log(
      `checkpoint e2e: the on-demand job started ${waited} ms after submission (grace ${GRACE_S * 1000} ms + cycle ${CYCLE_MS} ms + heartbeat ${HEARTBEAT_MS} ms; allowed ${bound} ms)`,
    );
    expect(waited).toBeLessThanOrEqual(bound);
    expect(odRunning.leases[0]!.nodeId).toBe(node);

    // After the on-demand job, the interruptible one comes back to the node holding its checkpoint.
    const text = await waitFor(
      async () => {
        const t = await logs(spot);
        return /RESUMED from \d+/.test(t) ? t : undefined;
      },
      "the interruptible job to resume",
      60_000,
    );
    const n = Number(/RESUMED from (\d+)/.exec(text)![1]);
    console.log(`checkpoint e2e: resumed from step ${n}`);
    expect(n).toBeGreaterThan(0);
    expect(text).toMatch(/notice: \{"reason":"preempted: /);
    const again = await job(spot);
    expect(again.leases).toHaveLength(2);
    expect(again.leases.every((l) => l.nodeId === node)).toBe(true);
    expect((await job(od)).state).toBe("succeeded");

    const ev = await events(spot);
    const at = (re: RegExp) => ev.findIndex((m) => re.test(m));
    const order = [
      at(/^checkpoint on node /),
      at(/^checkpoint notice sent to lease /),
      at(/^preempted: .*; requeued/),
      at(/^resuming from its checkpoint on node /),
    ];
    expect(
      order.every((i) => i >= 0),
      ev.join("\n"),
    ).toBe(true);
    expect(
      [...order].sort((a, b) => a - b),
      ev.join("\n"),
    ).toEqual(order);

    // No lease stuck: cancel ends the job and every lease.
    await tenant.post(`/v1/jobs/${spot}/cancel`);
    await waitFor(
      async () => (await job(spot)).state === "cancelled" && (await store.jobs.activeLeases()).length === 0,
      "the job and its lease to end after cancel",
      (GRACE_S + STOP_TIMEOUT_S) * 1000 + 20_000,
    );
  }, 180_000);
});
