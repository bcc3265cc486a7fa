// The product an operator installs: `npm pack` makes a tarball of compiled JavaScript and the built
// console; `npm install -g` of it works with plain Node 20 (no tsx, better-sqlite3 built or fetched
// by npm), `zumbido --help` and `zumbido serve` run from it; and the control-plane image builds with
// podman from that installed package on the local base image and answers /healthz.
// Slow by nature (a TypeScript build, an npm install, an image build): minutes.
//
// better-sqlite3: npm installs it the way it does everywhere, through prebuild-install, which
// downloads a prebuilt binary and compiles from source when there is none. Compiling sqlite3.c
// takes 80 s on an idle 2-core machine and ten minutes on a busy one, so by default this suite
// serves the checkout's own build of the same version as that download, from a local mirror
// (npm_config_better_sqlite3_binary_host); ZUMBIDO_PACK_FROM_SOURCE=1 compiles instead.
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PODMAN_ENV, podmanUnavailable } from "../executors/podman-env.js";
import { startServerProc, type ServerProc } from "../helpers/processes.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const BASE_IMAGE = "localhost/zumbido/node:host";

/** Runs a program to completion; throws with its output when it fails. */
function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
) {
  const r: SpawnSyncReturns<string> = spawnSync(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: opts.env ?? process.env,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 300_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0)
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}):\n${r.stdout}\n${r.stderr}`,
    );
  return r.stdout;
}

/** run() without blocking the event loop (the prebuild mirror answers from this process meanwhile). */
function runAsync(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
) {
  return new Promise<void>((res, rej) => {
    let out = "";
    const p = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs });
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (out += d.toString()));
    p.on("error", rej);
    p.on("close", (code, signal) =>
      code === 0 ? res() : rej(new Error(`${cmd} ${args.join(" ")} failed (${code ?? signal}):\n${out}`)),
    );
  });
}

/** Every path under dir (relative), following no links. */
function walk(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, rel))) {
    const p = rel ? `${rel}/${name}` : name;
    out.push(p);
    const st = statSync(join(dir, p), { throwIfNoEntry: false });
    if (st?.isDirectory()) out.push(...walk(dir, p));
  }
  return out;
}

const tmp = mkdtempSync(join(tmpdir(), "zumbido-pack-"));
const prefix = join(tmp, "prefix");
const installed = join(prefix, "lib", "node_modules", "zumbido");
const zumbido = join(prefix, "bin", "zumbido");
const timings: Record<string, number> = {};

/** Runs fn and records its duration in seconds under `what`. */
function timed<T>(what: string, fn: () => T): T {
  const t = Date.now();
  try {
    return fn();
  } finally {
    timings[what] = (Date.now() - t) / 1000;
  }
}

/** A local prebuild mirror serving the checkout's better-sqlite3 binary for its own version only. */
async function prebuildMirror(): Promise<{ env: Record<string, string>; served: string[]; close(): void }> {
  const served: string[] = [];
  if (process.env.ZUMBIDO_PACK_FROM_SOURCE === "1") return { env: {}, served, close: () => undefined };
  const pkg = join(ROOT, "node_modules", "better-sqlite3");
  const { version } = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as { version: string };
  const archive = join(tmp, "better-sqlite3-prebuild.tar.gz");
  run("tar", ["-czf", archive, "-C", pkg, "build/Release/better_sqlite3.node"]);
  const server: Server = createServer((req, res) => {
    const ok = req.url?.startsWith(
      `/v${version}/better-sqlite3-v${version}-node-v${process.versions.modules}-`,
    );
    if (!ok) return void res.writeHead(404).end();
    served.push(req.url!);
    res.writeHead(200, { "content-type": "application/gzip" }).end(readFileSync(archive));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    env: { npm_config_better_sqlite3_binary_host: `http://127.0.0.1:${port}` },
    served,
    close: () => void server.close(),
  };
}

