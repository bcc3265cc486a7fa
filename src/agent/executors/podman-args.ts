// The `podman run` command line of a lease, shared by the podman executor and the Slurm executor's
// container mode, so that both isolate tenant code the same way.
import { createHash } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import { join } from "node:path";
import type { WorkloadSpec } from "../executor.js";
import { writeJsonAtomic } from "./base.js";

/** Where the workload finds the checkpoint notice inside the container. */
export const CONTAINER_NOTICE_FILE = "/zumbido/notice";
/** The tenant's SSH public keys inside the container (read-only; for the image's sshd AuthorizedKeysFile). */
export const CONTAINER_AUTHORIZED_KEYS = "/zumbido/authorized_keys";
/** The workload's writable working folder inside the container. */
export const CONTAINER_WORK_DIR = "/work";

export const LABEL_LEASE = "zumbido.lease";
export const LABEL_AGENT = "zumbido.agent";
export const LABEL_JOB = "zumbido.job";
/** Where a multi-node rank finds its hostfile in the container. */
export const CONTAINER_HOSTFILE = "/zumbido-gang/hostfile";
const RESERVED_ENV = new Set([
  "ZUMBIDO_HOSTFILE",
  "CUDA_VISIBLE_DEVICES",
  "CUDA_DEVICE_ORDER",
  "NVIDIA_VISIBLE_DEVICES",
  "ZUMBIDO_LEASE_ID",
  "ZUMBIDO_JOB_ID",
  "ZUMBIDO_GPU_MODEL",
  "ZUMBIDO_GPU_INDICES",
  "ZUMBIDO_NOTICE_FILE",
  "ZUMBIDO_CHECKPOINT_DIR",
]);
const MIB = 1024 * 1024;

/** How workloads are isolated and sized: the options both container executors take. */
export interface ContainerIsolationOptions {
  /** User the workload runs as, "UID:GID" (default "1000:1000"); ignored with userns "auto". */
  user?: string;
  /** "auto": each container gets its own range of host uids (`--userns=auto`); its root is unprivileged. */
  userns?: "auto";
  /** GPUs of the node, to size each lease's share of memory and CPUs (default: 8). */
  nodeGpus?: number;
  /** Memory and CPUs of the host (default: this machine's). */
  hostMemoryBytes?: number;
  hostCpus?: number;
  /** Fixed limits instead of the share (tests, or an operator who wants them). */
  memoryBytes?: number;
  cpus?: number;
  /** Processes per container (default 4096). */
  pidsLimit?: number;
  /** Network mode for workloads that may use the network (default "bridge"). */
  networkMode?: string;
  /** Network of multi-node job ranks: the site's cluster network (default "host", so NCCL sees the fabric). */
  gangNetworkMode?: string;
}

/** A podman container name for a lease: readable, unique by a hash suffix. */
export function containerName(leaseId: string): string {
  const hash = createHash("sha256").update(leaseId).digest("hex").slice(0, 8);
  const base = leaseId.replace(/[^A-Za-z0-9_.-]+/g, "-").slice(0, 80);
  return `zumbido-${base}-${hash}`;
}

/** The memory, CPU and process limits of one lease: its share of the host by GPUs leased. */
export function leaseLimits(
  leasedGpus: number,
  o: Pick<
    ContainerIsolationOptions,
    "nodeGpus" | "hostMemoryBytes" | "hostCpus" | "memoryBytes" | "cpus" | "pidsLimit"
  >,
): { memoryBytes: number; cpus: number; pids: number } {
  const nodeGpus = Math.max(1, o.nodeGpus ?? 8);
  const share = Math.min(1, Math.max(1, leasedGpus) / nodeGpus);
  const hostMem = o.hostMemoryBytes ?? totalmem();
  const hostCpus = o.hostCpus ?? availableParallelism();
  // 10% of the host's memory stays with the host (agent, podman, page cache).
  const memoryBytes = o.memoryBytes ?? Math.max(256 * MIB, Math.floor((hostMem * 0.9 * share) / MIB) * MIB);
  const cpus = o.cpus ?? Math.max(0.5, Math.floor(hostCpus * share * 100) / 100);
  return { memoryBytes, cpus, pids: o.pidsLimit ?? 4096 };
}

/** Checks a "UID:GID" user option; throws naming the fix. */
export function checkUser(user: string | undefined): void {
  if (user !== undefined && !/^\d+:\d+$/.test(user))
    throw new Error(`user "${user}": give UID:GID as numbers, e.g. 1000:1000`);
}

/**
 * Makes the lease's work and notice folders (and the checkpoint folder) and hands the writable ones
 * to the workload's non-root user. Returns their host paths.
 */
