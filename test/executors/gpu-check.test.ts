import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const script = join(root, "scripts/gpu-check.sh");
const fakeBin = join(root, "test/fixtures/nvidia-smi/fake-bin");
/** PATH without any folder that holds an nvidia-smi. */
const pathWithout = (process.env.PATH ?? "")
  .split(":")
  .filter((d) => !existsSync(join(d, "nvidia-smi")))
  .join(":");

describe("scripts/gpu-check.sh", () => {
  it("fails cleanly with one JSON line and exit 2 when nvidia-smi is absent", () => {
    const r = spawnSync("bash", [script], { encoding: "utf8", env: { ...process.env, PATH: pathWithout } });
    expect(r.status).toBe(2);
    const line = JSON.parse(r.stdout.trim()) as { ok: boolean; error: string };
    expect(line.ok).toBe(false);
    expect(line.error).toMatch(/^nvidia-smi not found/);
    expect(r.stderr).toMatch(/^gpu-check: nvidia-smi not found/);
  });

  it("--container (one GPU by CDI inside podman) also says plainly when there is no driver", () => {
    const r = spawnSync("bash", [script, "--container"], {
      encoding: "utf8",
      env: { ...process.env, PATH: pathWithout },
    });
    expect(r.status).toBe(2);
    expect((JSON.parse(r.stdout.trim()) as { error: string }).error).toMatch(/^nvidia-smi not found/);
  });

  it("runs the whole check against a pretend nvidia-smi: discovery, workload on GPU 0, metered energy", () => {
    const pack = mkdtempSync(join(tmpdir(), "zumbido-gpu-check-"));
    const b = spawnSync(
      join(root, "node_modules/.bin/esbuild"),
      [
        "src/agent/gpu/gpu-check-main.ts",
        "--bundle",
        "--platform=node",
        "--format=esm",
        "--target=node20",
        "--log-level=warning",
        `--outfile=${join(pack, "gpu-check.mjs")}`,
      ],
      { cwd: root, encoding: "utf8" },
    );
    expect(b.status, b.stderr).toBe(0);
    const r = spawnSync("bash", [script], {
      encoding: "utf8",
      env: {
        ...process.env,
        PATH: `${fakeBin}:${pathWithout}`,
        GPU_CHECK_PACK_DIR: pack,
        GPU_CHECK_SECONDS: "1",
        GPU_CHECK_SAMPLE_MS: "100",
      },
      timeout: 60_000,
    });
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const rep = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(rep).toMatchObject({
      gpuCount: 8,
      powerField: "power.draw.instant",
      phase: "succeeded",
      exitCode: 0,
    });
    expect((rep.gpu0 as { modelId: string }).modelId).toBe("H100");
    // The pretend GPU draws a flat 350 W, so metered Wh = 350 W x window (within the first sample's lag).
    const expected = (350 * (rep.windowS as number)) / 3600;
    expect(rep.meteredWh as number).toBeGreaterThan(expected * 0.8);
    expect(rep.meteredWh as number).toBeLessThanOrEqual(expected * 1.001);
  });
});
