// What a tenant's workload can and cannot do inside the podman executor's container: real containers.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { WorkloadSpec, WorkloadStatus } from "../../src/agent/executor.js";
import { PodmanExecutor } from "../../src/agent/executors/podman.js";
import { isTerminal, until } from "./conformance.js";
import { PODMAN_ENV, podmanUnavailable, removeContainersNamed, TEST_IMAGE } from "./podman-env.js";

const why = podmanUnavailable();
const underCi = process.env.CI === "true";
const root = mkdtempSync(join(tmpdir(), "zumbido-podman-iso-"));
const run = `iso${process.pid}-${Date.now().toString(36)}`;
const T = 60_000;

// Files a workload must never read: the agent's state, a server database, the demo keys.
const agentState = join(root, "agent");
mkdirSync(agentState, { recursive: true });
writeFileSync(join(agentState, "agent.db"), "node-key-secret");
writeFileSync(join(root, "zumbido.db"), "SQLite format 3");
writeFileSync(join(root, "demo-keys.json"), '{"adminKey":"zk_admin_secret"}');

const make = (key: string, extra: Partial<ConstructorParameters<typeof PodmanExecutor>[0]> = {}) =>
  new PodmanExecutor({
    stateDir: join(agentState, "workloads", key),
    now: () => Date.now(),
    agentId: `${run}-${key}`,
    defaultImage: TEST_IMAGE,
    memoryBytes: 64 * 1024 * 1024,
    cpus: 1,
    pidsLimit: 64,
    ...extra,
  });

let seq = 0;
const lease = (script: string, gpuIndices: number[] = []): WorkloadSpec => ({
  leaseId: `${run}-${++seq}`,
  jobId: `job-${seq}`,
  gpuModel: "H100",
  gpuIndices,
  spec: { command: [script], shell: true },
});

async function runToEnd(ex: PodmanExecutor, w: WorkloadSpec): Promise<{ s: WorkloadStatus; out: string }> {
  await ex.start(w);
  const s = await until(
    `${w.leaseId} to end`,
    async () => {
      const st = await ex.status(w.leaseId);
      return isTerminal(st) ? st : undefined;
    },
    T,
  );
  const out = (await ex.drainLogs(w.leaseId)).map((c) => c.text).join("");
  return { s, out };
}

