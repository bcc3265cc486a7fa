// Two agents on this machine as two nodes of one site (cluster network on loopback: 127.0.0.1 and
// 127.0.0.2), real server and agent processes, host-process workloads (--unsafe-host-processes).
// A 2-node x 1-GPU job runs a real torch.distributed all-reduce (gloo, Debian's python3-torch).
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "../../src/agent/client.js";
import { enrolmentToken, seedDemo, type DemoSeed } from "../../src/cli/demo/federation.js";
import { kill, startAgentProc, startServerProc, waitFor, type ServerProc } from "../helpers/processes.js";

const PYTHON = "/usr/bin/python3";
const SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), "../fixtures/allreduce.py");
const GRACE_S = 2;

interface JobView {
  id: string;
  state: string;
  stateReason: string | null;
  leases: {
    id: string;
    nodeId: string;
    state: string;
    createdAt: number;
    startedAt: number | null;
    endedAt: number | null;
    stopReason: string | null;
    stopRequestedAt: number | null;
    gang?: { rank: number; size: number; port: number; readyAt: number | null; goAt: number | null } | null;
  }[];
  usage: { lines: { leaseId: string; gpuSeconds: number; billedGpuMs: number }[] };
}

const SITE = [
  {
    name: "Loopback Hall",
    country: "ES",
    lat: 43,
    lon: -5,
    powerKw: 1000,
    pue: 1.2,
    cooling: "air" as const,
    carbonGPerKwh: 100,
    gpus: "H100x1",
    prices: { H100: [360, 180] as [number, number] },
  },
];

