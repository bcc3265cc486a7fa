// A multi-node job as ONE Slurm allocation on a real two-node Slurm (two slurmd on this host, nodes
// zn0 at 127.0.0.1 and zn1 at 127.0.0.2: scripts/ci/setup-slurm-multinode.sh). The Slurm executor
// fronts the partition as one Zumbido node (gpusPerNode 1): a 2-GPU lease becomes one sbatch of two
// nodes whose srun ranks run a real torch.distributed all-reduce (gloo, Debian's python3-torch).
import { execFileSync } from "node:child_process";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { SlurmExecutor } from "../../src/agent/executors/slurm.js";
import { multiNodeBatchScript } from "../../src/agent/executors/slurm-gang.js";
import type { WorkloadSpec } from "../../src/agent/executor.js";
import { isTerminal, until } from "../executors/conformance.js";
import { multiNodeSlurm } from "../executors/slurm-env.js";
import { podmanEnv } from "../../src/agent/executors/podman-args.js";
import { PODMAN_ENV, podmanUnavailable, TEST_IMAGE } from "../executors/podman-env.js";

const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), "../fixtures/allreduce.py");
const { conf, why } = multiNodeSlurm();
const underCi = process.env.CI === "true";
const root = mkdtempSync(join(tmpdir(), "zumbido-slurm-mn-"));
const run = `t${process.pid}-${Date.now().toString(36)}`;
const env = { ...process.env, SLURM_CONF: conf };
afterAll(() => rmSync(root, { recursive: true, force: true }));

const lease = (name: string, gpus: number, command: string[], shell = false): WorkloadSpec => ({
  leaseId: `${run}-${name}`,
  jobId: `job-${name}`,
  gpuModel: "H100",
  gpuIndices: Array.from({ length: gpus }, (_, i) => i),
  spec: { command, shell, env: { GLOO_SOCKET_IFNAME: "lo", ZUMBIDO_TEST: "it's" } },
});

