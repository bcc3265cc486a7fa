// The relay end to end on real processes: a server, an agent with the podman executor, real
// containers (--network none), and the real CLI: port-forward to busybox httpd, exec with stdin and
// the exit code, SSH with OpenSSH's client into a locally built Debian image with openssh-server,
// 404 for everyone but the job's tenant, and reconnection after a control-plane restart.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "../../src/agent/client.js";
import { enrolmentToken, seedDemo, type DemoSeed } from "../../src/cli/demo/federation.js";
import { PODMAN_ENV, podmanUnavailable, removeContainersNamed } from "../executors/podman-env.js";
import {
  BIN,
  kill,
  startAgentProc,
  startServerProc,
  waitFor,
  type ServerProc,
} from "../helpers/processes.js";
import { wsStatus } from "../helpers/relay.js";

const DEMO = "localhost/zumbido/demo:latest";
const SSHD = "localhost/zumbido/debian-ssh:bookworm";
const underCi = process.env.CI === "true";
const why =
  podmanUnavailable() ??
  (spawnSync("podman", ["image", "exists", SSHD], { env: PODMAN_ENV }).status !== 0
    ? `image ${SSHD} is missing: run ZB_IMAGES="busybox demo node debian-ssh" scripts/ci/setup-containers.sh`
    : spawnSync("ssh", ["-V"]).error
      ? "OpenSSH's client (ssh) is not installed: apt-get install openssh-client"
      : undefined);