export function prepareContainerDirs(
  leaseDir: string,
  o: Pick<ContainerIsolationOptions, "user" | "userns">,
  checkpointDir?: string,
  volumes: readonly { hostPath: string }[] = [],
  sshAuthorizedKeys?: string[],
): { work: string; notice: string } {
  const work = join(leaseDir, "work");
  const notice = join(leaseDir, "notice");
  mkdirSync(work, { recursive: true });
  mkdirSync(notice, { recursive: true });
  chmodSync(notice, 0o755);
  // The tenant's SSH public keys, read-only in the container at CONTAINER_AUTHORIZED_KEYS.
  if (sshAuthorizedKeys?.length)
    writeFileSync(join(notice, "authorized_keys"), sshAuthorizedKeys.map((k) => `${k}\n`).join(""), {
      mode: 0o644,
    });
  const dirs = checkpointDir ? [work, checkpointDir] : [work];
  for (const d of dirs) {
    mkdirSync(d, { recursive: true });
    if (o.userns !== "auto") {
      const [uid, gid] = (o.user ?? "1000:1000").split(":").map(Number) as [number, number];
      chownSync(d, uid, gid);
      chmodSync(d, 0o700);
    }
  }
  // A volume's top folder belongs to the workload's user (files the agent puts in it follow its owner).
  if (o.userns !== "auto")
    for (const v of volumes) {
      const [uid, gid] = (o.user ?? "1000:1000").split(":").map(Number) as [number, number];
      chownSync(v.hostPath, uid, gid);
      chmodSync(v.hostPath, 0o700);
    }
  return { work, notice };
}

/**
 * The isolation, limits, labels, mounts and environment of a lease's `podman run` (after `run`, before
 * the GPU options, the image and the command): non-root user or `--userns=auto`, read-only root with
 * a tmpfs /tmp, no capabilities, no-new-privileges, no network unless allowed, memory/pids/CPU
 * limits by the lease's share of the node, `--init`, labels carrying the lease, k8s-file log.
 */
export function podmanRunOptions(
  w: Pick<
    WorkloadSpec,
    "leaseId" | "jobId" | "gpuModel" | "spec" | "network" | "checkpointDir" | "gang" | "volumes"
  >,
  leasedGpus: number,
  p: { container: string; agentId: string; leaseDir: string; work: string; notice: string },
  o: ContainerIsolationOptions,
): string[] {
  const auto = o.userns === "auto";
  const lim = leaseLimits(leasedGpus, o);
  const args = [
    "--name",
    p.container,
    "--label",
    `${LABEL_LEASE}=${w.leaseId}`,
    "--label",
    `${LABEL_JOB}=${w.jobId}`,
    "--label",
    `${LABEL_AGENT}=${p.agentId}`,
    "--init",
    "--read-only",
    "--read-only-tmpfs=true",
    "--cap-drop",
    "all",
    "--security-opt",
    "no-new-privileges",
    "--network",
    // Ranks of a multi-node job use the site's cluster network (the host's unless configured).
    w.gang ? (o.gangNetworkMode ?? "host") : w.network === true ? (o.networkMode ?? "bridge") : "none",
    "--memory",
    String(lim.memoryBytes),
    "--memory-swap",
    String(lim.memoryBytes),
    "--pids-limit",
    String(lim.pids),
    "--cpus",
    String(lim.cpus),
    "--log-driver",
    "k8s-file",
    "--log-opt",
    `path=${join(p.leaseDir, "container.log")}`,
    "--volume",
    `${p.work}:${CONTAINER_WORK_DIR}:rw${auto ? ",U" : ""}`,
    "--volume",
    `${p.notice}:/zumbido:ro`,
    "--workdir",
    CONTAINER_WORK_DIR,
    ...(auto ? ["--userns=auto"] : ["--user", o.user ?? "1000:1000"]),
  ];
  if (w.checkpointDir)
    args.push(
      "--volume",
      `${w.checkpointDir}:${w.checkpointDir}:rw${auto ? ",U" : ""}`,
      "--env",
      `ZUMBIDO_CHECKPOINT_DIR=${w.checkpointDir}`,
    );
  // The job's volumes: read-only when asked (the host folder was resolved by the agent under its
  // volume root; the mount path was checked by the control plane).
  for (const v of w.volumes ?? [])
    args.push("--volume", `${v.hostPath}:${v.mountPath}:${v.readOnly ? "ro" : "rw"}${auto ? ",U" : ""}`);
  if (w.gang)
    args.push(
      "--volume",
      `${w.gang.hostfile}:${CONTAINER_HOSTFILE}:ro`,
      "--env",
      `ZUMBIDO_HOSTFILE=${CONTAINER_HOSTFILE}`,
    );
  // Values never go on the command line (any local user reads /proc/*/cmdline): each is a podman
  // secret of type env, created from stdin before the run and removed after it (envSecrets()).
  if (w.spec.sshAuthorizedKeys?.length)
    args.push("--env", `ZUMBIDO_SSH_AUTHORIZED_KEYS=${CONTAINER_AUTHORIZED_KEYS}`);
  for (const s of envSecrets(w.spec, p.container))
    args.push("--secret", `${s.secret},type=env,target=${s.name}`);
  args.push(
    "--env",
    `ZUMBIDO_LEASE_ID=${w.leaseId}`,
    "--env",
    `ZUMBIDO_JOB_ID=${w.jobId}`,
    "--env",
    `ZUMBIDO_GPU_MODEL=${w.gpuModel}`,
    "--env",
    `ZUMBIDO_NOTICE_FILE=${CONTAINER_NOTICE_FILE}`,
    "--env",
    "CUDA_DEVICE_ORDER=PCI_BUS_ID",
    "--env",
    "HOME=/tmp",
  );
  return args;
}