if (why && underCi) {
  describe("Slurm: one multi-node allocation", () => {
    it("needs the two-node Slurm under CI", () => {
      expect.fail(`the two-node Slurm is not available under CI: ${why}`);
    });
  });
} else {
  (why ? describe.skip : describe)(
    `Slurm: a multi-node job as one allocation (two real Slurm nodes)${why ? ` — not run: ${why}` : ""}`,
    () => {
      const ex = new SlurmExecutor({
        logDir: join(root, "ex"),
        now: () => Date.now(),
        agentId: run,
        slurmConf: conf,
        pollIntervalMs: 200,
        baseEnv: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
        container: "host",
        unsafeHostProcesses: true,
        gpusPerNode: 1,
      });
      afterAll(() => ex.close());

      it("runs a 2-GPU lease as one sbatch of 2 nodes; both srun ranks take part in a gloo all-reduce", async () => {
        const w = lease("allreduce", 2, ["/usr/bin/python3", SCRIPT]);
        const s0 = await ex.start(w);
        expect(s0.phase, s0.reason).toBe("starting");
        const id = s0.externalId!;
        // One Slurm job, on both nodes.
        const show = await until(
          "the allocation to start",
          async () => {
            const o = execFileSync("scontrol", ["show", "job", id], { env }).toString();
            return /NumNodes=2 /.test(o) && /JobState=(RUNNING|COMPLETED)/.test(o) ? o : undefined;
          },
          60_000,
          200,
        );
        expect(show).toMatch(/NodeList=zn\[0-1\]/);
        const end = await until(
          "the allocation to end",
          async () => {
            const s = await ex.status(w.leaseId);
            return isTerminal(s) ? s : undefined;
          },
          90_000,
          250,
        );
        const out = (await ex.drainLogs(w.leaseId)).map((c) => c.text).join("");
        expect(end.phase, `${end.reason}\n${out}`).toBe("succeeded");
        expect(out).toContain("rank 0 of 2: allreduce=11");
        expect(out).toContain("rank 1 of 2: allreduce=11");
        const port = /MASTER_PORT=(\d+)/.exec(out)?.[1];
        expect(Number(port)).toBe(29500 + (Number(id) % 2000));
        for (const r of [0, 1])
          expect(out).toContain(
            `MASTER_ADDR=127.0.0.1 MASTER_PORT=${port} WORLD_SIZE=2 RANK=${r} NODE_RANK=${r} NNODES=2 LOCAL_WORLD_SIZE=1 LOCAL_RANK=0`,
          );
        expect(out).toContain("hostfile 127.0.0.1 slots=1 | 127.0.0.2 slots=1");
        // No other Slurm job was submitted for this lease.
        const jobs = execFileSync("squeue", ["-h", "-t", "all", "-o", "%i %j"], { env }).toString();
        expect(jobs.split("\n").filter((l) => l.includes(w.leaseId))).toEqual([`${id} zumbido-${w.leaseId}`]);
      });

      it("one failing rank ends the whole allocation (srun --kill-on-bad-exit), not just its node", async () => {
        const w = lease("fail", 2, ['if [ "$RANK" = 1 ]; then sleep 1; exit 3; fi; exec sleep 120'], true);
        const t0 = Date.now();
        const s0 = await ex.start(w);
        expect(s0.phase, s0.reason).toBe("starting");
        const end = await until(
          "the allocation to end",
          async () => {
            const s = await ex.status(w.leaseId);
            return isTerminal(s) ? s : undefined;
          },
          90_000,
          250,
        );
        expect(end.phase).toBe("failed");
        expect(end.exitCode).toBe(3);
        const err = (await ex.drainLogs(w.leaseId)).filter((c) => c.stream === "stderr").map((c) => c.text);
        expect(err.join("")).toContain(
          "zumbido: rank 1 (node zn1) exited with code 3; srun stopped the other ranks",
        );
        expect(Date.now() - t0).toBeLessThan(60_000); // rank 0 sleeps 120 s: it was killed
      });

      it("the checkpoint notice reaches every rank, which keeps running; stop ends the allocation", async () => {
        const w = lease(
          "notice",
          2,
          ['trap "echo notice-rank-$RANK" USR1; echo "up-$RANK"; while :; do sleep 0.2; done'],
          true,
        );
        expect((await ex.start(w)).phase).toBe("starting");
        let out = "";
        const drain = async (): Promise<string> =>
          (out += (await ex.drainLogs(w.leaseId)).map((c) => c.text).join(""));
        await until(
          "both ranks up",
          async () => (await drain()).includes("up-0") && out.includes("up-1"),
          60_000,
          250,
        );
        await ex.notify(w.leaseId);
        await until(
          "the notice in both ranks",
          async () => (await drain()).includes("notice-rank-0") && out.includes("notice-rank-1"),
          30_000,
          250,
        );
        await new Promise((r) => setTimeout(r, 1000));
        const mid = await ex.status(w.leaseId);
        expect(mid?.phase, mid?.reason).toBe("running");
        const s = await ex.stop(w.leaseId, 2);
        expect(s?.phase).toBe("cancelled");
      });

      const noPodman = podmanUnavailable();
      if (noPodman && underCi) throw new Error(noPodman);
      (noPodman ? it.skip : it)(
        `container mode: every node runs its rank in the tenant's image, with the rendezvous${noPodman ? ` — not run: ${noPodman}` : ""}`,
        async () => {
          const cx = new SlurmExecutor({
            logDir: join(root, "podman"),
            now: () => Date.now(),
            agentId: `${run}-p`,
            slurmConf: conf,
            pollIntervalMs: 200,
            baseEnv: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
            container: "podman",
            gpusPerNode: 1,
            podman: {
              defaultImage: TEST_IMAGE,
              podmanEnv: podmanEnv({}),
              memoryBytes: 256 * 1024 * 1024,
              cpus: 1,
              pidsLimit: 256,
            },
          });
          const w = lease("podman", 2, [
            "sh",
            "-c",
            'echo "rank=$RANK node=$NODE_RANK world=$WORLD_SIZE master=$MASTER_ADDR:$MASTER_PORT uid=$(id -u) gpus=$CUDA_VISIBLE_DEVICES t=$ZUMBIDO_TEST"; cat "$ZUMBIDO_HOSTFILE"',
          ]);
          const s0 = await cx.start(w);
          expect(s0.phase, s0.reason).toBe("starting");
          const end = await until(
            "the allocation to end",
            async () => {
              const s = await cx.status(w.leaseId);
              return isTerminal(s) ? s : undefined;
            },
            120_000,
            250,
          );
          const out = (await cx.drainLogs(w.leaseId)).map((c) => c.text).join("");
          expect(end.phase, `${end.reason}\n${out}`).toBe("succeeded");
          expect(end.startedAt).toBeGreaterThan(0);
          expect(out).toMatch(/rank=0 node=0 world=2 master=127\.0\.0\.1:\d+ uid=1000 gpus=0 t=it's/);
          expect(out).toContain("127.0.0.1 slots=1\n127.0.0.2 slots=1");
          // Rank 1 ran on the other Slurm node, in its own container (its log is in its rank folder).
          const rank1 = readFileSync(
            join(root, "podman", encodeURIComponent(w.leaseId), "rank-1", "container.log"),
            "utf8",
          );
          expect(rank1).toMatch(/rank=1 node=1 world=2 master=127\.0\.0\.1:\d+ uid=1000 gpus=0/);
          const left = spawnSync(
            "podman",
            ["ps", "-a", "-q", "--filter", `label=zumbido.lease=${w.leaseId}`],
            {
              env: PODMAN_ENV,
              encoding: "utf8",
            },
          );
          expect(left.stdout.trim()).toBe(""); // no container outlives the allocation

          // A failing rank ends the allocation: its code and rank; the other rank's container goes too.
          const f = lease("podman-fail", 2, [
            "sh",
            "-c",
            'if [ "$RANK" = 1 ]; then sleep 1; exit 3; fi; exec sleep 120',
          ]);
          const t0 = Date.now();
          expect((await cx.start(f)).phase).toBe("starting");
          const fend = await until(
            "the failing allocation to end",
            async () => {
              const s = await cx.status(f.leaseId);
              return isTerminal(s) ? s : undefined;
            },
            120_000,
            250,
          );
          expect(fend).toMatchObject({ phase: "failed", exitCode: 3 });
          expect(fend.reason).toMatch(/^rank 1 of 2: /);
          expect(Date.now() - t0).toBeLessThan(100_000); // rank 0 sleeps 120 s: it was stopped
          await until(
            "no container of the failed allocation",
            () => {
              const r = spawnSync(
                "podman",
                ["ps", "-a", "-q", "--filter", `label=zumbido.lease=${f.leaseId}`],
                {
                  env: PODMAN_ENV,
                  encoding: "utf8",
                },
              );
              return Promise.resolve(r.stdout.trim() === "");
            },
            30_000,
            500,
          );
          await cx.close();
        },
      );

      it("refuses a lease its nodes cannot hold evenly, with what to ask for, before sbatch", async () => {
        const base = { logDir: join(root, "refuse"), now: () => Date.now(), agentId: run, slurmConf: conf };
        const two = new SlurmExecutor({
          ...base,
          container: "host",
          unsafeHostProcesses: true,
          gpusPerNode: 2,
        });
        const odd = await two.start(lease("odd", 3, ["true"]));
        expect(odd.phase).toBe("failed");
        expect(odd.externalId).toBeUndefined(); // nothing was submitted
        expect(odd.reason).toBe(
          "a lease of 3 GPUs does not spread evenly over 2 compute nodes of at most 2 GPUs; ask for a multiple of 2 GPUs (e.g. 4), or at most 2",
        );
      });

      it("with two tasks per node, Slurm's task ids give each process its RANK and LOCAL_RANK (4 ranks)", async () => {
        const dir = mkdtempSync(join(root, "tasks-"));
        const w = lease("tasks", 4, ["/usr/bin/python3", SCRIPT]);
        const script = multiNodeBatchScript(w, {
          nnodes: 2,
          gpusPerNode: 2,
          tasksPerNode: 2,
          gresType: "h100",
          hostfile: join(dir, "hostfile"),
        });
        writeFileSync(join(dir, "job.sh"), script, { mode: 0o700 });
        const id = execFileSync(
          "sbatch",
          ["--parsable", "--wait", `--output=${join(dir, "out.log")}`, `--chdir=${dir}`, join(dir, "job.sh")],
          { env: { ...env, GLOO_SOCKET_IFNAME: "lo" }, timeout: 120_000 },
        )
          .toString()
          .trim();
        const out = readFileSync(join(dir, "out.log"), "utf8");
        expect(out, `job ${id}`).toMatch(/rank 0 of 4: allreduce=1111/);
        for (const [rank, node, local] of [
          [0, 0, 0],
          [1, 0, 1],
          [2, 1, 0],
          [3, 1, 1],
        ])
          expect(out).toContain(
            `WORLD_SIZE=4 RANK=${rank} NODE_RANK=${node} NNODES=2 LOCAL_WORLD_SIZE=2 LOCAL_RANK=${local}`,
          );
        expect(readFileSync(join(dir, "hostfile"), "utf8")).toBe("127.0.0.1 slots=2\n127.0.0.2 slots=2\n");
      });
    },
  );
}
