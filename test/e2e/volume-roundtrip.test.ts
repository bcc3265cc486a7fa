// Issue 15, volumes end to end: `zumbido volumes cp` (the real CLI) uploads a file through the relay
// to a real agent holding the site's storage; a job in a real podman container reads it from the
// mounted volume and writes its result there; the CLI downloads the result. A read-only mount
// refuses writes. The API and agent run in this process over real HTTP and a real SQLite store.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent, type GpuSource } from "../../src/agent/agent.js";
import { ModelledEnergyMeter } from "../../src/agent/energy-model.js";
import { PodmanExecutor } from "../../src/agent/executors/podman.js";
import { podmanUnavailable, removeContainersNamed, TEST_IMAGE } from "../executors/podman-env.js";
import { buildWorld, simGpus, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { BIN } from "../helpers/processes.js";
import { STORES } from "../helpers/stores.js";

const why = podmanUnavailable();
if (why && process.env.CI === "true") throw new Error(`volume round trip needs podman: ${why}`);
if (why) console.warn(`volume round trip: not run (${why})`);

const gpus: GpuSource = {
  discover: () => Promise.resolve({ gpus: simGpus("H100", 1), driverVersion: "550.0" }),
  health: () => Promise.resolve({ healthy: true, reasons: [] }),
};

/** Runs the real CLI; resolves with its exit code and output. */
function cli(url: string, key: string, args: string[]): { done: Promise<{ code: number; out: string }> } {
  const p = spawn(process.execPath, [BIN, "--url", url, "--token", key, ...args], {
    env: { ...process.env },
  });
  let out = "";
  p.stdout.on("data", (d: Buffer) => (out += d.toString()));
  p.stderr.on("data", (d: Buffer) => (out += d.toString()));
  return { done: new Promise((r) => p.on("close", (code) => r({ code: code ?? -1, out }))) };
}

describe.skipIf(why !== undefined)("volume round trip (real CLI, agent and podman)", () => {
  let h: Harness;
  let w: World;
  let agent: Agent;
  let url = "";
  const dir = mkdtempSync(join(tmpdir(), "zumbido-vol-e2e-"));
  const root = join(dir, "volumes");

  beforeAll(async () => {
    h = await startHarness(STORES[0]!);
    w = await buildWorld(h.app, h.adminKey);
    url = await h.app.listen({ port: 0, host: "127.0.0.1" });
    await call(h.app, w.operatorKey, "PUT", `/v1/sites/${w.sites.es}/storage`, {
      path: root,
      capacityBytes: 10e9,
      priceMinorPerGbMonth: 4,
    });
    const tok = await call(h.app, w.operatorKey, "POST", `/v1/sites/${w.sites.es}/enrolment-tokens`);
    agent = new Agent({
      server: url,
      token: tok.json.token as string,
      name: "es-storage",
      stateDir: join(dir, "agent"),
      executor: new PodmanExecutor({
        stateDir: join(dir, "w"),
        now: () => Date.now(),
        agentId: "volrt",
        defaultImage: TEST_IMAGE,
        memoryBytes: 128 << 20,
      }),
      gpus,
      meter: new ModelledEnergyMeter(),
      clock: h.clock,
      volumeRoot: root,
    });
    await agent.init();
    await agent.tick();
  });
  afterAll(async () => {
    removeContainersNamed("job");
    await agent?.stop().catch(() => undefined);
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the CLI while the agent serves the relay, until the CLI ends. */
  async function withRelay(args: string[]): Promise<{ code: number; out: string }> {
    const run = cli(url, w.tenantKey, args);
    let ended: { code: number; out: string } | undefined;
    void run.done.then((r) => (ended = r));
    while (!ended) {
      if ((await agent.volumePass()) === 0) await new Promise((r) => setTimeout(r, 100));
    }
    return ended;
  }

  async function runJob(volume: string, script: string): Promise<{ state: string; logs: string }> {
    const sub = await call(h.app, w.tenantKey, "POST", "/v1/jobs", {
      gpus: 1,
      gpuModels: ["H100"],
      command: [script],
      shell: true,
      image: TEST_IMAGE,
      volumes: [{ name: "ds", mountPath: "/data", readOnly: volume.endsWith(":ro") }],
    });
    expect(sub.status).toBe(201);
    await h.loop.tick();
    for (let i = 0; i < 200; i++) {
      await agent.tick();
      const j = await call(h.app, w.tenantKey, "GET", `/v1/jobs/${sub.json.id}`);
      if (["succeeded", "failed", "cancelled"].includes(j.json.state)) {
        const logs = (await call(h.app, w.tenantKey, "GET", `/v1/jobs/${sub.json.id}/logs`)).json as {
          text: string;
        }[];
        return { state: j.json.state, logs: logs.map((l) => l.text).join("") };
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error("job did not end");
  }

  it("uploads, a job reads and writes the volume, downloads the result; :ro refuses writes", async () => {
    const create = await call(h.app, w.tenantKey, "POST", "/v1/volumes", {
      name: "ds",
      siteId: w.sites.es,
      sizeBytes: 50e6,
    });
    expect(create.status).toBe(201);
    const vol = create.json.id as string;
    const local = join(dir, "in.txt");
    // 5 MB: more than one 4 MiB chunk.
    writeFileSync(local, "hello volume\n".repeat(400_000));
    const up = await withRelay(["volumes", "cp", local, "vol:ds/in/in.txt"]);
    expect(up.out).toMatch(/copied 5\.2 MB into vol:ds\/in\/in\.txt/);
    expect(up.code).toBe(0);
    const onDisk = join(root, vol, "in", "in.txt");
    expect(readFileSync(onDisk).equals(readFileSync(local))).toBe(true);
    expect(existsSync(join(root, vol, ".zumbido-partial"))).toBe(true);

    const job = await runJob("ds", "wc -l < /data/in/in.txt > /data/count.txt && echo wrote");
    expect(job.state).toBe("succeeded");
    expect(readFileSync(join(root, vol, "count.txt"), "utf8").trim()).toBe("400000");

    const back = join(dir, "count.txt");
    const down = await withRelay(["volumes", "cp", "vol:ds/count.txt", back]);
    expect(down.code).toBe(0);
    expect(readFileSync(back, "utf8").trim()).toBe("400000");

    const ro = await runJob("ds:ro", "echo no > /data/ro.txt");
    expect(ro.state).toBe("failed");
    expect(existsSync(join(root, vol, "ro.txt"))).toBe(false);

    // A full volume refuses before any byte moves, and says so.
    const big = join(dir, "big.bin");
    writeFileSync(big, Buffer.alloc(46e6));
    const full = await withRelay(["volumes", "cp", big, "vol:ds/big.bin"]);
    expect(full.code).not.toBe(0);
    expect(full.out).toMatch(/volume ds is full: .* Nothing was written/);
    expect(existsSync(join(root, vol, "big.bin"))).toBe(false);
  }, 300_000);
});
