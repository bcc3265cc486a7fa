// The CLI against a real server: --json output, human output, and errors that say what to fix.
import { execFile } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enrolmentToken, seedDemo, type DemoSeed } from "../../src/cli/demo/federation.js";
import {
  BIN,
  kill,
  startAgentProc,
  startServerProc,
  waitFor,
  type ServerProc,
} from "../helpers/processes.js";

const exec = promisify(execFile);

describe("zumbido CLI", () => {
  let dir: string;
  let server: ServerProc;
  let agent: ChildProcess;
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
    dir = mkdtempSync(join(tmpdir(), "zumbido-cli-"));
    server = await startServerProc(`sqlite:${join(dir, "z.db")}`);
    seed = await seedDemo(server.url, server.adminKey!);
    agent = startAgentProc(
      server.url,
      join(dir, "agent"),
      "H100x8",
      await enrolmentToken(server.url, seed.operatorKey, seed.sites[0]!.id),
    );
  });
  afterAll(async () => {
    if (agent) await kill(agent);
    if (server) await kill(server.proc);
    rmSync(dir, { recursive: true, force: true });
  });

  it("submits with the issue's command line and follows the job to its end", async () => {
    const r = await cli(
      seed.tenantKey,
      "jobs",
      "submit",
      "--gpus",
      "2",
      "--model",
      "H100",
      "--max-price",
      "2.50",
      "--jurisdiction",
      "EU",
      "--json",
      "--",
      process.execPath,
      "-e",
      "console.log('hello from', process.env.CUDA_VISIBLE_DEVICES)",
    );
    expect(r.code).toBe(0);
    const job = JSON.parse(r.stdout) as {
      id: string;
      request: { maxPriceMinorPerGpuHour: number; jurisdiction: string };
    };
    expect(job.request).toMatchObject({ maxPriceMinorPerGpuHour: 250, jurisdiction: "EU" });
    await waitFor(
      async () =>
        JSON.parse((await cli(seed.tenantKey, "jobs", "show", job.id, "--json")).stdout).state ===
        "succeeded",
      "the job to succeed",
    );
    const logs = await cli(seed.tenantKey, "jobs", "logs", job.id);
    expect(logs.stdout).toMatch(/hello from \d,\d/);
    const show = await cli(seed.tenantKey, "jobs", "show", job.id);
    expect(show.stdout).toMatch(/state\s+succeeded/);
    expect(show.stdout).toMatch(/Asturias|site_/);
    const list = await cli(seed.tenantKey, "jobs", "list", "--json");
    expect(JSON.parse(list.stdout)).toHaveLength(1);
    const stmt = await cli(seed.tenantKey, "statement", new Date().toISOString().slice(0, 7), "--json");
    expect(JSON.parse(stmt.stdout).lines).toHaveLength(1);
  });

  it("says what is wrong, with a non-zero exit, for bad input and bad keys", async () => {
    const bad = await cli(seed.tenantKey, "jobs", "submit", "--gpus", "2", "--model", "H900", "--", "true");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown GPU model "H900"/);
    const price = await cli(
      seed.tenantKey,
      "jobs",
      "submit",
      "--gpus",
      "2",
      "--max-price",
      "two",
      "--",
      "true",
    );
    expect(price.code).toBe(2);
    expect(price.stderr).toMatch(/--max-price "two" is not an amount/);
    const key = await cli("zk_tenant_wrong", "jobs", "list");
    expect(key.code).toBe(3);
    expect(key.stderr).toMatch(/unknown API key/);
  });

  it("operators see their sites, nodes and capacity as tables", async () => {
    const sites = await cli(seed.operatorKey, "sites", "list");
    expect(sites.stdout).toMatch(/Asturias Hall\s+ES/);
    await waitFor(
      async () => (await cli(seed.operatorKey, "nodes", "list")).stdout.includes("ready"),
      "the node to be ready",
    );
    const cap = await cli(seed.tenantKey, "capacity", "--json");
    expect(JSON.parse(cap.stdout).length).toBe(4);
  });
  it("operators set a site's image policy; tenants submit with --image and see it in jobs show", async () => {
    const site = seed.sites[0]!.id;
    const up = await cli(
      seed.operatorKey,
      "sites",
      "update",
      site,
      "--default-image",
      "ubuntu:22.04",
      "--allow-image",
      "docker.io/library/*",
      "--deny-image",
      "*:latest",
      "--allow-network",
    );
    expect(up.stderr).toBe("");
    expect(up.stdout).toMatch(/default image {2}ubuntu:22\.04/);
    expect(up.stdout).toMatch(/allowed images docker\.io\/library\/\*/);
    expect(up.stdout).toMatch(/network {8}allowed to jobs that ask/);
    const nothing = await cli(seed.operatorKey, "sites", "update", site);
    expect(nothing.code).not.toBe(0);
    expect(nothing.stderr).toMatch(/nothing to change/);
    const bad = await cli(
      seed.tenantKey,
      "jobs",
      "submit",
      "--gpus",
      "1",
      "--image",
      "Not An Image",
      "--",
      "true",
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/image "Not An Image" is not a valid image reference/);
    const sub = await cli(
      seed.tenantKey,
      "jobs",
      "submit",
      "--gpus",
      "1",
      "--country",
      "ES",
      "--image",
      "nvcr.io/nvidia/pytorch:24.08-py3",
      "--network",
      "--json",
      "--",
      "true",
    );
    expect(sub.code).toBe(0);
    const id = (JSON.parse(sub.stdout) as { id: string }).id;
    let shown = "";
    await waitFor(async () => {
      shown = (await cli(seed.tenantKey, "jobs", "show", id)).stdout;
      return shown.includes("not allowed at site");
    }, "the job to wait with the image policy's reason");
    expect(shown).toMatch(/image {6}nvcr\.io\/nvidia\/pytorch:24\.08-py3, network requested/);
    expect(shown).toMatch(/image nvcr\.io\/nvidia\/pytorch:24\.08-py3 not allowed at site \(1 site\)/);
    await cli(seed.tenantKey, "jobs", "cancel", id);
    const reset = await cli(
      seed.operatorKey,
      "sites",
      "update",
      site,
      "--no-default-image",
      "--clear-allow-images",
      "--clear-deny-images",
      "--no-allow-network",
      "--json",
    );
    expect(JSON.parse(reset.stdout)).toMatchObject({
      defaultImage: null,
      allowImages: [],
      denyImages: [],
      allowNetwork: false,
    });
  }, 240_000);
  it("submits secret env from a flag, a file and a shell variable; the workload gets them, nobody sees them", async () => {
    const fromFile = "hf_FromFile_6b1d2e";
    const fromShell = "tok_FromShell_90af3c";
    const inline = "inline_Secret_77e0";
    writeFileSync(join(dir, "hf.token"), `${fromFile}\n`, { mode: 0o600 });
    process.env.ZUMBIDO_TEST_SHELL_TOKEN = fromShell;
    const sha = (v: string) => createHash("sha256").update(v).digest("hex");
    try {
      const reg = await cli(
        seed.tenantKey,
        "secrets",
        "create-registry",
        "ngc",
        "--registry",
        "nvcr.io",
        "--username",
        "$oauthtoken",
        "--password-env",
        "ZUMBIDO_TEST_SHELL_TOKEN",
      );
      expect(reg.stderr).toBe("");
      expect(reg.stdout).toMatch(/stored registry secret ngc for nvcr\.io/);
      const listed = await cli(seed.tenantKey, "secrets", "list");
      expect(listed.stdout).toMatch(/ngc\s+registry\s+nvcr\.io/);
      expect(listed.stdout).not.toContain(fromShell);
      const noPassword = await cli(
        seed.tenantKey,
        "secrets",
        "create-registry",
        "x",
        "--registry",
        "nvcr.io",
        "--username",
        "u",
      );
      expect(noPassword.code).not.toBe(0);
      expect(noPassword.stderr).toMatch(/--password-stdin or --password-env/);
      const sub = await cli(
        seed.tenantKey,
        "jobs",
        "submit",
        "--gpus",
        "1",
        "--country",
        "ES",
        "--secret-env",
        `HF_TOKEN=@${join(dir, "hf.token")}`,
        "--secret-env-from-env",
        "API_TOKEN=ZUMBIDO_TEST_SHELL_TOKEN",
        "--secret-env",
        `INLINE=${inline}`,
        "--json",
        "--",
        process.execPath,
        "-e",
        "const h=(v)=>require('crypto').createHash('sha256').update(v??'').digest('hex');for(const n of ['HF_TOKEN','API_TOKEN','INLINE'])console.log(n,h(process.env[n]))",
      );
      expect(sub.stderr).toBe("");
      const job = JSON.parse(sub.stdout) as { id: string; spec: { secretEnvNames: string[] } };
      expect(job.spec.secretEnvNames).toEqual(["API_TOKEN", "HF_TOKEN", "INLINE"]);
      await waitFor(
        async () =>
          JSON.parse((await cli(seed.tenantKey, "jobs", "show", job.id, "--json")).stdout).state ===
          "succeeded",
        "the secret job to succeed",
      );
      const logs = (await cli(seed.tenantKey, "jobs", "logs", job.id)).stdout;
      expect(logs).toContain(`HF_TOKEN ${sha(fromFile)}`);
      expect(logs).toContain(`API_TOKEN ${sha(fromShell)}`);
      expect(logs).toContain(`INLINE ${sha(inline)}`);
      const show = await cli(seed.tenantKey, "jobs", "show", job.id);
      expect(show.stdout).toMatch(/secrets {4}API_TOKEN, HF_TOKEN, INLINE \(values never shown\)/);
      for (const key of [seed.tenantKey, seed.operatorKey, seed.adminKey]) {
        const shown = (await cli(key, "jobs", "show", job.id, "--json")).stdout;
        expect(shown).toContain("HF_TOKEN");
        for (const v of [fromFile, fromShell, inline]) expect(shown).not.toContain(v);
      }
      const missing = await cli(
        seed.tenantKey,
        "jobs",
        "submit",
        "--gpus",
        "1",
        "--secret-env-from-env",
        "NOPE_NOT_SET_1",
        "--",
        "true",
      );
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/NOPE_NOT_SET_1 is not set in this shell/);
      expect((await cli(seed.tenantKey, "secrets", "delete", "ngc")).stdout).toMatch(/deleted secret ngc/);
    } finally {
      delete process.env.ZUMBIDO_TEST_SHELL_TOKEN;
    }
  }, 240_000);
});
