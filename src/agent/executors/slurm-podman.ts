// The Slurm executor's container mode: the batch script runs the tenant's image with podman inside
// the allocation, with the podman executor's isolation (podman-args.ts), on the GPUs Slurm allocated.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { WorkloadSpec } from "../executor.js";
import type { CdiGpus } from "./cdi.js";
import {
  containerEndReason,
  envSecrets,
  execFailedIn,
  podmanRunOptions,
  workloadArgv,
} from "./podman-args.js";
import type { ContainerIsolationOptions } from "./podman-args.js";
import { shQuote, signalName } from "./slurm-parse.js";

/** What the container mode needs beyond the isolation options. */
export interface SlurmPodmanOptions extends ContainerIsolationOptions {
  /** Image for workloads that name none (after the server's resolution). */
  defaultImage?: string;
  /** Environment podman needs on the compute node (PATH, CONTAINERS_CONF, CONTAINERS_STORAGE_CONF). */
  podmanEnv: Record<string, string>;
  /** GPU index -> CDI device name where the node's CDI spec does not name GPUs by index (UUID-only specs). */
  cdiNames?: Record<number, string>;
}

/** What the batch script noted of the container's end (file "exit" in the lease folder). */
export type ContainerExitNote =
  | { stage: "pull"; code: number }
  | { stage: "run"; code: number }
  | { stage: "exit"; code: number | null; oomKilled: boolean; endedAt?: number };

/** GPU index -> CDI name for the GPUs whose CDI name is their UUID rather than their index. */
export function cdiNameMap(uuids: Readonly<Record<number, string>>, cdi: CdiGpus): Record<number, string> {
  const out: Record<number, string> = {};
  for (const [i, uuid] of Object.entries(uuids))
    if (!cdi.names.includes(i) && cdi.names.includes(uuid)) out[Number(i)] = uuid;
  return out;
}

/**
 * The batch script of a lease in container mode. Slurm chooses the GPUs, so the script maps
 * SLURM_JOB_GPUS to CDI devices itself, then: pulls the image if missing (not billed: the agent
 * starts billing at the "started" note), starts a watchdog outside the job that removes the
 * container once this script is gone however it ended (scancel's SIGKILL included), runs the
 * container detached, forwards SIGUSR1 (checkpoint notice) and SIGTERM (stop) to it, waits for it,
 * notes its exit code and OOM flag, removes it and exits with its code.
 */
export function podmanBatchScript(
  w: WorkloadSpec,
  dir: string,
  image: string,
  container: string,
  agentId: string,
  o: SlurmPodmanOptions,
  authFile?: string,
): string {
  const q = shQuote;
  const opts = podmanRunOptions(
    w,
    w.gpuIndices.length,
    { container, agentId, leaseDir: dir, work: join(dir, "work"), notice: join(dir, "notice") },
    o,
  );
  const cases = Object.entries(o.cdiNames ?? {})
    .map(([i, n]) => `${i}) printf '%s' ${q(n)} ;; `)
    .join("");
  const env = Object.entries(o.podmanEnv)
    .map(([k, v]) => `${k}=${q(v)}`)
    .join(" ");
  const pull = authFile
    ? `podman pull --quiet --authfile "$D/${authFile}" "$IMG" >/dev/null`
    : `podman pull --quiet "$IMG" >/dev/null`;
  // The tenant's env values go to podman on stdin from printf (a shell builtin: no process of its
  // own, so no command line holds them); they are in this script only, which is 0700.
  const secrets = envSecrets(w.spec, container);
  const names = secrets.map((s) => q(s.secret)).join(" ");
  const makeSecrets = secrets.length
    ? [
        `podman secret rm ${names} >/dev/null 2>&1`,
        ...secrets.map(
          (s) =>
            `printf '%s' ${q(s.value)} | podman secret create ${q(s.secret)} - >/dev/null || { rc=$?; note "run $rc"; exit $rc; }`,
        ),
      ]
    : [];
  const dropSecrets = secrets.length ? `; podman secret rm ${names} >/dev/null 2>&1` : "";
  const lines = [
    "#!/bin/sh",
    `# zumbido lease ${w.leaseId.replace(/\n/g, " ")}: the tenant's image in a podman container (never as this user)`,
    `export ${env}`,
    `D=${q(dir)} C=${q(container)} IMG=${q(image)}`,
    `note() { printf '%s\\n' "$*" > "$D/exit.tmp" && mv "$D/exit.tmp" "$D/exit"; }`,
    `cdi() { case $1 in ${cases}*) printf '%s' "$1" ;; esac; }`,
    `gpus="\${SLURM_JOB_GPUS:-\${CUDA_VISIBLE_DEVICES:-}}"`,
    `printf '%s\\n' "$gpus" > "$D/gpus"`,
    "set --",
    "n=0 cvd=",
    `for i in $(printf '%s' "$gpus" | tr ',' ' '); do`,
    `  set -- "$@" --device "nvidia.com/gpu=$(cdi "$i")"`,
    `  cvd="\${cvd:+$cvd,}$n" n=$((n + 1))`,
    "done",
    "# as gpuRunOptions() spells them: only the allocated GPUs exist in the container, CUDA numbers them from 0",
    `set -- "$@" --env "ZUMBIDO_GPU_INDICES=$gpus" --env "CUDA_VISIBLE_DEVICES=$cvd"`,
    "# Nothing of the lease outlives this job: a watchdog outside the job removes the container once this",
    "# script is gone, however it ended (its start time guards against pid reuse).",
    `me=$$ st=$(cut -d' ' -f22 /proc/$$/stat)`,
    `( setsid sh -c 'while [ "$(cut -d" " -f22 /proc/$1/stat 2>/dev/null)" = "$2" ]; do sleep 1; done; podman rm -f -t 0 "$3" >/dev/null 2>&1' watchdog "$me" "$st" "$C" </dev/null >/dev/null 2>&1 & )`,
    `if ! podman image exists "$IMG"; then`,
    `  ${pull} || { rc=$?; rm -f "$D/${authFile ?? "auth.json"}"; note "pull $rc"; exit 125; }`,
    "fi",
    `rm -f "$D/${authFile ?? "auth.json"}"`,
    `trap 'podman kill --signal USR1 "$C" >/dev/null 2>&1' USR1`,
    `trap 'podman kill --signal TERM "$C" >/dev/null 2>&1' TERM`,
    ...makeSecrets,
    // --replace: a requeued job's leftover container of the same name goes first.
    `podman run -d --replace ${opts.map(q).join(" ")} "$@" ${[image, ...workloadArgv(w.spec)].map(q).join(" ")} >/dev/null; rc=$?${dropSecrets}`,
    `[ "$rc" = 0 ] || { note "run $rc"; exit $rc; }`,
    `date +%s%3N > "$D/started"`,
    "code=",
    `while [ -z "$code" ]; do`,
    `  podman wait "$C" > "$D/waited" 2>/dev/null &`,
    "  w=$!",
    `  while kill -0 "$w" 2>/dev/null; do wait "$w"; done`,
    `  code=$(cat "$D/waited" 2>/dev/null)`,
    `  [ -n "$code" ] || podman container exists "$C" || break`,
    "done",
    `oom=$(podman inspect --format '{{.State.OOMKilled}}' "$C" 2>/dev/null)`,
    `note "exit \${code:-unknown} \${oom:-false} $(date +%s%3N)"`,
    `podman rm -f "$C" >/dev/null 2>&1`,
    `exit "\${code:-1}"`,
  ];
  return lines.join("\n") + "\n";
}