/**
 * The tenant's env of a lease (spec.env: plain and secret values alike, less the names the platform
 * sets), each with the name of the podman secret that carries its value into the container. The
 * value reaches podman on stdin (`podman secret create NAME -`), so it is exact (newlines, `=`,
 * spaces) and never on a command line.
 */
export function envSecrets(
  spec: WorkloadSpec["spec"],
  container: string,
): { name: string; value: string; secret: string }[] {
  return Object.entries(spec.env ?? {})
    .filter(([k]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && !RESERVED_ENV.has(k))
    .map(([name, value], i) => ({ name, value, secret: `${container}-env${i}` }));
}

/**
 * The GPU options of a lease whose devices are known: one CDI device per leased GPU, the host indices
 * in ZUMBIDO_GPU_INDICES, and CUDA_VISIBLE_DEVICES=0..n-1 (only the leased GPUs exist in the container).
 */
export function gpuRunOptions(cdiNames: readonly string[], hostIndices: readonly number[]): string[] {
  const args: string[] = [];
  for (const d of cdiNames) args.push("--device", `nvidia.com/gpu=${d}`);
  args.push(
    "--env",
    `ZUMBIDO_GPU_INDICES=${hostIndices.join(",")}`,
    "--env",
    `CUDA_VISIBLE_DEVICES=${hostIndices.map((_, i) => i).join(",")}`,
  );
  return args;
}

/** The workload's argv in the container (`/bin/sh -c` when the spec asks for a shell). */
export function workloadArgv(spec: WorkloadSpec["spec"]): string[] {
  return spec.shell ? ["/bin/sh", "-c", spec.command.join(" ")] : spec.command;
}

/** Whether the container's init could not exec the workload's command (catatonit says so in the log). */
export function execFailedIn(containerLog: string): boolean {
  try {
    const log = readFileSync(containerLog, "utf8");
    return /failed to exec pid1: No such file or directory/.test(log.slice(-4096));
  } catch {
    return false;
  }
}

/** The reason for a container's end, from its exit code: out of memory, command not found, a signal, or the code. */
export function containerEndReason(
  code: number | null,
  o: { oomKilled: boolean; killedByUs: boolean; execFailed: () => boolean; image?: string },
  signalName: (n: number) => string,
): { reason: string; signal: string | null } {
  if (code === 137 && (o.oomKilled || !o.killedByUs))
    return {
      reason: "out of memory (OOM killed): exit 137; the workload used more than its memory limit",
      signal: null,
    };
  if (code === 127 || (code === 1 && o.execFailed()))
    return { reason: `command not found in image ${o.image ?? "?"} (exit ${code})`, signal: null };
  if (code !== null && code > 128) {
    const signal = signalName(code - 128);
    return { reason: `killed by ${signal} (exit ${code})`, signal };
  }
  return { reason: `exited with code ${code ?? "unknown"}`, signal: null };
}

/** The environment podman runs with: PATH plus the project's containers.conf and storage.conf. */
export function podmanEnv(o: { containersConf?: string; storageConf?: string }): Record<string, string> {
  const conf =
    o.containersConf ??
    (existsSync("/etc/zumbido/containers.conf") ? "/etc/zumbido/containers.conf" : undefined);
  const storage =
    o.storageConf ?? (existsSync("/etc/zumbido/storage.conf") ? "/etc/zumbido/storage.conf" : undefined);
  return {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ...(conf ? { CONTAINERS_CONF: conf } : {}),
    ...(storage ? { CONTAINERS_STORAGE_CONF: storage } : {}),
  };
}

/** Writes the notice file the workload sees at $ZUMBIDO_NOTICE_FILE: what is coming and by when (JSON, 0644). */
export function writeNoticeFile(
  leaseDir: string,
  kind: "checkpoint" | "stop",
  graceS: number,
  now: number,
): void {
  const dir = join(leaseDir, "notice");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "notice");
  writeJsonAtomic(file, {
    notice: kind,
    requestedAt: new Date(now).toISOString(),
    deadline: new Date(now + graceS * 1000).toISOString(),
    graceS,
  });
  chmodSync(file, 0o644);
}
