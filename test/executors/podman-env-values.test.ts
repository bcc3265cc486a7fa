// Job env values (tenants' secret env included) reach the container exactly, and no process's
// command line ever holds them (/proc/*/cmdline is world-readable): the podman executor and the
// Slurm executor's container mode, on real podman (and real Slurm).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Executor, WorkloadSpec, WorkloadStatus } from "../../src/agent/executor.js";
import { podmanEnv } from "../../src/agent/executors/podman-args.js";
import { PodmanExecutor } from "../../src/agent/executors/podman.js";
import { SlurmExecutor } from "../../src/agent/executors/slurm.js";
import { isTerminal, until } from "./conformance.js";
import { PODMAN_ENV, podmanUnavailable, removeContainersNamed, TEST_IMAGE } from "./podman-env.js";
import { slurmConfPath, slurmUnavailable } from "./slurm-env.js";

const run = `env${process.pid}-${Date.now().toString(36)}`;
const root = mkdtempSync(join(tmpdir(), "zumbido-env-values-"));
const podmanWhy = podmanUnavailable();
const conf = slurmConfPath();
const slurmWhy = podmanWhy ?? slurmUnavailable(conf);
const underCi = process.env.CI === "true";

/**
 * Scans every process's command line for needle, over and over, in a child of its own (the needle in
 * its environment, not its command line) until stopped; stopping answers the lines that held it.
 */
function watchCmdlines(needle: string): { stop: () => Promise<string[]> } {
  const scanner = [
    "const fs = require('node:fs');",
    "const hits = new Set();",
    "let on = true;",
    "process.on('SIGTERM', () => { on = false; });",
    "const scan = () => {",
    "  for (const p of fs.readdirSync('/proc')) {",
    "    if (!/^\\d+$/.test(p) || p === String(process.pid)) continue;",
    "    try { const c = fs.readFileSync('/proc/' + p + '/cmdline', 'latin1');",
    "      if (c.includes(process.env.NEEDLE)) hits.add(p + ': ' + c.replace(/\\0/g, ' ')); } catch {}",
    "  }",
    "  if (on) setImmediate(scan); else { process.stdout.write(JSON.stringify([...hits])); }",
    "};",
    "scan();",
  ].join("\n");
  const child = spawn(process.execPath, ["-e", scanner], {
    env: { NEEDLE: needle },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  return {
    stop: () =>
      new Promise((resolve) => {
        child.on("close", () => resolve(JSON.parse(out || "[]") as string[]));
        child.kill("SIGTERM");
      }),
  };
}

const secretsNamed = (prefix: string): string[] =>
  spawnSync("podman", ["secret", "ls", "--format", "{{.Name}}"], { env: PODMAN_ENV, encoding: "utf8" })
    .stdout.split("\n")
    .filter((n) => n.startsWith(prefix));

function envCase(name: string, make: () => Executor, why: string | undefined, prefix: string): void {
  if (why && underCi) {
    it(`${name}: needs its engine under CI`, () => expect.fail(why));
    return;
  }
  (why ? describe.skip : describe)(
    `${name}: env values off the command line${why ? ` — not run: ${why}` : ""}`,
    () => {
      const ex = why ? undefined : make();
      afterAll(async () => {
        await ex?.close();
        if (!why) removeContainersNamed(prefix);
      });

      it("the workload gets a value with a newline, '=' and spaces exactly; no command line holds it on the way", async () => {
        const token = `tok${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
        const value = `first ${token} = a=b\n  second line 'q' "dq" $HOME\n`;
        const w: WorkloadSpec = {
          leaseId: `${prefix}${run}`,
          jobId: "job-env",
          gpuModel: "H100",
          gpuIndices: [],
          spec: {
            command: ['printf "%s" "$ZB_SECRET" > /work/out; echo started; sleep 4'],
            shell: true,
            env: { ZB_SECRET: value, PLAIN: "x" },
          },
        };
        const watch = watchCmdlines(token);
        await new Promise((r) => setTimeout(r, 200)); // the scanner is scanning
        await ex!.start(w);
        let logs = "";
        await until(
          "the workload to run",
          async () => {
            logs += (await ex!.drainLogs(w.leaseId)).map((c) => c.text).join("");
            return logs.includes("started") || isTerminal(await ex!.status(w.leaseId));
          },
          45_000,
        );
        // From the start until it runs, no process (podman, conmon, the batch script and its
        // children, the workload) ever showed it.
        expect(await watch.stop()).toEqual([]);
        // The podman secrets that carried the values are removed as soon as `podman run` returns
        // (the workload may print before that under load: CI once saw both secrets still there).
        await until(
          "the podman secrets to be removed",
          () => Promise.resolve(secretsNamed("zumbido-" + prefix).length === 0),
          10_000,
        );
        expect(secretsNamed("zumbido-" + prefix)).toEqual([]);
        const s = await until(
          "the workload to end",
          async () => {
            const st: WorkloadStatus | undefined = await ex!.status(w.leaseId);
            return isTerminal(st) ? st : undefined;
          },
          45_000,
        );
        logs += (await ex!.drainLogs(w.leaseId)).map((c) => c.text).join("");
        expect(s.phase, `${s.reason}\n${logs}`).toBe("succeeded");
        const out = spawnSync("find", [root, "-path", `*${w.leaseId}*/work/out`], { encoding: "utf8" })
          .stdout.split("\n")
          .filter(Boolean);
        expect(out).toHaveLength(1);
        expect(readFileSync(out[0]!, "utf8")).toBe(value);
      });
    },
  );
}

describe("job env values never on a command line", () => {
  envCase(
    "podman executor",
    () =>
      new PodmanExecutor({
        stateDir: join(root, "podman"),
        now: () => Date.now(),
        agentId: `${run}-p`,
        defaultImage: TEST_IMAGE,
        memoryBytes: 256 * 1024 * 1024,
        cpus: 1,
      }),
    podmanWhy,
    "envp-",
  );
  envCase(
    "Slurm container mode",
    () =>
      new SlurmExecutor({
        logDir: join(root, "slurm"),
        now: () => Date.now(),
        agentId: `${run}-s`,
        slurmConf: conf,
        pollIntervalMs: 100,
        baseEnv: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
        container: "podman",
        podman: {
          defaultImage: TEST_IMAGE,
          podmanEnv: podmanEnv({}),
          memoryBytes: 256 * 1024 * 1024,
          cpus: 1,
        },
      }),
    slurmWhy,
    "envs-",
  );
});
