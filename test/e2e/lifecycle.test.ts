// End to end on real processes: a server, an agent, real child workloads, SQLite.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "../../src/agent/client.js";
import { enrolmentToken, seedDemo, type DemoSeed } from "../../src/cli/demo/federation.js";
import { Store } from "../../src/store/index.js";
import { kill, startAgentProc, startServerProc, waitFor, type ServerProc } from "../helpers/processes.js";

interface JobView {
  id: string;
  state: string;
  stateReason: string | null;
  exitCode: number | null;
  startedAt: number | null;
  endedAt: number | null;
  leases: {
    id: string;
    gpuIndices: number[];
    startedAt: number | null;
    endedAt: number | null;
    stopRequestedAt: number | null;
    priceMinorPerGpuHour: number;
  }[];
  usage: {
    gpuSeconds: number;
    costMinor: number;
    energyWh: number;
    lines: { meteredGpuMs: number; billedGpuMs: number }[];
  };
}

const node = process.execPath;
const SITE = [
  {
    name: "E2E Hall",
    country: "ES",
    lat: 43,
    lon: -5,
    powerKw: 1000,
    pue: 1.2,
    cooling: "air" as const,
    carbonGPerKwh: 100,
    gpus: "H100x8",
    prices: { H100: [360, 180] as [number, number] },
  },
];

