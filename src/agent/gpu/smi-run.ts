import { execFile } from "node:child_process";

/** Result of one nvidia-smi call: its output, or why there is none. */
export type SmiResult =
  { ok: true; stdout: string } | { ok: false; kind: "absent" | "timeout" | "error"; message: string };

/** Runs nvidia-smi (or `bin`) with args, killed after timeoutMs; never throws. */
export function runSmi(args: string[], opts: { bin?: string; timeoutMs?: number } = {}): Promise<SmiResult> {
  const bin = opts.bin ?? "nvidia-smi";
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise((resolve) => {
    execFile(
      bin,
      args,
      { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 8 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (!err) return resolve({ ok: true, stdout });
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT")
          return resolve({
            ok: false,
            kind: "absent",
            message: `${bin} not found: no NVIDIA driver on this machine (or not on PATH)`,
          });
        if (err.killed)
          return resolve({
            ok: false,
            kind: "timeout",
            message: `${bin} did not answer within ${timeoutMs} ms (driver hung or a GPU unresponsive)`,
          });
        const text = `${stdout}${stderr}`.trim().split("\n").slice(0, 3).join(" | ");
        resolve({
          ok: false,
          kind: "error",
          message: `${bin} ${args.join(" ")} failed (exit ${String(code)}): ${text}`,
        });
      },
    );
  });
}

/** Splits `--format=csv,noheader,nounits` output into rows of trimmed fields. */
export function parseSmiCsv(text: string): string[][] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => l.split(",").map((f) => f.trim()));
}

/** A number from an nvidia-smi field, or undefined for "[N/A]", "[Not Supported]", "N/A", "[Unknown Error]" and the like. */
export function smiNumber(field: string | undefined): number | undefined {
  if (field === undefined) return undefined;
  const f = field.trim();
  if (f === "" || f.startsWith("[") || /^n\/?a$/i.test(f)) return undefined;
  const n = Number(f.replace(/\s*(W|MiB|C|%|mJ)$/i, ""));
  return Number.isFinite(n) ? n : undefined;
}

/** Whether a field reads "[N/A]"/"[Not Supported]" (the GPU or driver does not offer it). */
export function smiMissing(field: string | undefined): boolean {
  return smiNumber(field) === undefined;
}
