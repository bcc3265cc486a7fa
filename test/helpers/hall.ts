// One hall on real processes: a server over SQLite with short stop grace and timeout, a seeded
// operator, tenant and H100x8 site, agents started on demand (each enrolled with a fresh token), and
// the tenant's job calls. Shared by the end-to-end preemption and checkpoint suites.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiClient } from "../../src/agent/client.js";
import { enrolmentToken, seedDemo, type DemoSeed } from "../../src/cli/demo/federation.js";
import { Store } from "../../src/store/index.js";
import { kill, startAgentProc, startServerProc, waitFor, type ServerProc } from "./processes.js";

/** The hall's server, seed, store and agents, and the tenant's calls on its jobs. */
export interface Hall {
  /** The temporary folder: the database and each agent's state folder (dir/<name>). */
  dir: string;
  server: ServerProc;
  seed: DemoSeed;
  tenant: ApiClient;
  /** The server's store, opened beside it (for invariants the API does not show). */
  store: Store;
  /** Agents started so far; close() kills them. */
  agents: ChildProcess[];
  /**
   * Starts an agent with 8 H100s and its state in dir/<name>, talking to `url` (default: the server);
   * enrols it with a fresh token unless `enrol` is false (a restart); `args` go to `zumbido agent`.
   */
  agent(name: string, opts?: { url?: string; enrol?: boolean; args?: string[] }): Promise<ChildProcess>;
  /** Waits until exactly `n` nodes of the hall are ready. */
  ready(n: number, what: string): Promise<void>;
  /** Submits a job of `gpus` H100s (default 8) running `script` with /bin/sh. */
  submit(cls: "on-demand" | "interruptible", script: string, gpus?: number): Promise<{ id: string }>;
  job<T>(id: string): Promise<T>;
  /** The job's log text, every chunk joined. */
  logs(id: string): Promise<string>;
  /** The messages of the job's events, oldest first. */
  events(id: string): Promise<string[]>;
  /** Kills the agents (with `signal`) and the server, closes the store and removes the folder. */
  close(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts a hall named `hall` (folder prefix `prefix`) whose server stops leases after `graceS` + `stopTimeoutS`. */
export async function startHall(o: {
  prefix: string;
  hall: string;
  graceS: number;
  stopTimeoutS: number;
  /** More server settings (ZUMBIDO_* variables). */
  env?: Record<string, string>;
}): Promise<Hall> {
  const dir = mkdtempSync(join(tmpdir(), o.prefix));
  const db = join(dir, "z.db");
  const server = await startServerProc(`sqlite:${db}`, 0, {
    ZUMBIDO_STOP_GRACE_S: String(o.graceS),
    ZUMBIDO_STOP_TIMEOUT_S: String(o.stopTimeoutS),
    ...o.env,
  });
  try {
    return await seedHall(dir, db, server, o.hall);
  } catch (err) {
    // A hall that did not come up leaves nothing running.
    await kill(server.proc);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function seedHall(dir: string, db: string, server: ServerProc, hall: string): Promise<Hall> {
  const seed = await seedDemo(server.url, server.adminKey!, [
    {
      name: hall,
      country: "SE",
      lat: 65,
      lon: 21,
      powerKw: 1000,
      pue: 1.1,
      cooling: "air",
      carbonGPerKwh: 30,
      gpus: "H100x8",
      prices: { H100: [265, 140] },
    },
  ]);
  const tenant = new ApiClient(server.url, seed.tenantKey);
  const operator = new ApiClient(server.url, seed.operatorKey);
  const store = await Store.open({ kind: "sqlite", path: db });
  const agents: ChildProcess[] = [];
  return {
    dir,
    server,
    seed,
    tenant,
    store,
    agents,
    async agent(name, a = {}) {
      const token =
        a.enrol === false ? undefined : await enrolmentToken(server.url, seed.operatorKey, seed.sites[0]!.id);
      const p = startAgentProc(a.url ?? server.url, join(dir, name), "H100x8", token, name, a.args ?? []);
      agents.push(p);
      return p;
    },
    async ready(n, what) {
      await waitFor(
        async () =>
          (await operator.get<{ state: string }[]>("/v1/nodes")).filter((x) => x.state === "ready").length ===
          n,
        what,
        120_000,
      );
    },
    submit: (cls, script, gpus = 8) =>
      tenant.post<{ id: string }>("/v1/jobs", {
        gpus,
        gpuModels: ["H100"],
        class: cls,
        command: ["/bin/sh", "-c", script],
      }),
    job: <T>(id: string) => tenant.get<T>(`/v1/jobs/${id}`),
    logs: async (id) =>
      (await tenant.get<{ text: string }[]>(`/v1/jobs/${id}/logs`)).map((l) => l.text).join(""),
    events: async (id) =>
      (await tenant.get<{ message: string }[]>(`/v1/jobs/${id}/events`)).map((e) => e.message),
    async close(signal = "SIGTERM") {
      for (const p of agents.splice(0)) await kill(p, signal);
      await kill(server.proc);
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