/** Runs the CLI to its end with the key in the environment. */
function cli(
  args: string[],
  key: string,
  url: string,
  stdin = "",
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ZUMBIDO_URL: url, ZUMBIDO_TOKEN: key },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.stdin.end(stdin);
    p.once("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

if (why) {
  describe("relay on real containers", () => {
    it.runIf(underCi)("needs podman, the local images and ssh under CI", () => {
      expect.fail(`cannot run the relay's container test under CI: ${why}`);
    });
    it.skipIf(underCi)(`skipped: ${why}`, () => undefined);
  });
} else {
  describe("relay on real containers", () => {
    let dir: string;
    let server: ServerProc;
    let agent: ChildProcess;
    let seed: DemoSeed;
    let tenant: ApiClient;
    let otherKey: string;
    let web: string;
    const forwards: ChildProcess[] = [];

    const running = (id: string) =>
      waitFor(
        async () => (await tenant.get<{ state: string }>(`/v1/jobs/${id}`)).state === "running",
        `job ${id} to run`,
        180_000,
      );

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "zumbido-relay-e2e-"));
      server = await startServerProc(`sqlite:${join(dir, "z.db")}`);
      seed = await seedDemo(server.url, server.adminKey!, [
        {
          name: "Relay Hall",
          country: "ES",
          lat: 43,
          lon: -5,
          powerKw: 1000,
          pue: 1.2,
          cooling: "air",
          carbonGPerKwh: 100,
          gpus: "H100x8",
          prices: { H100: [360, 180] },
        },
      ]);
      const admin = new ApiClient(server.url, server.adminKey!);
      otherKey = (
        await admin.post<{ key: string }>("/v1/tenants", {
          name: "Other",
          country: "DE",
          creditLimitMinor: 100_000,
        })
      ).key;
      const token = await enrolmentToken(server.url, seed.operatorKey, seed.sites[0]!.id);
      agent = startAgentProc(server.url, join(dir, "agent"), "H100x2", token, "relaye2e", [
        "--executor",
        "podman",
      ]);
      tenant = new ApiClient(server.url, seed.tenantKey);
      web = (
        await tenant.post<{ id: string }>("/v1/jobs", {
          gpus: 1,
          gpuModels: ["H100"],
          image: DEMO,
          command: ["sh", "-c", "echo hello-relay > /work/index.html && exec httpd -f -p 8080 -h /work"],
        })
      ).id;
      await running(web);
    }, 300_000);

    afterAll(async () => {
      for (const f of forwards) await kill(f);
      if (agent) await kill(agent);
      if (server) await kill(server.proc);
      removeContainersNamed("");
      rmSync(dir, { recursive: true, force: true });
    });

    /** Starts `zumbido port-forward JOB 0:REMOTE` and returns the local port it listens on. */
    const forward = async (job: string, remote: number): Promise<number> => {
      const p = spawn(process.execPath, [BIN, "port-forward", job, `0:${remote}`], {
        env: { ...process.env, ZUMBIDO_URL: server.url, ZUMBIDO_TOKEN: seed.tenantKey },
        stdio: ["ignore", "pipe", "inherit"],
      });
      forwards.push(p);
      const line = await new Promise<string>((res) =>
        createInterface({ input: p.stdout! }).once("line", res),
      );
      return Number(/127\.0\.0\.1:(\d+)/.exec(line)![1]);
    };

    it("reaches busybox httpd in a --network none container through zumbido port-forward", async () => {
      const port = await forward(web, 8080);
      const body = await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/index.html`)).text(),
        "the page through the relay",
        30_000,
      );
      expect(body).toBe("hello-relay\n");
    }, 60_000);

    it("runs zumbido exec as the container's user with stdin, stdout, stderr and the exit code", async () => {
      const r = await cli(
        ["exec", web, "--", "sh", "-c", "cat; id -u; echo oops >&2; exit 7"],
        seed.tenantKey,
        server.url,
        "from-stdin\n",
      );
      expect(r).toMatchObject({ code: 7, stdout: "from-stdin\n1000\n", stderr: "oops\n" });
    }, 60_000);

    it("answers 404 to another tenant, the operator and an admin on exec and ports", async () => {
      const r = await cli(["exec", web, "--", "true"], otherKey, server.url);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/does not exist or is not visible to you/);
      for (const key of [otherKey, seed.operatorKey, server.adminKey!]) {
        expect(await wsStatus(`${server.url}/v1/jobs/${web}/ports/8080/tcp`, key)).toBe(404);
        expect(await wsStatus(`${server.url}/v1/jobs/${web}/exec?argv=id`, key)).toBe(404);
      }
    }, 60_000);

    it("opens an SSH session with OpenSSH's client into a Debian image with openssh-server, by key only", async () => {
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "id")]);
      const ssh = (
        await cli(
          [
            "jobs",
            "submit",
            "--gpus",
            "1",
            "--image",
            SSHD,
            "--ssh-key",
            join(dir, "id.pub"),
            "--json",
            "--",
            "/usr/local/bin/start-sshd",
          ],
          seed.tenantKey,
          server.url,
        )
      ).stdout;
      const id = (JSON.parse(ssh) as { id: string }).id;
      await running(id);
      const opts = [
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        `UserKnownHostsFile=${join(dir, "known_hosts")}`,
        "-o",
        "BatchMode=yes",
      ];
      const r = await waitFor(
        async () => {
          const x = await cli(
            [
              "ssh",
              id,
              "--port",
              "2222",
              "-l",
              "tenant",
              "-i",
              join(dir, "id"),
              ...opts,
              "--",
              "echo ssh-ok-$(id -u)",
            ],
            seed.tenantKey,
            server.url,
          );
          return x.code === 0 ? x : undefined;
        },
        "an SSH session",
        45_000,
      );
      expect(r.stdout).toBe("ssh-ok-1000\n");
      // Another key is refused (no password fallback).
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "other")]);
      const bad = await cli(
        [
          "ssh",
          id,
          "--port",
          "2222",
          "-l",
          "tenant",
          "-i",
          join(dir, "other"),
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "BatchMode=yes",
          "-o",
          "IdentitiesOnly=yes",
          "--",
          "true",
        ],
        seed.tenantKey,
        server.url,
      );
      expect(bad.code).toBe(255);
      expect(bad.stderr).toMatch(/Permission denied \(publickey\)/);
      expect(readFileSync(join(dir, "id.pub"), "utf8")).toMatch(/^ssh-ed25519 /);
    }, 150_000);

    it("reconnects after a control-plane restart; the container kept running", async () => {
      const port = server.port;
      await kill(server.proc);
      server = {
        ...(await startServerProc(`sqlite:${join(dir, "z.db")}`, port)),
        adminKey: server.adminKey!,
      };
      const r = await waitFor(
        async () => {
          const x = await cli(["exec", web, "--", "cat", "/work/index.html"], seed.tenantKey, server.url);
          return x.code === 0 ? x : undefined;
        },
        "exec after the restart",
        60_000,
      );
      expect(r.stdout).toBe("hello-relay\n");
      expect((await tenant.get<{ state: string }>(`/v1/jobs/${web}`)).state).toBe("running");
    }, 120_000);
  });
}