describe("the npm package", () => {
  let tarball = "";
  let served: string[] = [];

  beforeAll(async () => {
    // `npm pack` runs prepack, which builds the console and compiles src to lib.
    timed("npm pack (build included)", () =>
      run("npm", ["pack", "--pack-destination", tmp, "--loglevel=error"], { timeoutMs: 600_000 }),
    );
    tarball = join(tmp, readdirSync(tmp).find((f) => /^zumbido-.*\.tgz$/.test(f)) ?? "no-tarball");
    // A clean global prefix and a cwd outside the checkout, so nothing resolves from its node_modules.
    const mirror = await prebuildMirror();
    const t = Date.now();
    await runAsync(
      "npm",
      [
        "install",
        "-g",
        "--prefix",
        prefix,
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        tarball,
      ],
      { cwd: tmp, timeoutMs: 900_000, env: { ...process.env, ...mirror.env } },
    ).finally(() => mirror.close());
    timings["npm install -g"] = (Date.now() - t) / 1000;
    served = mirror.served;
  }, 1_500_000);

  afterAll(() => {
    console.log(`[pack timings] ${JSON.stringify(timings)}`);
    rmSync(tmp, { recursive: true, force: true });
  });

  it("holds compiled JavaScript and the built console, and no tsx or TypeScript sources", () => {
    expect(existsSync(tarball), `tarball in ${tmp}`).toBe(true);
    const files = walk(installed).filter((f) => !f.startsWith("node_modules/"));
    expect(files).toContain("lib/cli/main.js");
    expect(files).toContain("lib/store/migrations/index.js");
    expect(files).toContain("dist/web/index.html");
    expect(files.filter((f) => f.startsWith("src/") || (/\.tsx?$/.test(f) && !f.endsWith(".d.ts")))).toEqual(
      [],
    );
    expect(files.filter((f) => f.endsWith(".test.js"))).toEqual([]);
    const deps = walk(join(installed, "node_modules"));
    expect(deps.filter((f) => f === "tsx" || f.endsWith("/tsx"))).toEqual([]);
    expect(deps.some((f) => f.startsWith("better-sqlite3/build/Release/better_sqlite3.node"))).toBe(true);
    // Which way better-sqlite3 arrived (a version other than the checkout's is compiled instead).
    console.log(
      `[pack] better-sqlite3 ${served.length ? `from the local prebuild mirror (${served[0]})` : "compiled from source"}`,
    );
  });

  it("`zumbido --help` runs with plain node", () => {
    const out = run(zumbido, ["--help"], { cwd: tmp });
    expect(out).toMatch(/Usage: zumbido/);
    expect(out).toMatch(/serve/);
    expect(out).toMatch(/agent/);
  });

  it("`zumbido serve` on a new SQLite file migrates, answers /healthz and serves the console", async () => {
    let server: ServerProc | undefined;
    try {
      server = await startServerProc(`sqlite:${join(tmp, "zumbido.db")}`, 0, {}, [zumbido]);
      const health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      const index = await fetch(`${server.url}/`);
      expect(index.status).toBe(200);
      expect(await index.text()).toMatch(/<div id="root">/);
    } finally {
      server?.proc.kill("SIGTERM");
    }
  });

  describe("the control-plane image (podman, local base)", () => {
    const why = podmanUnavailable() ?? baseImageMissing();
    if (why && process.env.CI === "true") throw new Error(why);
    if (why) console.warn(`[not run] ${why}`);
    const name = `zumbido-pack-test-${process.pid}`;
    const image = `localhost/zumbido/server-test:${process.pid}`;

    afterAll(() => {
      spawnSync("podman", ["rm", "-f", name], { env: PODMAN_ENV });
      spawnSync("podman", ["rmi", "-f", image], { env: PODMAN_ENV });
    });

    it.skipIf(why !== undefined)(
      "builds from the installed package and answers /healthz and the console inside the container",
      async () => {
        timed("podman build", () =>
          run(
            "podman",
            [
              "build",
              "-q",
              "--network=none",
              "-f",
              join(installed, "deploy", "Containerfile"),
              "-t",
              image,
              installed,
            ],
            { env: PODMAN_ENV },
          ),
        );
        timed("podman run", () => run("podman", ["run", "-d", "--name", name, image], { env: PODMAN_ENV }));
        // The image's network is the host's default (none here): ask from inside the container.
        const get = (path: string): string | undefined => {
          const r = spawnSync("podman", ["exec", name, "wget", "-qO-", `http://127.0.0.1:8080${path}`], {
            env: PODMAN_ENV,
            encoding: "utf8",
          });
          return r.status === 0 ? r.stdout : undefined;
        };
        let health: string | undefined;
        const started = Date.now();
        while (health === undefined && Date.now() - started < 60_000) {
          health = get("/healthz");
          if (health === undefined) await new Promise((r) => setTimeout(r, 500));
        }
        timings["container ready"] = (Date.now() - started) / 1000;
        const logs = () => spawnSync("podman", ["logs", name], { env: PODMAN_ENV, encoding: "utf8" });
        expect(health, `no /healthz answer; logs:\n${logs().stdout}${logs().stderr}`).toBeDefined();
        expect(get("/")).toMatch(/<div id="root">/);
      },
      300_000,
    );
  });
});

/** Why the local base image is missing, or undefined. */
function baseImageMissing(): string | undefined {
  const r = spawnSync("podman", ["image", "exists", BASE_IMAGE], { env: PODMAN_ENV });
  return r.status === 0 ? undefined : `image ${BASE_IMAGE} is missing; run scripts/ci/setup-containers.sh`;
}
