import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { ApiClient } from "../../agent/client.js";
import { enrolmentToken, seedDemo } from "../demo/federation.js";

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), "../../../bin/zumbido.js");

interface JobDetail {
  id: string;
  name: string;
  state: string;
  stateReason?: string | null;
  reasons: string[];
  leases: {
    siteId: string;
    country: string;
    gpuModel: string;
    gpuIndices: number[];
    priceMinorPerGpuHour: number;
  }[];
  request: { gpus: number; gpuModels: string[] };
  usage: { gpuSeconds: number; costMinor: number; energyWh: number; currency: string };
}

/** One job of the scripted scenario. */
interface Scenario {
  key: string;
  expect: string;
  body: Record<string, unknown>;
  cancelAfterRunningMs?: number;
}

const node = process.execPath;
const work = (seconds: number, label: string): string[] => [
  node,
  "-e",
  `console.log("${label}: GPUs " + process.env.CUDA_VISIBLE_DEVICES); let i = 0; const t = setInterval(() => console.log("step " + (++i)), 500); setTimeout(() => { clearInterval(t); console.log("done"); }, ${seconds * 1000});`,
];

/** The scripted scenario: what each job shows. */
function scenario(): Scenario[] {
  return [
    {
      key: "eu-training",
      expect: "EU-only: lands in the EU although Paraguay is cheaper",
      body: {
        name: "eu-training",
        gpus: 8,
        gpuModels: ["H100"],
        jurisdiction: "EU",
        maxPriceMinorPerGpuHour: 250,
        command: work(4, "eu-training"),
      },
    },
    {
      key: "a100-batch",
      expect: "succeeds on A100s",
      body: { name: "a100-batch", gpus: 8, gpuModels: ["A100"], command: work(3, "a100-batch") },
    },
    {
      key: "cheapest-anywhere",
      expect: "no constraint: the cheapest offer (outside the EU)",
      body: { name: "cheapest-anywhere", gpus: 4, gpuModels: ["H100"], command: work(3, "cheapest") },
    },
    {
      key: "too-big",
      expect: "cannot fit: stays pending with reasons",
      body: { name: "too-big", gpus: 16, gpuModels: ["H100"], jurisdiction: "EU", command: work(1, "never") },
    },
    {
      key: "cancelled",
      expect: "cancelled while running, billed up to the cancel",
      body: {
        name: "cancelled",
        gpus: 8,
        gpuModels: ["H100"],
        countries: ["SE"],
        command: work(120, "long"),
        gracePeriodS: 2,
      },
      cancelAfterRunningMs: 3000,
    },
  ];
}