describe("a job's life on real processes", () => {
  let dir: string;
  let dbPath: string;
  let server: ServerProc;
  let agent: ChildProcess;
  let seed: DemoSeed;
  let tenant: ApiClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "zumbido-e2e-"));
    dbPath = join(dir, "z.db");
    server = await startServerProc(`sqlite:${dbPath}`);
    seed = await seedDemo(server.url, server.adminKey!, SITE);
    const token = await enrolmentToken(server.url, seed.operatorKey, seed.sites[0]!.id);
    agent = startAgentProc(server.url, join(dir, "agent"), "H100x8", token);
    const operator = new ApiClient(server.url, seed.operatorKey);
    await waitFor(
      async () => (await operator.get<{ state: string }[]>("/v1/nodes")).some((n) => n.state === "ready"),
      "the agent to enrol",
    );
    tenant = new ApiClient(server.url, seed.tenantKey);
  });
  afterAll(async () => {
    if (agent) await kill(agent);
    if (server) await kill(server.proc);
    rmSync(dir, { recursive: true, force: true });
  });

  const submit = (body: Record<string, unknown>) =>
    tenant.post<{ id: string }>("/v1/jobs", { gpuModels: ["H100"], ...body });
  const job = (id: string) => tenant.get<JobView>(`/v1/jobs/${id}`);
  const ended = (id: string, ms = 30_000) =>
    waitFor(
      async () => {
        const j = await job(id);
        return ["succeeded", "failed", "cancelled"].includes(j.state) ? j : undefined;
      },
      `job ${id} to end`,
      ms,
    );

  it("runs a workload pinned to exactly its GPUs, ships its logs, and bills what was metered", async () => {
    const { id } = await submit({
      gpus: 2,
      command: [
        node,
        "-e",
        "console.log('visible=' + process.env.CUDA_VISIBLE_DEVICES); setTimeout(() => {}, 1500)",
      ],
    });
    const j = await ended(id);
    expect(j.state).toBe("succeeded");
    expect(j.exitCode).toBe(0);
    const logs = await tenant.get<{ text: string }[]>(`/v1/jobs/${id}/logs`);
    expect(logs.map((l) => l.text).join("")).toContain(`visible=${j.leases[0]!.gpuIndices.join(",")}`);
    expect(j.leases[0]!.gpuIndices).toHaveLength(2);
    const line = j.usage.lines[0]!;
    expect(line.billedGpuMs).toBe(2 * (j.leases[0]!.endedAt! - j.leases[0]!.startedAt!));
    expect(j.usage.gpuSeconds).toBe(Math.ceil(line.billedGpuMs / 1000));
    expect(j.usage.costMinor).toBe(Math.floor((j.usage.gpuSeconds * 360 * 2 + 3600) / 7200));
    expect(j.usage.energyWh).toBeGreaterThan(0);
  });

  it("a workload that exits non-zero fails with its exit code", async () => {
    const j = await ended((await submit({ gpus: 1, command: [node, "-e", "process.exit(3)"] })).id);
    expect(j.state).toBe("failed");
    expect(j.exitCode).toBe(3);
    expect(j.stateReason).toMatch(/exited with code 3/);
  });

  it("a workload that is killed fails with the signal", async () => {
    const j = await ended(
      (await submit({ gpus: 1, command: [node, "-e", "process.kill(process.pid, 'SIGKILL')"] })).id,
    );
    expect(j.state).toBe("failed");
    expect(j.stateReason).toMatch(/SIGKILL/);
  });

  it("a command that does not exist fails with a clear reason and no bill", async () => {
    const j = await ended((await submit({ gpus: 1, command: ["no-such-program-zumbido"] })).id);
    expect(j.state).toBe("failed");
    expect(j.stateReason).toMatch(/not found|no-such-program/);
    expect(j.usage.costMinor).toBe(0);
  });

  it("a cancelled job is billed only up to the cancel", async () => {
    const { id } = await submit({
      gpus: 4,
      gracePeriodS: 5,
      command: [
        node,
        "-e",
        "process.on('SIGTERM', () => setTimeout(() => process.exit(0), 1500)); setInterval(() => {}, 1000)",
      ],
    });
    await waitFor(async () => (await job(id)).state === "running", "the job to run");
    await new Promise((r) => setTimeout(r, 1200));
    await tenant.post(`/v1/jobs/${id}/cancel`);
    const j = await ended(id);
    expect(j.state).toBe("cancelled");
    const l = j.leases[0]!;
    expect(l.stopRequestedAt).not.toBeNull();
    // The workload took ~1.5 s more to checkpoint after the notice; that time is metered, not billed.
    expect(l.endedAt! - l.stopRequestedAt!).toBeGreaterThan(1000);
    expect(j.usage.lines[0]!.billedGpuMs).toBe(4 * (l.stopRequestedAt! - l.startedAt!));
    expect(j.usage.lines[0]!.meteredGpuMs).toBeGreaterThan(j.usage.lines[0]!.billedGpuMs);
  });

  it("survives the server being killed: the job keeps running and usage is replayed exactly once", async () => {
    const { id } = await submit({ gpus: 2, command: [node, "-e", "setTimeout(() => {}, 4000)"] });
    await waitFor(async () => (await job(id)).state === "running", "the job to run");
    await kill(server.proc, "SIGKILL");
    await new Promise((r) => setTimeout(r, 5000)); // the workload ends while the server is down
    server = await startServerProc(`sqlite:${dbPath}`, server.port);
    const j = await ended(id);
    expect(j.state).toBe("succeeded");
    // Let the agent ship the rest of its outbox, then check the records tile the run exactly.
    await new Promise((r) => setTimeout(r, 1500));
    const store = await Store.open({ kind: "sqlite", path: dbPath });
    try {
      const l = j.leases[0]!;
      const recs = (await store.usage.forLeases([l.id])).sort((a, b) => a.fromMs - b.fromMs);
      expect(recs.length).toBeGreaterThan(1);
      expect(recs[0]!.fromMs).toBe(l.startedAt);
      expect(recs[recs.length - 1]!.toMs).toBe(l.endedAt);
      for (let i = 1; i < recs.length; i++) expect(recs[i]!.fromMs).toBe(recs[i - 1]!.toMs);
      const seqs = recs.map((r) => r.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(recs.reduce((a, r) => a + r.gpuMs, 0)).toBe(2 * (l.endedAt! - l.startedAt!));
    } finally {
      await store.close();
    }
  });
});
