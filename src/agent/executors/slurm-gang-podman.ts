import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { WorkloadSpec } from "../executor.js";
import type { BackendSplit } from "./backend-gang.js";
import { containerName, prepareContainerDirs } from "./podman-args.js";
import { RESERVED } from "./slurm-gang.js";
import { podmanBatchScript, readExitNote, readStartedNote } from "./slurm-podman.js";
import type { ContainerExitNote, SlurmPodmanOptions } from "./slurm-podman.js";

/** The rendezvous variables a rank's container takes from its srun task (known once Slurm placed the ranks). */
const TASK_ENV = [
  "MASTER_ADDR",
  "MASTER_PORT",
  "WORLD_SIZE",
  "RANK",
  "NODE_RANK",
  "LOCAL_RANK",
  "LOCAL_WORLD_SIZE",
  "NNODES",
  "ZUMBIDO_GPUS_PER_NODE",
  "ZUMBIDO_HOSTS",
  "PET_NNODES",
  "PET_NODE_RANK",
  "PET_NPROC_PER_NODE",
  "PET_MASTER_ADDR",
  "PET_MASTER_PORT",
];

/** The folder of one rank of a multi-node lease in container mode (notes, container log, work, notice). */
export function rankDir(leaseDir: string, rank: number): string {
  return join(leaseDir, `rank-${rank}`);
}

/**
 * Container mode of a multi-node allocation: writes one podman script per rank (the one-node
 * script of slurm-podman.ts: pull, watchdog, `podman run`, notes, in the rank's own folder, on the
 * host network or --gang-network, with the hostfile mounted) and returns what each srun task runs:
 * its rank's script, with the node's GPUs of the step. The rendezvous goes into the container from
 * the task's environment (`--env NAME`: the value never appears on a command line).
 */
export function writeRankScripts(
  w: WorkloadSpec,
  dir: string,
  split: BackendSplit,
  image: string,
  agentId: string,
  o: SlurmPodmanOptions,
  hostfile: string,
): string[] {
  const env = Object.fromEntries(
    Object.entries(w.spec.env ?? {}).filter(([k]) => !RESERVED.has(k) && !k.startsWith("PET_")),
  );
  for (let r = 0; r < split.nnodes; r++) {
    const d = rankDir(dir, r);
    mkdirSync(d, { recursive: true });
    prepareContainerDirs(d, o, w.checkpointDir);
    let authFile: string | undefined;
    if (w.registryAuth) {
      authFile = "auth.json";
      const { server, username, password } = w.registryAuth;
      const auth = Buffer.from(`${username}:${password}`).toString("base64");
      writeFileSync(join(d, authFile), JSON.stringify({ auths: { [server]: { auth } } }), { mode: 0o600 });
    }
    const rank: WorkloadSpec = {
      ...w,
      spec: { ...w.spec, env },
      gpuIndices: Array.from({ length: split.gpusPerNode }, (_, i) => i),
      gang: { env: {}, hostfile },
    };
    const script = podmanBatchScript(
      rank,
      d,
      image,
      containerName(`${w.leaseId}.rank${r}`),
      agentId,
      o,
      authFile,
    );
    const withEnv = script.replace(
      /^podman run -d /m,
      `set -- "$@" ${TASK_ENV.map((k) => `--env ${k}`).join(" ")}\npodman run -d `,
    );
    writeFileSync(join(d, "job.sh"), withEnv, { mode: 0o700 });
  }
  // In a step, SLURM_JOB_GPUS can be the batch node's: the step's own GPUs are this node's.
  return [
    "/bin/sh",
    "-c",
    'export SLURM_JOB_GPUS="${SLURM_STEP_GPUS:-${CUDA_VISIBLE_DEVICES:-}}"; exec /bin/sh "$0/rank-$RANK/job.sh"',
    dir,
  ];
}

/** When every rank's container runs: the last one's start (billing starts then), else undefined. */
export function gangStarted(dir: string, nnodes: number): number | undefined {
  let last = 0;
  for (let r = 0; r < nnodes; r++) {
    const t = readStartedNote(rankDir(dir, r));
    if (t === undefined) return undefined;
    last = Math.max(last, t);
  }
  return last;
}

/** The end note that speaks for the gang: the first rank that failed, else rank 0's; with its folder. */
export function gangExitNote(
  dir: string,
  nnodes: number,
): { note: ContainerExitNote; dir: string; rank: number } | undefined {
  const notes = Array.from({ length: nnodes }, (_, r) => ({ r, note: readExitNote(rankDir(dir, r)) }));
  const bad = notes
    .filter((n) => n.note && (n.note.stage !== "exit" || n.note.code !== 0))
    .sort((a, b) => endOf(a.note) - endOf(b.note))[0];
  const pick = bad ?? notes.find((n) => n.note);
  return pick?.note ? { note: pick.note, dir: rankDir(dir, pick.r), rank: pick.r } : undefined;
}

function endOf(n: ContainerExitNote | undefined): number {
  return n?.stage === "exit" ? (n.endedAt ?? 0) : 0;
}
