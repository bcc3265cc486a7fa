import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalExecutor, minimalEnv } from "../executors/local.js";
import { EnergyMeter } from "./energy-meter.js";
import { discoverGpus } from "./nvidia-smi.js";
import { ENERGY_FIELD, powerQueryFields, probeQueryFields, samplePower } from "./power.js";
import { runSmi, smiNumber } from "./smi-run.js";

/** The figures gpu-check prints as one JSON line. */
export interface GpuCheckReport {
  ok: boolean;
  error?: string;
  gpu0?: {
    name: string;
    modelId?: string;
    uuid: string;
    driver?: string;
    powerLimitW?: number;
    memoryMiB?: number;
  };
  gpuCount?: number;
  discoveryWarnings?: string[];
  workload?: "torch-matmul" | "idle-sleep";
  workloadResult?: unknown;
  exitCode?: number | null;
  phase?: string;
  windowS?: number;
  samples?: number;
  powerField?: string;
  meteredWh?: number;
  counterWh?: number | null;
  counterSource?: string | null;
  diffPct?: number | null;
  meanPowerW?: number;
}

/** PyTorch matmul on the only visible GPU for `seconds`; prints one JSON line with what it did. */
export const TORCH_WORKLOAD = `
import json, os, time, torch
assert torch.cuda.is_available(), "CUDA not available to PyTorch"
secs = float(os.environ.get("GPU_CHECK_SECONDS", "20"))
n = 8192
a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
torch.cuda.synchronize()
t0 = time.time(); iters = 0
while time.time() - t0 < secs:
    for _ in range(10):
        c = a @ b
    torch.cuda.synchronize(); iters += 10
dt = time.time() - t0
print(json.dumps({"device": torch.cuda.get_device_name(0), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "iters": iters, "seconds": round(dt, 3), "tflops": round(2 * n**3 * iters / dt / 1e12, 1)}))
`;

/** Reads NVML's total energy counter (mJ) of GPU `index` with Python's ctypes; no pip package needed. */
export const NVML_ENERGY_PY = `
import ctypes, sys
nvml = ctypes.CDLL("libnvidia-ml.so.1")
assert nvml.nvmlInit_v2() == 0, "nvmlInit failed"
h = ctypes.c_void_p()
assert nvml.nvmlDeviceGetHandleByIndex_v2(int(sys.argv[1]), ctypes.byref(h)) == 0, "no such GPU"
e = ctypes.c_ulonglong()
r = nvml.nvmlDeviceGetTotalEnergyConsumption(h, ctypes.byref(e))
assert r == 0, "nvmlDeviceGetTotalEnergyConsumption returned %d (not supported before Volta)" % r
print(e.value)
`;

function sh(cmd: string, args: string[], timeoutMs = 15_000): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) =>
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) =>
      resolve({ ok: !err, out: err ? `${stderr}`.trim() : stdout.trim() }),
    ),
  );
}

/** The GPU's own energy counter in mJ, from nvidia-smi when it lists the field, else from NVML via Python. */
async function readCounterMj(
  index: number,
  smiHasField: boolean,
): Promise<{ mj: number; source: string } | { error: string }> {
  if (smiHasField) {
    const r = await runSmi([`--id=${index}`, `--query-gpu=${ENERGY_FIELD}`, "--format=csv,noheader,nounits"]);
    const v = r.ok ? smiNumber(r.stdout.trim()) : undefined;
    if (v !== undefined) return { mj: v, source: `nvidia-smi ${ENERGY_FIELD}` };
  }
  const py = await sh("python3", ["-c", NVML_ENERGY_PY, String(index)]);
  const v = py.ok ? Number(py.out) : NaN;
  const lastLine = py.out.split("\n").filter(Boolean).at(-1);
  return Number.isFinite(v)
    ? { mj: v, source: "NVML nvmlDeviceGetTotalEnergyConsumption (python3 ctypes)" }
    : { error: `NVML via python3: ${lastLine ?? "python3 not available"}` };
}

