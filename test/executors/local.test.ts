import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LocalExecutor, minimalEnv, workloadEnv } from "../../src/agent/executors/local.js";
import type { LocalWorkloadRecord } from "../../src/agent/executors/local.js";
import type { WorkloadSpec } from "../../src/agent/executor.js";
import { executorConformance, isTerminal, until } from "./conformance.js";

const root = mkdtempSync(join(tmpdir(), "zumbido-local-exec-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

executorConformance(
  "local",
  (key) =>
    new LocalExecutor({
      unsafeHostProcesses: true,
      stateDir: join(root, key),
      now: () => Date.now(),
      pollIntervalMs: 100,
    }),
  {
    gpuModel: "H100",
    gpuIndices: [2, 5],
    engineChoosesGpus: false,
    noticeSignal: "TERM",
    exitKnownAfterRestart: false,
  },
);

let n = 0;
function spec(command: string[], extra: Partial<WorkloadSpec> = {}): WorkloadSpec {
  n += 1;
  return {
    leaseId: `l-${n}`,
    jobId: `j-${n}`,
    gpuModel: "H100",
    gpuIndices: [0],
    spec: { command },
    ...extra,
  };
}
const node = process.execPath;

describe("LocalExecutor specifics", () => {
  it("builds a minimal environment: no agent secrets, GPU pinning the tenant cannot override", () => {
    const base = minimalEnv({
      PATH: "/bin",
      HOME: "/root",
      AWS_SECRET_ACCESS_KEY: "x",
      ZUMBIDO_API_KEY: "y",
    });
    expect(base).toEqual({ PATH: "/bin", HOME: "/root" });
    const env = workloadEnv(base, {
      ...spec(["true"]),
      gpuIndices: [3, 1],
      spec: { command: ["true"], env: { CUDA_VISIBLE_DEVICES: "0,1,2", FOO: "bar" } },
    });
    expect(env.CUDA_VISIBLE_DEVICES).toBe("3,1");
    expect(env.NVIDIA_VISIBLE_DEVICES).toBe("3,1");
    expect(env.CUDA_DEVICE_ORDER).toBe("PCI_BUS_ID");
    expect(env.FOO).toBe("bar");
    expect(workloadEnv(base, { ...spec(["true"]), gpuIndices: [] }).NVIDIA_VISIBLE_DEVICES).toBe("void");
  });

  it("a workload that ignores the notice is killed after its grace period, and says so", async () => {
    const ex = new LocalExecutor({
      unsafeHostProcesses: true,
      stateDir: join(root, "kill"),
      now: () => Date.now(),
    });
    const w = spec(["/bin/sh", "-c", 'trap "" TERM; echo ready; while :; do sleep 0.1; done']);
    await ex.start(w);
    let out = "";
    await until(
      "the trap in place",
      async () => (out += (await ex.drainLogs(w.leaseId)).map((c) => c.text).join("")).includes("ready"),
      10_000,
    );
    const s = await ex.stop(w.leaseId, 1);
    expect(s?.phase).toBe("cancelled");
    expect(s?.signal).toBe("SIGKILL");
    expect(s?.reason).toBe("did not exit within its 1 s grace period; killed with SIGKILL");
    await ex.close();
  });

  it("runs argv without a shell: metacharacters reach the program verbatim", async () => {
    const ex = new LocalExecutor({
      unsafeHostProcesses: true,
      stateDir: join(root, "argv"),
      now: () => 1_000,
    });
    const w = spec([node, "-e", "console.log(JSON.stringify(process.argv.slice(1)))", "$HOME; echo hi"]);
    const started = await ex.start(w);
    expect(started.startedAt).toBe(1_000); // the injected clock, not the wall clock
    await until("end", async () => isTerminal(await ex.status(w.leaseId)), 10_000);
    const out = (await ex.drainLogs(w.leaseId)).map((c) => c.text).join("");
    expect(JSON.parse(out)).toEqual(["$HOME; echo hi"]);
    await ex.close();
  });

  it("says permission denied for a file that is not executable", async () => {
    const dir = join(root, "eacces");
    const ex = new LocalExecutor({ unsafeHostProcesses: true, stateDir: dir, now: () => Date.now() });
    const script = join(root, "not-executable.sh");
    writeFileSync(script, "#!/bin/sh\necho hi\n");
    chmodSync(script, 0o644);
    const s = await ex.start(spec([script]));
    expect(s.phase).toBe("failed");
    expect(s.reason).toBe(`permission denied: ${script} is not executable`);
    await ex.close();
  });

  it("caps shipped logs per lease and adds one truncation notice", async () => {
    const ex = new LocalExecutor({
      unsafeHostProcesses: true,
      stateDir: join(root, "cap"),
      now: () => Date.now(),
      logCapBytes: 1000,
    });
    const w = spec([
      node,
      "-e",
      "process.stdout.write('x'.repeat(5000)); process.stderr.write('e'.repeat(500))",
    ]);
    await ex.start(w);
    await until("end", async () => isTerminal(await ex.status(w.leaseId)), 10_000);
    const chunks = await ex.drainLogs(w.leaseId);
    const payload = chunks.filter((c) => !c.text.includes("[zumbido]"));
    expect(payload.reduce((a, c) => a + Buffer.byteLength(c.text), 0)).toBe(1000);
    expect(chunks.filter((c) => c.text.includes("log output truncated"))).toHaveLength(1);
    expect(await ex.drainLogs(w.leaseId)).toEqual([]);
    await ex.close();
  });

  it("stop kills the whole process tree, grandchildren included", async () => {
    const ex = new LocalExecutor({
      unsafeHostProcesses: true,
      stateDir: join(root, "tree"),
      now: () => Date.now(),
    });
    const w = spec(["/bin/sh", "-c", "trap '' TERM; sleep 300 & echo $! > grandchild.pid; wait"]);
    const s = await ex.start(w);
    const pidFile = join(root, "tree", "leases", w.leaseId, "work", "grandchild.pid");
    const gpid = await until<number>(
      "grandchild pid",
      // The file exists before the shell writes the pid into it: wait for a number.
      () => Promise.resolve(existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8")) || false : false),
      10_000,
    );
    expect(gpid).toBeGreaterThan(0);
    const st = await ex.stop(w.leaseId, 0.5);
    expect(st?.phase).toBe("cancelled");
    expect(st?.signal).toBe("SIGKILL");
    await until("grandchild gone", () => Promise.resolve(!alive(gpid)), 10_000);
    expect(s.externalId).toBeDefined();
    await ex.close();
  });

  it("fails a workload that exceeds its max run time, saying so", async () => {
    const ex = new LocalExecutor({
      unsafeHostProcesses: true,
      stateDir: join(root, "deadline"),
      now: () => Date.now(),
    });
    const w = spec(["/bin/sh", "-c", "sleep 30"], { maxRuntimeS: 0.3 });
    w.spec.gracePeriodS = 0.2;
    await ex.start(w);
    const s = await until(
      "end",
      async () => {
        const x = await ex.status(w.leaseId);
        return isTerminal(x) ? x : undefined;
      },
      10_000,
    );
    expect(s.phase).toBe("failed");
    expect(s.reason).toMatch(/max run time of 0.3s reached/);
    await ex.close();
  });

  it("does not ship logs twice across a restart", async () => {
    const dir = join(root, "offsets");
    const ex1 = new LocalExecutor({ unsafeHostProcesses: true, stateDir: dir, now: () => Date.now() });
    const w = spec(["/bin/sh", "-c", "echo one; sleep 0.5; echo two"]);
    await ex1.start(w);
    await until(
      "one",
      async () => (await ex1.drainLogs(w.leaseId)).some((c) => c.text.includes("one")),
      10_000,
    );
    await ex1.close();
    const ex2 = new LocalExecutor({
      unsafeHostProcesses: true,
      stateDir: dir,
      now: () => Date.now(),
      pollIntervalMs: 50,
    });
    await ex2.recover();
    await until("end", async () => isTerminal(await ex2.status(w.leaseId)), 10_000);
    const text = (await ex2.drainLogs(w.leaseId)).map((c) => c.text).join("");
    expect(text).toBe("two\n");
    await ex2.forget(w.leaseId);
    expect(existsSync(join(dir, "leases", w.leaseId))).toBe(false);
    await ex2.close();
  });

  it("does not adopt a reused pid: a recorded workload whose pid now belongs to another process ended", async () => {
    const dir = join(root, "reuse");
    const ex = new LocalExecutor({ unsafeHostProcesses: true, stateDir: dir, now: () => 42 });
    const leaseDir = join(dir, "leases", "l-reused");
    const rec: LocalWorkloadRecord = {
      leaseId: "l-reused",
      jobId: "j",
      pid: process.pid,
      pgid: 999_999_999,
      procStartTicks: 1,
      startedAt: 1,
      gpuIndices: [0],
    };
    await import("node:fs").then((fs) => fs.mkdirSync(leaseDir, { recursive: true }));
    writeFileSync(join(leaseDir, "state.json"), JSON.stringify(rec));
    const [s] = await ex.recover();
    expect(s?.phase).toBe("failed");
    expect(s?.reason).toMatch(/exit code unknown/);
    expect(s?.endedAt).toBe(42);
    await ex.close();
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const st = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/\) [ZX] /.test(st);
  } catch {
    return false;
  }
}
