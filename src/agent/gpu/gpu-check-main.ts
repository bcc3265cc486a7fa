import { gpuCheck } from "./gpu-check.js";

// Entry of scripts/gpu-check.sh (bundled with esbuild so that the GPU machine needs only a node binary).
const seconds = Number(process.env.GPU_CHECK_SECONDS ?? "20");
const sampleMs = Number(process.env.GPU_CHECK_SAMPLE_MS ?? "200");
const report = await gpuCheck({ seconds, sampleMs }).catch((e: unknown) => ({
  ok: false,
  error: e instanceof Error ? e.message : String(e),
}));
process.stdout.write(JSON.stringify(report) + "\n");
process.exitCode = report.ok ? 0 : 1;
