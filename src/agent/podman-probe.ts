// Can podman run the agent's containers on this machine? A quick, bounded answer, asked once per process.
import { execFile } from "node:child_process";
import { podmanEnv } from "./executors/podman-args.js";

/** Whether podman can run containers here, and why not when it cannot. */
export type PodmanSupport = { ok: true; version: string } | { ok: false; why: string };

/** The result of one podman command (code -1: it could not run or timed out). */
export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs podman with the project's configuration and a time limit; never throws. */
export function podmanCommand(
  args: string[],
  timeoutMs: number,
  env: Record<string, string> = podmanEnv({}),
): Promise<PodmanResult> {
  return new Promise((resolve) => {
    execFile(
      "podman",
      args,
      { env, timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        const why =
          err && typeof err.code === "string"
            ? err.code === "ENOENT"
              ? "podman is not installed (not on PATH)"
              : err.code
            : err?.killed
              ? `podman ${args[0]} did not answer within ${Math.round(timeoutMs / 1000)} s`
              : "";
        resolve({ code, stdout, stderr: (why || stderr).trim() });
      },
    );
  });
}

const cache = new Map<string, Promise<PodmanSupport>>();

/**
 * Whether rootful podman works here (the executors drive it as root): `podman info` answers within
 * 10 s; with an image, a `podman run --rm` of it as a non-root user with no network also succeeds
 * within 30 s. The answer is cached for the life of the process.
 */
export function podmanRuns(image?: string): Promise<PodmanSupport> {
  const key = image ?? "";
  let p = cache.get(key);
  if (!p) {
    p = probe(image);
    cache.set(key, p);
  }
  return p;
}

async function probe(image: string | undefined): Promise<PodmanSupport> {
  if (process.getuid?.() !== 0)
    return {
      ok: false,
      why: "the podman executor drives rootful podman, and this process does not run as root",
    };
  const info = await podmanCommand(["info", "--format", "{{.Version.Version}}"], 10_000);
  if (info.code !== 0) return { ok: false, why: lastLine(info.stderr) || `podman info exited ${info.code}` };
  const version = info.stdout.trim();
  if (!image) return { ok: true, version };
  const run = await podmanCommand(
    ["run", "--rm", "--network", "none", "--user", "1000:1000", image, "true"],
    30_000,
  );
  if (run.code !== 0)
    return { ok: false, why: `podman run of ${image} failed: ${lastLine(run.stderr) || `exit ${run.code}`}` };
  return { ok: true, version };
}

function lastLine(s: string): string {
  return (
    s
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .at(-1) ?? ""
  )
    .replace(/^Error: /, "")
    .slice(0, 300);
}
