import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { describe, expect, it, vi } from "vitest";
import { planAction, registerPlanCommand } from "./plan.js";
import type { PlanIo } from "./plan.js";

function memIo(
  files: Record<string, string>,
): PlanIo & { stdout: string; stderr: string; written: Record<string, string> } {
  const io = {
    stdout: "",
    stderr: "",
    written: {} as Record<string, string>,
    readFile(p: string): string {
      const t = files[p];
      if (t === undefined) throw new Error(`ENOENT: no such file ${p}`);
      return t;
    },
    writeFile(p: string, t: string): void {
      io.written[p] = t;
    },
    out(t: string): void {
      io.stdout += t;
    },
    err(t: string): void {
      io.stderr += t;
    },
  };
  return io;
}

const scenario = JSON.stringify({
  name: "cli test",
  site: { powerMw: 5, pue: 1.1, electricityUsdPerMwh: 50 },
  mining: { asic: "S21 XP", hashpriceUsdPerPhDay: 50 },
  gpuCloud: { gpu: "H200", priceUsdPerGpuHour: 3 },
  monteCarlo: { runs: 40 },
});

describe("zumbido plan (action)", () => {
  it("prints a summary table by default", () => {
    const io = memIo({ "s.json": scenario });
    expect(planAction({ input: "s.json" }, io)).toBe(0);
    expect(io.stdout).toMatch(/^cli test: start 2026-01-01, 10 years/);
    expect(io.stdout).toMatch(/mining \(\d+ x S21 XP\)/);
    expect(io.stdout).toMatch(/GPU cloud \(\d+ x H200\)/);
    expect(io.stdout).toMatch(/recommendation: /);
    expect(io.stderr).toBe("");
  });

  it("--json prints parseable JSON with the issue's fields; same seed, same bytes", () => {
    const a = memIo({ "s.json": scenario });
    const b = memIo({ "s.json": scenario });
    planAction({ input: "s.json", json: true, seed: "9" }, a);
    planAction({ input: "s.json", json: true, seed: "9" }, b);
    expect(a.stdout).toBe(b.stdout);
    const r = JSON.parse(a.stdout);
    expect(r.mining.hashpriceUsdPerPhDay).toBe(50);
    expect(typeof r.mining.breakevenUsdPerKwh).toBe("number");
    expect(typeof r.mining.revenueUsdPerMwYear).toBe("number");
    expect(r.monteCarlo.seed).toBe(9);
  });

  it("--report writes a deterministic HTML page with the four charts", () => {
    const a = memIo({ "s.json": scenario });
    const b = memIo({ "s.json": scenario });
    planAction({ input: "s.json", report: "r.html" }, a);
    planAction({ input: "s.json", report: "r.html" }, b);
    const html = a.written["r.html"]!;
    expect(html).toBe(b.written["r.html"]);
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html).not.toMatch(/<script/);
    expect(a.stderr).toMatch(/report written to r.html/);
  });

  it("bad input: names the field, exit code 2", () => {
    const io = memIo({
      "bad.json": JSON.stringify({
        site: { powerMw: 0, electricityUsdPerMwh: 50 },
        mining: { asic: "S21", hashpriceUsdPerPhDay: 50 },
      }),
    });
    expect(planAction({ input: "bad.json" }, io)).toBe(2);
    expect(io.stderr).toMatch(/^zumbido: bad.json: site.powerMw: must be a number > 0/);
    expect(io.stdout).toBe("");
  });

  it("missing file, broken JSON and a bad seed are exit code 2 with the fix", () => {
    const io = memIo({ "broken.json": "{" });
    expect(planAction({ input: "nope.json" }, io)).toBe(2);
    expect(planAction({ input: "broken.json" }, io)).toBe(2);
    expect(planAction({ input: "broken.json", seed: "x" }, io)).toBe(2);
    expect(io.stderr).toMatch(/cannot read nope.json/);
    expect(io.stderr).toMatch(/broken.json is not valid JSON/);
    expect(io.stderr).toMatch(/--seed must be a whole number/);
  });
});

describe("registerPlanCommand", () => {
  it("reads --json even when the program defines a global --json", async () => {
    const dir = mkdtempSync(join(tmpdir(), "zumbido-plan-"));
    const file = join(dir, "s.json");
    writeFileSync(file, scenario);
    const program = new Command().name("zumbido").option("--json", "print data as JSON").exitOverride();
    registerPlanCommand(program);
    let out = "";
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    try {
      await program.parseAsync(["plan", "--input", file, "--json", "--runs", "10"], { from: "user" });
    } finally {
      spy.mockRestore();
    }
    expect(JSON.parse(out).monteCarlo.runs).toBe(10);
  });
});

// End-to-end through bin/zumbido.js. Skipped, with this reason, until the lead wires
// registerPlanCommand into src/cli/commands/index.ts (the brief says: test the action before that).
const wired = readFileSync(new URL("./index.ts", import.meta.url), "utf8").includes("registerPlanCommand");

describe.skipIf(!wired)("node bin/zumbido.js plan", () => {
  const bin = new URL("../../../bin/zumbido.js", import.meta.url).pathname;
  const example = new URL("../../../examples/plans/small-5mw-hybrid.json", import.meta.url).pathname;

  it("--json prints the plan", () => {
    const r = spawnSync(process.execPath, [bin, "plan", "--input", example, "--json", "--runs", "20"], {
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.mining.hashpriceUsdPerPhDay).toBe(42);
    expect(out.monteCarlo.runs).toBe(20);
  });

  it("bad input exits 2 with the field named", () => {
    const dir = mkdtempSync(join(tmpdir(), "zumbido-plan-"));
    const file = join(dir, "bad.json");
    writeFileSync(
      file,
      JSON.stringify({
        site: { powerMw: 5, electricityUsdPerMwh: 50 },
        mining: { asic: "S9", hashpriceUsdPerPhDay: 40 },
      }),
    );
    const r = spawnSync(process.execPath, [bin, "plan", "--input", file], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/zumbido: .*mining.asic: unknown ASIC "S9"/);
  });
});
