import type { JobClass } from "../domain/index.js";

/** One job of a trace, as the simulator replays it. */
export interface TraceJob {
  id: string;
  submitS: number;
  /** True run time on the requested GPUs; only the oracle policy may read it. */
  durationS: number;
  gpus: number;
  tenant: string;
  gpuModel?: string;
  class?: JobClass;
}

/** A trace-parsing error naming the line and field. */
export class TraceError extends Error {}

/**
 * Parses a trace CSV: `job_id,submit_s,duration_s,num_gpus` with optional `vc`, `gpu_model`,
 * `class` (extra columns ignored), or the upstream Philly export `timestamp,duration,num_gpus,
 * gpu_time,cluster` (submit seconds counted from its earliest timestamp, UTC). Jobs come back
 * sorted by submit time, then file order.
 */
export function parseTraceCsv(text: string): TraceJob[] {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? "").split(",").map((h) => h.trim());
  const col = (name: string): number => header.indexOf(name);
  const jobs: TraceJob[] = [];
  const philly = col("job_id") < 0 && col("timestamp") >= 0 && col("duration") >= 0;
  if (!philly) {
    for (const need of ["job_id", "submit_s", "duration_s", "num_gpus"]) {
      if (col(need) < 0)
        throw new TraceError(
          `trace header lacks column "${need}"; expected job_id,submit_s,duration_s,num_gpus[,vc,gpu_model,class] (got: ${header.join(",")})`,
        );
    }
  }
  const cId = col("job_id");
  const cSubmit = col("submit_s");
  const cDur = philly ? col("duration") : col("duration_s");
  const cGpus = col("num_gpus");
  const cVc = philly ? col("cluster") : col("vc");
  const cModel = col("gpu_model");
  const cClass = col("class");
  const cTs = col("timestamp");
  const order: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    const f = line.split(",");
    const num = (c: number, name: string, min: number): number => {
      const v = Number(f[c]);
      if (!Number.isFinite(v) || v < min)
        throw new TraceError(`trace line ${i + 1}: ${name} must be a number >= ${min}, got "${f[c] ?? ""}"`);
      return v;
    };
    let submitS: number;
    if (philly) {
      const ms = Date.parse(`${(f[cTs] ?? "").trim().replace(" ", "T")}Z`);
      if (!Number.isFinite(ms))
        throw new TraceError(`trace line ${i + 1}: timestamp "${f[cTs] ?? ""}" is not YYYY-MM-DD HH:MM:SS`);
      submitS = ms / 1000;
    } else submitS = num(cSubmit, "submit_s", 0);
    const gpus = num(cGpus, "num_gpus", 1);
    if (!Number.isInteger(gpus))
      throw new TraceError(`trace line ${i + 1}: num_gpus must be a whole number, got "${f[cGpus] ?? ""}"`);
    const cls = cClass >= 0 ? (f[cClass] ?? "").trim() : "";
    if (cls !== "" && cls !== "on-demand" && cls !== "interruptible")
      throw new TraceError(`trace line ${i + 1}: class must be on-demand or interruptible, got "${cls}"`);
    const model = cModel >= 0 ? (f[cModel] ?? "").trim() : "";
    jobs.push({
      id: philly ? `philly-${String(jobs.length).padStart(5, "0")}` : (f[cId] ?? "").trim(),
      submitS,
      durationS: Math.max(1, Math.trunc(num(cDur, philly ? "duration" : "duration_s", 0))),
      gpus,
      tenant: cVc >= 0 ? (f[cVc] ?? "").trim() || "default" : "default",
      ...(model ? { gpuModel: model } : {}),
      ...(cls ? { class: cls as JobClass } : {}),
    });
    order.push(order.length);
  }
  if (philly && jobs.length > 0) {
    const t0 = Math.min(...jobs.map((j) => j.submitS));
    for (const j of jobs) j.submitS -= t0;
  }
  const idx = jobs.map((_, k) => k);
  idx.sort((a, b) => jobs[a]!.submitS - jobs[b]!.submitS || a - b);
  return idx.map((k) => jobs[k]!);
}

/** The jobs submitted in [startS, endS), their submit times re-based so that startS is 0. */
export function cutWindow(trace: TraceJob[], startS: number, endS: number): TraceJob[] {
  if (!(endS > startS)) throw new TraceError(`window end ${endS} must be after its start ${startS}`);
  return trace
    .filter((j) => j.submitS >= startS && j.submitS < endS)
    .map((j) => ({ ...j, submitS: j.submitS - startS }));
}