describe("a 2-node job on two agents: rendezvous, start barrier, all-reduce, node loss", () => {
  let dir: string;
  let server: ServerProc;
  const agents: (ChildProcess | undefined)[] = [];
  let seed: DemoSeed;
  let tenant: ApiClient;
  let operator: ApiClient;
  let pidDir: string;

  const startAgent = async (k: number, token?: string): Promise<ChildProcess> =>
    startAgentProc(server.url, join(dir, `agent${k}`), "H100x1", token, `loop-${k}`, [
      "--cluster-address",
      `127.0.0.${k + 1}`,
      "--fabric",
      "eth-loop",
      "--switch-group",
      "leaf-1",
    ]);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "zumbido-multinode-"));
    pidDir = join(dir, "pids");
    mkdirSync(pidDir);
    server = await startServerProc(`sqlite:${join(dir, "z.db")}`, 0, {
      ZUMBIDO_STOP_GRACE_S: String(GRACE_S),
      // Short enough for a test, long enough that a loaded machine's late heartbeat is not a lost node.
      ZUMBIDO_HEARTBEAT_TIMEOUT_MS: "5000",
      ZUMBIDO_LEASE_LOSS_TIMEOUT_MS: "5000",
    });
    seed = await seedDemo(server.url, server.adminKey!, SITE);
    operator = new ApiClient(server.url, seed.operatorKey);
    tenant = new ApiClient(server.url, seed.tenantKey);
    for (const k of [0, 1])
      agents[k] = await startAgent(k, await enrolmentToken(server.url, seed.operatorKey, seed.sites[0]!.id));
    await waitFor(
      async () =>
        (
          await operator.get<{ name: string; state: string; cluster?: { address: string } }[]>("/v1/nodes")
        ).filter((n) => n.name.startsWith("loop-") && n.state === "ready" && n.cluster?.address).length === 2,
      "both agents to enrol with their cluster addresses",
      90_000,
    );
  });
  afterAll(async () => {
    for (const a of agents) if (a) await kill(a);
    // Ranks whose agent was killed outlive it (host processes): end them here.
    if (pidDir && existsSync(pidDir))
      for (const f of readdirSync(pidDir)) {
        try {
          process.kill(Number(readFileSync(join(pidDir, f), "utf8")), "SIGKILL");
        } catch {
          // already gone
        }
      }
    if (server) await kill(server.proc);
    rmSync(dir, { recursive: true, force: true });
  });

  const submit = (holdS: number) =>
    tenant.post<{ id: string }>("/v1/jobs", {
      gpuModels: ["H100"],
      gpus: 2,
      gpusPerNode: 1,
      fabric: "eth-loop",
      command: [PYTHON, SCRIPT],
      env: { GLOO_SOCKET_IFNAME: "lo", HOLD_S: String(holdS), PID_DIR: pidDir },
    });
  const job = (id: string) => tenant.get<JobView>(`/v1/jobs/${id}`);
  const logs = async (id: string) =>
    (await tenant.get<{ text: string }[]>(`/v1/jobs/${id}/logs`)).map((l) => l.text).join("");

  it("both ranks get the rendezvous, start together and all-reduce to 11 (1 + 10)", async () => {
    const { id } = await submit(0);
    const j = await waitFor(
      async () => {
        const v = await job(id);
        return ["succeeded", "failed", "cancelled"].includes(v.state) ? v : undefined;
      },
      "the 2-node job to end",
      120_000,
    );
    const out = await logs(id);
    expect(j.state, `${j.stateReason}\n${out}`).toBe("succeeded");
    expect(out).toContain("rank 0 of 2: allreduce=11");
    expect(out).toContain("rank 1 of 2: allreduce=11");
    // The master is rank 0's cluster-network address; both ranks see the same port and world.
    const master =
      /MASTER_ADDR=(\S+) MASTER_PORT=(\d+) WORLD_SIZE=2 RANK=0 NODE_RANK=0 NNODES=2 LOCAL_WORLD_SIZE=1/.exec(
        out,
      );
    expect(master, out).not.toBeNull();
    expect(out).toContain(
      `MASTER_ADDR=${master![1]} MASTER_PORT=${master![2]} WORLD_SIZE=2 RANK=1 NODE_RANK=1`,
    );
    expect(["127.0.0.1", "127.0.0.2"]).toContain(master![1]);
    expect(out).toMatch(/hostfile 127\.0\.0\.\d slots=1 \| 127\.0\.0\.\d slots=1/);
    // The last placement's two leases, ranks 0 and 1, released together after both were ready.
    const last = Math.max(...j.leases.map((l) => l.createdAt));
    const gang = j.leases.filter((l) => l.createdAt === last);
    expect(gang.map((l) => l.gang?.rank).sort(), JSON.stringify(j.leases)).toEqual([0, 1]);
    for (const l of gang) {
      expect(l.gang!.readyAt).not.toBeNull();
      expect(l.gang!.goAt).not.toBeNull();
      expect(l.startedAt!).toBeGreaterThanOrEqual(l.gang!.goAt!);
    }
    // Each rank is billed on its own line.
    expect(j.usage.lines.map((l) => l.leaseId).sort()).toEqual(j.leases.map((l) => l.id).sort());
  }, 240_000);

  it("killing one agent mid-run stops the other rank within the grace period and requeues the job", async () => {
    const { id } = await submit(120);
    await waitFor(
      async () => (await logs(id)).split("allreduce=11").length >= 3,
      "both ranks to all-reduce",
      120_000,
    );
    const before = await waitFor(async () => {
      const v = await job(id);
      return v.state === "running" &&
        v.leases.filter((l) => l.endedAt === null && l.startedAt !== null).length === 2
        ? v
        : undefined;
    }, "both ranks running");
    const live = before.leases.filter((l) => l.endedAt === null);
    const nodes = await operator.get<{ id: string; name: string }[]>("/v1/nodes");
    // Kill the agent of rank 1 (its workload, a host process, outlives it as on a real lost node).
    const rank1 = live.find((l) => l.gang?.rank === 1)!;
    const rank0 = live.find((l) => l.gang?.rank === 0)!;
    const k = Number(nodes.find((n) => n.id === rank1.nodeId)!.name.slice("loop-".length));
    agents[k]!.kill("SIGKILL");
    agents[k] = undefined;
    const after = await waitFor(
      async () => {
        const v = await job(id);
        const survivor = v.leases.find((l) => l.id === rank0.id)!;
        return survivor.endedAt !== null && v.state !== "running" ? { v, survivor } : undefined;
      },
      "the surviving rank to stop and the job to be requeued",
      60_000,
    );
    expect(["preempted", "pending"]).toContain(after.v.state);
    const events = await tenant.get<{ message: string }[]>(`/v1/jobs/${id}/events`);
    expect(events.map((e) => e.message).join("\n")).toMatch(/lost contact.*requeued/);
    expect(after.survivor.stopReason).toMatch(/lost contact/);
    // The surviving rank ended within the grace period (plus a heartbeat) after its stop was asked.
    expect(after.survivor.endedAt! - after.survivor.stopRequestedAt!).toBeLessThanOrEqual(
      GRACE_S * 1000 + 1500,
    );
  });
});
