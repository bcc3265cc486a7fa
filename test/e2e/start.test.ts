// `npm start`: the demo's agents run jobs in podman containers from the local demo image when podman
// works here, and fall back to host processes (saying so) when asked or when it does not.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { buildDemoImage } from "../../src/cli/demo/containers.js";
import { until } from "../executors/conformance.js";
import { PODMAN_ENV, podmanUnavailable } from "../executors/podman-env.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const why = podmanUnavailable();
const underCi = process.env.CI === "true";
const procs: ChildProcess[] = [];

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill("SIGTERM");
  await Promise.all(
    procs.filter((p) => p.exitCode === null).map((p) => new Promise((r) => p.once("exit", r))),
  );
});

/** Starts `npm start`'s entry point in a fresh data folder; resolves with its banner once it is up. */
async function start(env: Record<string, string>): Promise<{ banner: string; url: string; tenant: string }> {
  const dir = mkdtempSync(join(tmpdir(), "zumbido-start-"));
  const proc = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/main.ts")], {
    cwd: ROOT,
    env: {
      ...process.env,
      ZUMBIDO_DATA: dir,
      ZUMBIDO_STORE: `sqlite:${join(dir, "zumbido.db")}`,
      ZUMBIDO_PORT: "0",
      ZUMBIDO_LOG_LEVEL: "warn",
      ZUMBIDO_SCHEDULE_INTERVAL_MS: "200",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  procs.push(proc);
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const banner = await until(
    "the banner",
    () => {
      if (proc.exitCode !== null) throw new Error(`npm start exited ${proc.exitCode}: ${out}`);
      return Promise.resolve(out.includes("Try, in another terminal") ? out : undefined);
    },
    90_000,
    200,
  );
  return {
    banner,
    url: /Zumbido is running at (\S+)/.exec(banner)![1]!,
    tenant: /tenant {4}(\S+)/.exec(banner)![1]!,
  };
}

/** Containers labelled with the job, running (or, with all, in any state), as podman lists them. */
function containersOfJob(jobId: string, all = false): string[] {
  const ps = spawnSync(
    "podman",
    ["ps", ...(all ? ["-a"] : []), "-q", "--filter", `label=zumbido.job=${jobId}`],
    {
      env: PODMAN_ENV,
      encoding: "utf8",
    },
  );
  return ps.stdout.split("\n").filter(Boolean);
}

/** Submits a 1-GPU job and returns its id. */
async function submit(url: string, key: string, script: string): Promise<string> {
  const r = await fetch(`${url}/v1/jobs`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ gpus: 1, gpuModels: ["H100"], command: ["sh", "-c", script] }),
  });
  const body = (await r.json()) as { id: string };
  expect(r.status, JSON.stringify(body)).toBe(201);
  return body.id;
}

async function get<T>(url: string, key: string, path: string): Promise<T> {
  const r = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${key}` } });
  return (await r.json()) as T;
}

/** Waits for the job to succeed and returns its log text. */
async function logsWhenDone(url: string, key: string, id: string): Promise<string> {
  await until(
    `job ${id} to succeed`,
    async () => {
      const j = await get<{ state: string }>(url, key, `/v1/jobs/${id}`);
      if (j.state === "failed" || j.state === "cancelled") throw new Error(`job ${id} ended ${j.state}`);
      return j.state === "succeeded";
    },
    60_000,
    250,
  );
  return until(
    "the job's log",
    async () => {
      const t = (await get<{ text: string }[]>(url, key, `/v1/jobs/${id}/logs`)).map((c) => c.text).join("");
      return t.includes("uid=") ? t : undefined;
    },
    20_000,
    250,
  );
}

describe("npm start: host processes when asked (ZUMBIDO_DEMO_EXECUTOR=local)", () => {
  it("says plainly there is no isolation, and runs the job as a host process", async () => {
    const s = await start({ ZUMBIDO_DEMO_EXECUTOR: "local" });
    expect(s.banner).toMatch(/host processes of this machine: NO isolation/);
    expect(s.banner).toContain("podman not used: ZUMBIDO_DEMO_EXECUTOR=local");
    const id = await submit(s.url, s.tenant, 'echo "uid=$(id -u)"');
    expect(await logsWhenDone(s.url, s.tenant, id)).toContain(`uid=${process.getuid?.() ?? ""}`);
  }, 180_000);
});

if (why && underCi) {
  describe("npm start with podman", () => {
    it("needs podman under CI", () => expect.fail(`podman cannot run containers under CI: ${why}`));
  });
} else {
  (why ? describe.skip : describe)(`npm start with podman${why ? ` — not run: ${why}` : ""}`, () => {
    it("builds the demo image without a registry (podman import of a busybox rootfs)", async () => {
      const image = `localhost/zumbido/demo-test-${process.pid}:latest`;
      try {
        expect(await buildDemoImage(image)).toBeUndefined();
        const r = spawnSync("podman", ["run", "--rm", "--network", "none", image, "sh", "-c", "id -u; pwd"], {
          env: PODMAN_ENV,
          encoding: "utf8",
        });
        expect(r.stdout, r.stderr).toBe("1000\n/work\n");
      } finally {
        spawnSync("podman", ["rmi", "-f", image], { env: PODMAN_ENV });
      }
    });

    it("runs the demo's jobs in containers from the demo image, as a non-root user, and says so", async () => {
      const s = await start({ ZUMBIDO_DEMO_EXECUTOR: "auto" });
      expect(s.banner).toMatch(/workloads {4}podman containers from localhost\/zumbido\/demo:latest/);
      expect(s.banner).not.toMatch(/NO isolation/);
      const id = await submit(s.url, s.tenant, 'echo "uid=$(id -u) gpus=$CUDA_VISIBLE_DEVICES"; sleep 3');
      // While it runs, podman lists its container, labelled with the job.
      await until(
        "the job's container",
        () => Promise.resolve(containersOfJob(id).length === 1),
        60_000,
        200,
      );
      expect(await logsWhenDone(s.url, s.tenant, id)).toContain("uid=1000 gpus=0");
      // Nothing of the job outlives it: its container is removed once its exit is recorded.
      await until(
        "the job's container to be removed",
        () => Promise.resolve(containersOfJob(id, true).length === 0),
        20_000,
        200,
      );
    }, 180_000);
  });
}