/** The "started" note (epoch ms the container started), or undefined before it started. */
export function readStartedNote(dir: string): number | undefined {
  try {
    const t = Number(readFileSync(join(dir, "started"), "utf8").trim());
    return Number.isFinite(t) && t > 0 ? t : undefined;
  } catch {
    return undefined;
  }
}

/** The "exit" note the batch script wrote, or undefined when it wrote none (killed before). */
export function readExitNote(dir: string): ContainerExitNote | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, "exit"), "utf8").trim();
  } catch {
    return undefined;
  }
  const [stage, code, oom, at] = text.split(/\s+/);
  const n = code !== undefined && /^\d+$/.test(code) ? Number(code) : null;
  if ((stage === "pull" || stage === "run") && n !== null) return { stage, code: n };
  if (stage === "exit")
    return {
      stage,
      code: n,
      oomKilled: oom === "true",
      ...(at && /^\d+$/.test(at) ? { endedAt: Number(at) } : {}),
    };
  return undefined;
}

/** The exit code and reason of a lease from the batch script's note (stopped: the agent or Slurm ended it). */
export function containerOutcome(
  note: ContainerExitNote,
  dir: string,
  image: string | undefined,
  stopped: boolean,
): { exitCode: number | null; signal: string | null; reason: string } {
  const said = lastLine(join(dir, "stderr.log"));
  if (note.stage === "pull")
    return {
      exitCode: null,
      signal: null,
      reason: `could not pull image ${image ?? "?"}: ${said || `podman pull exited ${note.code}`}`,
    };
  if (note.stage === "run")
    return note.code === 127
      ? {
          exitCode: 127,
          signal: null,
          reason: `command not found in image ${image ?? "?"}${said ? ` (${said})` : ""}`,
        }
      : {
          exitCode: null,
          signal: null,
          reason: `podman could not run the container: ${said || `podman run exited ${note.code}`}`,
        };
  const r = containerEndReason(
    note.code,
    {
      oomKilled: note.oomKilled,
      killedByUs: stopped,
      execFailed: () => execFailedIn(join(dir, "container.log")),
      image,
    },
    signalName,
  );
  return { exitCode: note.code, signal: r.signal, reason: r.reason };
}

function lastLine(file: string): string {
  try {
    const lines = readFileSync(file, "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
    return (lines.at(-1) ?? "").replace(/^Error: /, "").slice(0, 500);
  } catch {
    return "";
  }
}