/** `zumbido demo`: a scripted end-to-end run on real processes, printed as one JSON document. */
export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description(
      "run a scripted end-to-end scenario (real server, agents and workloads in a temporary folder) and print what happened",
    )
    .option("--keep", "keep the temporary folder")
    .action(async (o: { keep?: boolean }, cmd: Command) => {
      const json = cmd.optsWithGlobals<{ json?: boolean }>().json ?? false;
      const dir = mkdtempSync(join(tmpdir(), "zumbido-demo-"));
      const say = (msg: string): void => void process.stderr.write(`[demo] ${msg}\n`);
      const children: ChildProcess[] = [];
      try {
        say(`working in ${dir}`);
        const server = spawn(
          node,
          [
            BIN,
            "serve",
            "--port",
            "0",
            "--store",
            `sqlite:${join(dir, "zumbido.db")}`,
            "--ready-json",
            "--log-level",
            "warn",
          ],
          {
            env: { ...process.env, ZUMBIDO_SCHEDULE_INTERVAL_MS: "200", ZUMBIDO_STOP_GRACE_S: "2" },
            stdio: ["ignore", "pipe", "inherit"],
          },
        );
        children.push(server);
        const ready = await firstLine(server, 60_000);
        const { url, adminKey } = JSON.parse(ready) as { url: string; adminKey: string };
        say(`server at ${url}`);
        const seed = await seedDemo(url, adminKey);
        for (const [i, s] of seed.sites.entries()) {
          const token = await enrolmentToken(url, seed.operatorKey, s.id);
          const agent = spawn(
            node,
            [
              BIN,
              "agent",
              "--server",
              url,
              "--token",
              token,
              "--simulate-gpus",
              s.gpus,
              "--state-dir",
              join(dir, `agent-${i + 1}`),
              "--name",
              `demo-node-${i + 1}`,
              "--heartbeat-ms",
              "250",
              "--meter-ms",
              "1000",
              "--executor",
              "local",
              "--unsafe-host-processes",
            ],
            {
              stdio: ["ignore", "ignore", "inherit"],
            },
          );
          children.push(agent);
        }
        const operator = new ApiClient(url, seed.operatorKey);
        await until(
          async () =>
            (await operator.get<{ state: string }[]>("/v1/nodes")).filter((n) => n.state === "ready")
              .length === seed.sites.length,
          60_000,
          "agents to enrol",
        );
        say(
          `${seed.sites.length} agents enrolled: ${seed.sites.map((s) => `${s.name} (${s.country}, ${s.gpus})`).join(", ")}`,
        );
        const tenant = new ApiClient(url, seed.tenantKey);
        const jobs = scenario();
        const ids = new Map<string, string>();
        for (const j of jobs) {
          const r = await tenant.post<{ id: string }>("/v1/jobs", j.body);
          ids.set(j.key, r.id);
          say(`submitted ${j.key} (${r.id}): ${j.expect}`);
        }
        for (const j of jobs.filter((x) => x.cancelAfterRunningMs !== undefined)) {
          const id = ids.get(j.key)!;
          await until(
            async () => (await tenant.get<JobDetail>(`/v1/jobs/${id}`)).state === "running",
            60_000,
            `${j.key} to run`,
          );
          await new Promise((r) => setTimeout(r, j.cancelAfterRunningMs));
          await tenant.post(`/v1/jobs/${id}/cancel`);
          say(`cancelled ${j.key}`);
        }
        const waitFor = jobs.filter((j) => j.key !== "too-big").map((j) => ids.get(j.key)!);
        await until(
          async () => {
            const states = await Promise.all(
              waitFor.map(async (id) => (await tenant.get<JobDetail>(`/v1/jobs/${id}`)).state),
            );
            return states.every((s) => ["succeeded", "failed", "cancelled"].includes(s));
          },
          120_000,
          "jobs to finish",
        );
        // Let the agents ship their last usage records.
        await new Promise((r) => setTimeout(r, 1500));
        const sites = new Map(seed.sites.map((s) => [s.id, s]));
        const out = { currency: "EUR", jobs: [] as Record<string, unknown>[] };
        for (const j of jobs) {
          const d = await tenant.get<JobDetail>(`/v1/jobs/${ids.get(j.key)!}`);
          const lease = d.leases[0];
          out.jobs.push({
            id: d.id,
            name: j.key,
            expect: j.expect,
            state: d.state,
            stateReason: d.stateReason ?? null,
            site: lease ? (sites.get(lease.siteId)?.name ?? lease.siteId) : null,
            country: lease?.country ?? null,
            gpuModel: lease?.gpuModel ?? d.request.gpuModels[0],
            gpus: d.request.gpus,
            gpuIndices: lease?.gpuIndices ?? [],
            gpuSeconds: d.usage.gpuSeconds,
            priceMinorPerGpuHour: lease?.priceMinorPerGpuHour ?? null,
            costMinor: d.usage.costMinor,
            energyWh: d.usage.energyWh,
            reasons: d.reasons,
          });
        }
        if (json) console.log(JSON.stringify(out, null, 2));
        else {
          for (const j of out.jobs) {
            console.log(
              `${String(j.name).padEnd(18)} ${String(j.state).padEnd(10)} ${String((j.site as string | null) ?? "-").padEnd(17)} ${String((j.country as string | null) ?? "-").padEnd(3)} ${String(j.gpus)}x${String(j.gpuModel)}  ${String(j.gpuSeconds)} GPU-s  ${String(j.costMinor)} cents  ${String(j.energyWh)} Wh  ${(j.reasons as string[]).join("; ")}`,
            );
          }
        }
      } finally {
        for (const c of children.reverse()) c.kill("SIGTERM");
        await new Promise((r) => setTimeout(r, 300));
        if (!o.keep) rmSync(dir, { recursive: true, force: true });
        else say(`kept ${dir}`);
      }
    });
}

async function firstLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  const rl = createInterface({ input: child.stdout! });
  return new Promise((resolveLine, reject) => {
    const t = setTimeout(
      () => reject(new Error(`the server did not start within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
    child.once("exit", (code) =>
      reject(new Error(`the server exited with code ${code} before it was ready`)),
    );
    rl.once("line", (line) => {
      clearTimeout(t);
      resolveLine(line);
    });
  });
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