/** Discovers GPUs, runs a CUDA workload on GPU 0 through the LocalExecutor, meters it, compares with the counter. */
export async function gpuCheck(opts: { seconds: number; sampleMs: number }): Promise<GpuCheckReport> {
  const found = await discoverGpus();
  if (!found.ok) return { ok: false, error: found.message };
  const gpus = found.discovery.gpus;
  const g0 = gpus[0];
  if (!g0)
    return { ok: false, error: "nvidia-smi lists no GPU", discoveryWarnings: found.discovery.warnings };
  const report: GpuCheckReport = {
    ok: false,
    gpu0: {
      name: g0.name,
      modelId: g0.modelId,
      uuid: g0.uuid,
      driver: g0.driverVersion,
      powerLimitW: g0.powerLimitW,
      memoryMiB: g0.memoryMiB,
    },
    gpuCount: gpus.length,
    discoveryWarnings: found.discovery.warnings,
  };
  const available = await probeQueryFields();
  const fields = powerQueryFields(available).filter((f) => f !== ENERGY_FIELD); // meter from power, compare with the counter
  report.powerField = fields[1];
  const torch = await sh("python3", ["-c", "import torch; print(torch.cuda.is_available())"], 60_000);
  const useTorch = torch.ok && torch.out.endsWith("True");
  report.workload = useTorch ? "torch-matmul" : "idle-sleep";

  const ex = new LocalExecutor({
    unsafeHostProcesses: true, // the operator's own check process, not a tenant's
    stateDir: mkdtempSync(join(tmpdir(), "zumbido-gpu-check-")),
    now: () => Date.now(),
    baseEnv: minimalEnv(process.env),
  });
  const meter = new EnergyMeter();
  const lease = "gpu-check";
  const sample = async (): Promise<number> => {
    const s = await samplePower(fields, () => Date.now());
    if (Array.isArray(s)) {
      meter.observe(s.filter((x) => x.index === g0.index));
      return s.find((x) => x.index === g0.index)?.powerW ?? NaN;
    }
    return NaN;
  };

  const c0 = await readCounterMj(g0.index, available?.has(ENERGY_FIELD) ?? false);
  const t0 = Date.now();
  meter.hold(lease, [g0.index], t0);
  await sample();
  const started = await ex.start({
    leaseId: lease,
    jobId: "gpu-check",
    gpuModel: g0.modelId ?? "unknown",
    gpuIndices: [g0.index],
    spec: useTorch
      ? { command: ["python3", "-c", TORCH_WORKLOAD], env: { GPU_CHECK_SECONDS: String(opts.seconds) } }
      : { command: ["sleep", String(opts.seconds)] },
  });
  let samples = 1;
  let powerSum = 0;
  while (started.phase !== "failed") {
    const st = await ex.status(lease);
    if (!st || st.phase === "succeeded" || st.phase === "failed" || st.phase === "cancelled") break;
    await new Promise((r) => setTimeout(r, opts.sampleMs));
    const p = await sample();
    if (Number.isFinite(p)) powerSum += p;
    samples++;
  }
  await sample();
  samples++;
  const t1 = Date.now();
  const c1 = await readCounterMj(g0.index, available?.has(ENERGY_FIELD) ?? false);
  meter.release(lease, t1);
  const end = await ex.status(lease);
  const logs = (await ex.drainLogs(lease)).map((c) => c.text).join("");
  const line = logs.split("\n").find((l) => l.startsWith("{"));
  report.workloadResult = line ? (JSON.parse(line) as unknown) : logs.slice(-500);
  report.exitCode = end?.exitCode ?? null;
  report.phase = end?.phase;
  report.windowS = (t1 - t0) / 1000;
  report.samples = samples;
  report.meanPowerW = samples > 2 ? Math.round((powerSum / (samples - 2)) * 10) / 10 : undefined;
  report.meteredWh = round(meter.leaseWh(lease), 4);
  if ("mj" in c0 && "mj" in c1) {
    report.counterWh = round((c1.mj - c0.mj) / 3.6e6, 4);
    report.counterSource = c0.source;
    report.diffPct =
      report.counterWh > 0
        ? round(((report.meteredWh - report.counterWh) / report.counterWh) * 100, 2)
        : null;
  } else {
    report.counterWh = null;
    report.counterSource = null;
    report.error = `no energy counter: ${"error" in c0 ? c0.error : "error" in c1 ? c1.error : ""}`;
  }
  await ex.close();
  report.ok = end?.phase === "succeeded";
  if (!report.ok)
    report.error = `${report.error ? `${report.error}; ` : ""}workload ${end?.phase ?? "unknown"}: ${end?.reason ?? ""}`;
  return report;
}

function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}
