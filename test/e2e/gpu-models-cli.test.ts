// `zumbido gpu-models` against a real server: an operator proposes, an admin approves, the public
// catalogue lists it; wrong roles and bad numbers fail with what to fix and their exit codes.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedDemo, type DemoSeed } from "../../src/cli/demo/federation.js";
import { BIN, kill, startServerProc, type ServerProc } from "../helpers/processes.js";

const exec = promisify(execFile);

describe("zumbido gpu-models", () => {
  const dir = mkdtempSync(join(tmpdir(), "zumbido-gpu-models-"));
  let server: ServerProc;
  let seed: DemoSeed;
  const cli = async (key: string, ...args: string[]) => {
    try {
      const r = await exec(process.execPath, [BIN, ...args], {
        env: {
          ...process.env,
          ZUMBIDO_URL: server.url,
          ZUMBIDO_TOKEN: key,
          ZUMBIDO_CONFIG: join(dir, "cli.json"),
        },
        timeout: 60_000,
      });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  };

  beforeAll(async () => {
    server = await startServerProc(`sqlite:${join(dir, "z.db")}`);
    seed = await seedDemo(server.url, server.adminKey!);
  });
  afterAll(async () => {
    if (server) await kill(server.proc);
    rmSync(dir, { recursive: true, force: true });
  });

  it("an operator proposes, an admin approves, the catalogue lists it", async () => {
    const p = await cli(
      seed.operatorKey,
      "gpu-models",
      "propose",
      "--id",
      "RTX3080",
      "--name",
      "NVIDIA GeForce RTX 3080 10GB",
      "--memory-gb",
      "10",
      "--power-w",
      "320",
      "--match",
      "rtx 3080",
    );
    expect(p.stderr).toBe("");
    expect(p.stdout).toMatch(/^proposed RTX3080 .*zumbido gpu-models approve RTX3080/);
    const listed = await cli(seed.operatorKey, "--json", "gpu-models", "list", "--state", "proposed");
    expect(JSON.parse(listed.stdout)).toMatchObject([
      { id: "RTX3080", smiPatterns: ["rtx 3080"], tdpW: 320 },
    ]);
    expect((await cli(seed.operatorKey, "gpu-models", "approve", "RTX3080")).code).toBe(3);
    const a = await cli(server.adminKey!, "gpu-models", "approve", "RTX3080");
    expect(a.stdout.trim()).toBe("approved RTX3080 (NVIDIA GeForce RTX 3080 10GB, 10 GiB, 320 W)");
    const human = await cli(seed.tenantKey, "gpu-models", "catalogue");
    expect(human.stdout).toMatch(/^RTX3080 +NVIDIA GeForce RTX 3080 10GB +10 +320 +0\.5$/m);
  });

  it("refuses bad input and wrong roles with what to fix", async () => {
    const bad = await cli(
      seed.operatorKey,
      "gpu-models",
      "propose",
      "--id",
      "X9",
      "--name",
      "x card",
      "--memory-gb",
      "ten",
      "--power-w",
      "300",
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--memory-gb must be a whole number above 0, got "ten"/);
    const tenant = await cli(
      seed.tenantKey,
      "gpu-models",
      "propose",
      "--id",
      "X9",
      "--name",
      "x card",
      "--memory-gb",
      "8",
      "--power-w",
      "300",
    );
    expect(tenant.code).toBe(3);
    const builtIn = await cli(
      seed.operatorKey,
      "gpu-models",
      "propose",
      "--id",
      "l40s",
      "--name",
      "L40S",
      "--memory-gb",
      "48",
      "--power-w",
      "350",
    );
    expect(builtIn.code).toBe(2);
    expect(builtIn.stderr).toMatch(/L40S is already in the built-in catalogue/);
  });
});
