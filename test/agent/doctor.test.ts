// `zumbido agent doctor` on this machine, for real: its podman and fake-GPU CDI spec
// (scripts/ci/setup-containers.sh), a real control plane on a temp SQLite file, and nvidia-smi
// either absent or played by the fixture script on PATH.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDoctor, type DoctorCheck, type DoctorOptions } from "../../src/agent/doctor.js";
import { parseServerConfig } from "../../src/config.js";
import { startServer } from "../../src/server.js";
import { podmanUnavailable, TEST_IMAGE } from "../executors/podman-env.js";
import { makePki } from "../helpers/pki.js";
import { BIN, startServerProc, type ServerProc } from "../helpers/processes.js";

const FIXTURES = resolve(import.meta.dirname, "..", "fixtures", "nvidia-smi");
const tmp = mkdtempSync(join(tmpdir(), "zumbido-doctor-"));
const smiDir = join(tmp, "bin");
const emptyCdi = join(tmp, "no-cdi");
const why = podmanUnavailable();
if (why && process.env.CI === "true") throw new Error(why);
if (why) console.warn(`[not run] podman parts of the doctor suite: ${why}`);

const byName = (checks: DoctorCheck[]) => Object.fromEntries(checks.map((c) => [c.name, c]));

describe("zumbido agent doctor", () => {
  let server: ServerProc;
  const base = (): DoctorOptions => ({
    server: server.url,
    stateDir: join(tmp, "state"),
    executor: "local",
    podmanBin: join(tmp, "no-podman"),
    smiBin: join(smiDir, "nvidia-smi"),
    testImage: TEST_IMAGE,
    now: () => Date.now(),
  });

  beforeAll(async () => {
    mkdirSync(smiDir);
    mkdirSync(emptyCdi);
    symlinkSync(join(FIXTURES, "fake-nvidia-smi.sh"), join(smiDir, "nvidia-smi"));
    server = await startServerProc(`sqlite:${join(tmp, "zumbido.db")}`);
  });
  afterAll(() => {
    server?.proc.kill("SIGTERM");
    rmSync(tmp, { recursive: true, force: true });
  });

  it("without nvidia-smi: the driver check fails and says what to install", async () => {
    const c = byName(await runDoctor({ ...base(), smiBin: join(tmp, "nowhere", "nvidia-smi") }));
    expect(c["nvidia driver"]).toMatchObject({
      status: "fail",
      detail: expect.stringMatching(/not on PATH/),
    });
    expect(c["nvidia driver"]!.fix).toMatch(/install the NVIDIA driver/);
    expect(c["control plane"]!.status).toBe("ok");
    expect(c.clock!.status).toBe("ok");
    expect(c.disk!.status).toBe("ok");
    // Not the podman executor: a missing podman or CDI spec only warns.
    expect(c.podman!.status).toBe("warn");
  });

  it("lists the GPUs nvidia-smi reports, and names the ones the catalogue lacks with the command to propose them", async () => {
    process.env.FAKE_SMI_FILE = join(FIXTURES, "discovery-h100-pcie-2.csv");
    const ok = byName(await runDoctor(base()));
    expect(ok["nvidia driver"]).toMatchObject({
      status: "ok",
      detail: "2 GPUs: NVIDIA H100 PCIe; driver 535.183.01",
    });
    process.env.FAKE_SMI_FILE = join(FIXTURES, "discovery-odd.csv");
    const odd = byName(await runDoctor(base()));
    expect(odd["nvidia driver"]!.status).toBe("warn");
    expect(odd["nvidia driver"]!.detail).toMatch(/not in the catalogue: NVIDIA Quadro P400/);
    expect(odd["nvidia driver"]!.fix).toMatch(/zumbido gpu-models propose .*--match "nvidia quadro p400"/);
  });

  it("a clock far from the server's fails; a little off warns", async () => {
    const far = byName(await runDoctor({ ...base(), now: () => Date.now() - 60_000 }));
    expect(far.clock).toMatchObject({
      status: "fail",
      detail: expect.stringMatching(/server ahead by \d{5} ms/),
    });
    expect(far.clock!.fix).toMatch(/NTP/);
    const near = byName(await runDoctor({ ...base(), now: () => Date.now() + 5_000 }));
    expect(near.clock!.status).toBe("warn");
  });

  it("an unreachable control plane fails and says what to check", async () => {
    const c = byName(await runDoctor({ ...base(), server: "http://127.0.0.1:9" }));
    expect(c["control plane"]).toMatchObject({
      status: "fail",
      detail: expect.stringMatching(/cannot reach/),
    });
    expect(c.clock!.status).toBe("warn");
  });

  it("TLS: an untrusted certificate fails naming --ca-file; with the CA the server is verified", async () => {
    const pki = join(tmp, "pki");
    mkdirSync(pki);
    makePki(pki);
    const tls = await startServer(
      parseServerConfig(
        {},
        {
          port: "0",
          store: `sqlite:${join(pki, "z.db")}`,
          logLevel: "silent",
          tlsCert: join(pki, "server.pem"),
          tlsKey: join(pki, "server.key"),
        },
      ),
    );
    try {
      const untrusted = byName(await runDoctor({ ...base(), server: tls.url }));
      expect(untrusted["control plane"]).toMatchObject({
        status: "fail",
        detail: expect.stringMatching(/\(TLS\)$/),
      });
      expect(untrusted["control plane"]!.fix).toMatch(/--ca-file/);
      const other = readFileSync(join(pki, "other-ca.pem"), "utf8");
      expect(
        byName(await runDoctor({ ...base(), server: tls.url, ca: other }))["control plane"]!.status,
      ).toBe("fail");
      const ca = readFileSync(join(pki, "ca.pem"), "utf8");
      const ok = byName(await runDoctor({ ...base(), server: tls.url, ca }));
      expect(ok["control plane"]).toMatchObject({
        status: "ok",
        detail: expect.stringMatching(/TLS verified/),
      });
      expect(ok.clock!.status).toBe("ok");
    } finally {
      await tls.close();
    }
  });

  it.skipIf(why !== undefined)(
    "the podman executor needs a CDI spec: none fails; the fake one warns, and a container runs with a GPU device",
    async () => {
      process.env.FAKE_SMI_FILE = join(FIXTURES, "discovery-h100-pcie-2.csv");
      const none = byName(
        await runDoctor({ ...base(), executor: "podman", podmanBin: "podman", cdiDirs: [emptyCdi] }),
      );
      expect(none["cdi spec"]).toMatchObject({
        status: "fail",
        fix: expect.stringMatching(/nvidia-ctk cdi generate/),
      });
      expect(none.podman).toMatchObject({ status: "ok", detail: expect.stringMatching(/ran a container$/) });
      // The CLI, as an operator runs it: the fake nvidia-smi on PATH, the real /run/cdi, --json.
      const r = spawnSync(
        process.execPath,
        [BIN, "agent", "doctor", "--server", server.url, "--state-dir", join(tmp, "state"), "--json"],
        {
          encoding: "utf8",
          env: {
            ...process.env,
            PATH: `${smiDir}:${process.env.PATH ?? ""}`,
            CONTAINERS_CONF: "/etc/zumbido/containers.conf",
            CONTAINERS_STORAGE_CONF: "/etc/zumbido/storage.conf",
          },
          timeout: 120_000,
        },
      );
      const out = JSON.parse(r.stdout) as { ok: boolean; checks: DoctorCheck[] };
      const c = byName(out.checks);
      expect(c["cdi spec"]).toMatchObject({
        status: "warn",
        detail: expect.stringMatching(/fake GPUs for CI/),
      });
      expect(c.podman).toMatchObject({ status: "ok", detail: expect.stringMatching(/nvidia\.com\/gpu=0/) });
      expect(out.ok).toBe(true);
      expect(r.status).toBe(0);
      // Without nvidia-smi the same command exits 1 and prints the fix.
      const bad = spawnSync(
        process.execPath,
        [
          BIN,
          "agent",
          "doctor",
          "--server",
          server.url,
          "--executor",
          "local",
          "--state-dir",
          join(tmp, "state"),
        ],
        { encoding: "utf8", env: { ...process.env, PATH: "/usr/bin:/bin" }, timeout: 120_000 },
      );
      expect(bad.status).toBe(1);
      expect(bad.stdout).toMatch(/^fail {2}nvidia driver .*\n +fix: install the NVIDIA driver/m);
      expect(bad.stdout).toMatch(/not ready to enrol: 1 failed/);
    },
    240_000,
  );
});
