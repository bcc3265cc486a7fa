import { execFile } from "node:child_process";
import { join } from "node:path";
import type { WorkloadSpec } from "../executor.js";
import { shQuote } from "./slurm-parse.js";

const RESERVED_ENV = new Set([
  "CUDA_VISIBLE_DEVICES",
  "NVIDIA_VISIBLE_DEVICES",
  "CUDA_DEVICE_ORDER",
  "ZUMBIDO_LEASE_ID",
  "ZUMBIDO_JOB_ID",
  "ZUMBIDO_GPU_MODEL",
]);

/** The batch script for one lease: tenant env, Zumbido's env, a note of the GPUs, then exec of the command. */
export function batchScript(w: WorkloadSpec, dir: string): string {
  const lines = ["#!/bin/sh", `# zumbido lease ${w.leaseId.replace(/\n/g, " ")}`];
  for (const [k, v] of Object.entries(w.spec.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      throw new Error(`spec.env: "${k}" is not a valid environment variable name; use letters, digits and _`);
    if (!RESERVED_ENV.has(k)) lines.push(`export ${k}=${shQuote(v)}`);
  }
  lines.push(
    `export ZUMBIDO_LEASE_ID=${shQuote(w.leaseId)} ZUMBIDO_JOB_ID=${shQuote(w.jobId)} ZUMBIDO_GPU_MODEL=${shQuote(w.gpuModel)} CUDA_DEVICE_ORDER=PCI_BUS_ID`,
  );
  lines.push(`export NVIDIA_VISIBLE_DEVICES="\${CUDA_VISIBLE_DEVICES:-void}"`);
  // Slurm shows the GPU indices (IDX) only while the job holds them: note them for a job that ends between two polls.
  lines.push(
    `printf '%s\\n' "\${SLURM_JOB_GPUS:-\${CUDA_VISIBLE_DEVICES:-}}" > ${shQuote(join(dir, "gpus"))}`,
  );
  const argv = w.spec.shell ? ["/bin/sh", "-c", w.spec.command.join(" ")] : w.spec.command;
  // exec: the workload becomes the batch step's process, so signals from scancel reach it directly.
  lines.push(`exec ${argv.map(shQuote).join(" ")}`);
  return lines.join("\n") + "\n";
}

/** What a Slurm command answered. */
export interface SlurmCommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one Slurm command with the given environment; never throws (a missing command is code -1 with a reason). */
export function runSlurmCommand(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<SlurmCommandResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      const why =
        err && typeof err.code === "string"
          ? `${cmd}: ${err.code === "ENOENT" ? "not installed (not on PATH)" : err.code}`
          : "";
      resolve({ code, stdout, stderr: stderr || why || (err?.killed ? `${cmd} timed out` : "") });
    });
  });
}

/** Slurm prints local times without a zone ("2026-11-27T23:10:06"); Date parses that form as local time. */
export function slurmTime(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const t = new Date(s).getTime();
  return Number.isFinite(t) ? t : undefined;
}
