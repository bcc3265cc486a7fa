import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  parseIndexList,
  parseScontrolJob,
  phaseOfSlurmState,
  shQuote,
  signalName,
  slurmTimeLimit,
} from "../../src/agent/executors/slurm-parse.js";
import { batchScript } from "../../src/agent/executors/slurm.js";
import { execFileSync } from "node:child_process";

// Shape of `scontrol -d show job` in Slurm 22.05, as seen on the CI node (fields trimmed).
const RUNNING = `JobId=17 JobName=zumbido-L1
   UserId=root(0) GroupId=root(0) MCS_label=N/A
   JobState=RUNNING Reason=None Dependency=(null)
   Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=0:0
   StartTime=2026-11-27T23:10:06 EndTime=Unknown Deadline=N/A
   JOB_GRES=gpu:h100:3
     Nodes=localhost CPU_IDs=0 Mem=256 GRES=gpu:h100:3(IDX:0-1,5)
   Comment=zumbido-lease=L1 zumbido-agent=a1 
`;
const ENDED = `JobId=18 JobName=zumbido-L2
   JobState=FAILED Reason=NonZeroExitCode Dependency=(null)
   Requeue=1 Restarts=0 BatchFlag=1 Reboot=0 ExitCode=3:0
   StartTime=2026-11-27T23:10:06 EndTime=2026-11-27T23:10:09 Deadline=N/A
   JOB_GRES=gpu:h100:2
     Nodes=localhost CPU_IDs=0 Mem=256 GRES=
   Comment=zumbido-lease=L2 zumbido-agent=a1 
`;

describe("Slurm parsing", () => {
  it("reads state, GPU indices, times and comment of a running job", () => {
    const j = parseScontrolJob(RUNNING)!;
    expect(j).toMatchObject({
      jobId: "17",
      state: "RUNNING",
      exitCode: 0,
      signalNo: 0,
      gpuIndices: [0, 1, 5],
      startTime: "2026-11-27T23:10:06",
      comment: "zumbido-lease=L1 zumbido-agent=a1",
    });
    expect(j.endTime).toBeUndefined();
  });

  it("reads the exit code of an ended job, which no longer shows its GPUs", () => {
    const j = parseScontrolJob(ENDED)!;
    expect(j).toMatchObject({
      state: "FAILED",
      exitCode: 3,
      reason: "NonZeroExitCode",
      endTime: "2026-11-27T23:10:09",
    });
    expect(j.gpuIndices).toBeUndefined();
    expect(parseScontrolJob(ENDED.replace("ExitCode=3:0", "ExitCode=0:9"))?.signalNo).toBe(9);
    expect(parseScontrolJob("slurm_load_jobs error: Invalid job id specified")).toBeUndefined();
  });

  it("maps Slurm states to phases", () => {
    expect(["PENDING", "CONFIGURING", "REQUEUED"].map(phaseOfSlurmState)).toEqual([
      "starting",
      "starting",
      "starting",
    ]);
    expect(["RUNNING", "COMPLETING", "SUSPENDED"].map(phaseOfSlurmState)).toEqual([
      "running",
      "running",
      "running",
    ]);
    expect(phaseOfSlurmState("COMPLETED")).toBe("succeeded");
    expect(["FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED"].map(phaseOfSlurmState)).toEqual(
      Array(5).fill("failed"),
    );
    expect(phaseOfSlurmState("CANCELLED")).toBe("cancelled");
    expect(signalName(9)).toBe("SIGKILL");
    expect(slurmTimeLimit(90.2)).toBe("1:31");
    expect(slurmTimeLimit(0)).toBe("0:01");
  });

  it("expands index lists and round-trips any set of indices", () => {
    expect(parseIndexList("0-1,4,6-7")).toEqual([0, 1, 4, 6, 7]);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 63 })), (xs) => {
        const sorted = [...xs].sort((a, b) => a - b);
        expect(parseIndexList(sorted.join(","))).toEqual(sorted);
      }),
    );
  });

  it("quotes any string so that /bin/sh gives it back unchanged", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme-ascii" }).filter((s) => !s.includes("\0")),
        (s) => {
          expect(execFileSync("/bin/sh", ["-c", `printf %s ${shQuote(s)}`], { encoding: "utf8" })).toBe(s);
        },
      ),
      { numRuns: 30 },
    );
  });

  it("writes a batch script that execs the argv, keeps GPU pinning to Slurm and rejects bad env names", () => {
    const w = {
      leaseId: "L'1",
      jobId: "J",
      gpuModel: "H100",
      gpuIndices: [0, 1],
      spec: {
        command: ["python3", "train.py", "--lr=1e-3 $X"],
        env: { FOO: "a b", CUDA_VISIBLE_DEVICES: "7" },
      },
    };
    const s = batchScript(w, "/logs/L1");
    expect(s).toContain("export FOO='a b'");
    expect(s).not.toContain("'7'");
    expect(s.trim().split("\n").at(-1)).toBe("exec 'python3' 'train.py' '--lr=1e-3 $X'");
    expect(() => batchScript({ ...w, spec: { command: ["x"], env: { "BAD-NAME": "1" } } }, "/d")).toThrow(
      /spec.env: "BAD-NAME"/,
    );
  });
});