if (why && underCi) {
  describe("podman isolation", () => {
    it("needs podman under CI", () => {
      expect.fail(`podman cannot run containers under CI: ${why}`);
    });
  });
} else {
  if (why) console.warn(`[podman isolation] not run: ${why}`);
  (why ? describe.skip : describe)(`podman isolation${why ? ` — not run: ${why}` : ""}`, () => {
    const ex = make("probe");
    afterAll(async () => {
      await ex.close();
      // A case that failed or timed out leaves its container running: nothing of the suite may outlive it.
      removeContainersNamed(run);
    });

    it("a probe job runs non-root, sees only its GPU, its own processes and none of the host's files", async () => {
      const probe = [
        'echo "uid=$(id -u)"',
        `for f in ${join(agentState, "agent.db")} ${join(root, "zumbido.db")} ${join(root, "demo-keys.json")}; do [ -r "$f" ] && echo "READ $f"; done`,
        "echo \"devs=$(ls /dev | grep nvidia | tr '\\n' ',')\"",
        'echo "cuda=$CUDA_VISIBLE_DEVICES host=$ZUMBIDO_GPU_INDICES"',
        "echo \"procs=$(ps -o comm= | sort -u | tr '\\n' ',')\"",
        "echo \"rootfs=$( (touch /bin/x) 2>&1 | sed 's/.*: //')\"",
        'echo "work=$(touch /work/x && touch /tmp/x && echo writable)"',
        'echo "mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"',
        'echo "pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"',
        "echo \"caps=$(awk '/CapEff/{print $2}' /proc/self/status) nnp=$(awk '/NoNewPrivs/{print $2}' /proc/self/status)\"",
        "echo \"net=$(ls /sys/class/net | tr '\\n' ',')\"",
        'echo "notice=$ZUMBIDO_NOTICE_FILE"',
      ].join("; ");
      const { s, out } = await runToEnd(ex, lease(probe, [1]));
      expect(s.phase, out).toBe("succeeded");
      expect(out).toMatch(/^uid=1000$/m);
      expect(out).not.toMatch(/READ /);
      expect(out).toMatch(/^devs=nvidia1,nvidiactl,$/m);
      expect(out).toMatch(/^cuda=0 host=1$/m);
      // Only its own processes: the init, the shell and the probe's own commands; nothing of the host.
      // Transient, depending on timing: the pipeline's own commands (ps, sort, tr) and crun's
      // in-container "exe" (the runtime re-executing itself while it sets the container up).
      const procs = (/^procs=(.*)$/m.exec(out)?.[1] ?? "").split(",").filter(Boolean);
      expect(procs.filter((p) => !["ps", "sort", "tr", "exe"].includes(p))).toEqual(["podman-init", "sh"]);
      expect(out).toMatch(/^rootfs=Read-only file system$/m);
      expect(out).toMatch(/^work=writable$/m);
      expect(out).toMatch(/^mem=67108864$/m);
      expect(out).toMatch(/^pids=64$/m);
      expect(out).toMatch(/^caps=0000000000000000 nnp=1$/m);
      expect(out).toMatch(/^net=lo,$/m);
      expect(out).toMatch(/^notice=\/zumbido\/notice$/m);
      // The container is gone once its exit is recorded: nothing of the lease outlives it.
      const ps = spawnSync("podman", ["ps", "-a", "-q", "--filter", `label=zumbido.lease=${s.leaseId}`], {
        encoding: "utf8",
        env: PODMAN_ENV,
      });
      expect(ps.status).toBe(0);
      expect(ps.stdout.trim()).toBe("");
    });

    it("hits its memory limit: exit 137 reported as out of memory", async () => {
      const { s } = await runToEnd(ex, lease("exec dd if=/dev/zero of=/dev/null bs=200M count=1"));
      expect(s.phase).toBe("failed");
      expect(s.exitCode).toBe(137);
      expect(s.reason).toMatch(/out of memory \(OOM killed\)/);
    });

    it("hits its pids limit", async () => {
      const { out } = await runToEnd(ex, lease("for i in $(seq 100); do sleep 5 & done; wait"));
      expect(out).toMatch(/can't fork|Resource temporarily unavailable/);
    });

    it("keeps the job's checkpoint folder writable by the non-root workload across leases", async () => {
      const dir = join(agentState, "checkpoints", `job-ckpt-${run}`);
      const first = { ...lease('echo 41 > "$ZUMBIDO_CHECKPOINT_DIR/step"; id -u'), checkpointDir: dir };
      const a = await runToEnd(ex, first);
      expect(a.s.phase, a.out).toBe("succeeded");
      expect(a.out.trim()).toBe("1000");
      const second = {
        ...lease('echo "RESUMED from $(cat "$ZUMBIDO_CHECKPOINT_DIR/step")"'),
        checkpointDir: dir,
      };
      const b = await runToEnd(ex, second);
      expect(b.s.phase, b.out).toBe("succeeded");
      expect(b.out).toContain("RESUMED from 41");
    });

    it("writes the notice file with the deadline before the checkpoint signal", async () => {
      const w = lease(
        "trap 'cat $ZUMBIDO_NOTICE_FILE; echo; exit 0' USR1; echo ready; while :; do sleep 0.1; done",
      );
      await ex.start(w);
      let out = "";
      await until(
        "ready",
        async () => {
          out += (await ex.drainLogs(w.leaseId)).map((c) => c.text).join("");
          return out.includes("ready");
        },
        T,
      );
      await ex.notify(w.leaseId);
      const s = await until(
        "the end",
        async () => {
          const st = await ex.status(w.leaseId);
          return isTerminal(st) ? st : undefined;
        },
        T,
      );
      out += (await ex.drainLogs(w.leaseId)).map((c) => c.text).join("");
      expect(s.phase).toBe("succeeded");
      expect(out).toMatch(/"notice":"checkpoint".*"deadline":"\d{4}-\d\d-\d\dT/);
    });

    it("fails fast, with the image and the registry's answer, when the image does not exist", async () => {
      const w = { ...lease("true"), image: "localhost/zumbido/no-such-image:latest" };
      const t0 = Date.now();
      const { s } = await runToEnd(ex, w);
      expect(s.phase).toBe("failed");
      expect(s.reason).toMatch(
        /could not pull image localhost\/zumbido\/no-such-image:latest from localhost: .+/,
      );
      expect(s.startedAt).toBeUndefined(); // never ran: nothing to bill
      expect(Date.now() - t0).toBeLessThan(30_000);
    });

    it("keeps running when the agent process is SIGKILLed, and a new agent recovers its outcome", async () => {
      const dir = join(agentState, "workloads", "survive");
      const agentId = `${run}-survive`;
      const id = `${run}-survive-1`;
      const child = spawn(
        process.execPath,
        [
          // tsx as a loader in this very process: the tsx CLI would run the agent in a child process
          // that outlives a SIGKILL of the CLI (and then collects and removes the container itself).
          "--import",
          "tsx",
          join(import.meta.dirname, "podman-agent-child.ts"),
          dir,
          agentId,
          id,
          TEST_IMAGE,
          "echo before; sleep 3; echo after; exit 7",
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      const started = await new Promise<string>((resolve, reject) => {
        child.stdout!.on("data", (b: Buffer) => {
          const m = /started (\S+)/.exec(b.toString());
          if (m) resolve(m[1]!);
        });
        child.once("exit", (c) => reject(new Error(`agent child exited ${c}`)));
      });
      child.kill("SIGKILL");
      const state = spawnSync("podman", ["inspect", "--format", "{{.State.Status}}", started], {
        encoding: "utf8",
        env: PODMAN_ENV,
      });
      expect(state.stdout.trim()).toBe("running");
      const ex2 = new PodmanExecutor({ stateDir: dir, now: () => Date.now(), agentId });
      const rec = await ex2.recover();
      expect(rec.find((x) => x.leaseId === id)?.phase).toBe("running");
      const s = await until(
        "the recovered workload to end",
        async () => {
          const st = await ex2.status(id);
          return isTerminal(st) ? st : undefined;
        },
        T,
      );
      expect(s.exitCode, JSON.stringify(s)).toBe(7);
      const out = (await ex2.drainLogs(id)).map((c) => c.text).join("");
      expect(out).toBe("before\nafter\n");
      await ex2.close();
    });
  });
}
