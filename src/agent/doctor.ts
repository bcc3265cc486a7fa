// `zumbido agent doctor`: checks a node before enrolment and says what to fix.
import { spawn } from "node:child_process";
import { accessSync, constants, existsSync, statfsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Agent as Dispatcher, fetch as undiciFetch } from "undici";
import { gpuCatalogue, type GpuModel } from "../domain/index.js";
import { cdiNamesFor, DEFAULT_CDI_DIRS, readCdiGpus } from "./executors/cdi.js";
import { podmanEnv } from "./executors/podman.js";
import { discoverGpus } from "./gpu/nvidia-smi.js";

/** How one check went: fail means the node is not ready to enrol. */
export type CheckStatus = "ok" | "warn" | "fail";

/** One check's outcome, with what to do about it. */
export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

/** What the doctor checks against. */
export interface DoctorOptions {
  /** The control plane's URL; without it the server, TLS and clock checks warn. */
  server?: string;
  /** PEM of a private CA the control plane's certificate is signed by (--ca-file). */
  ca?: string;
  stateDir: string;
  /** The executor the agent will run: podman needs the CDI spec and podman itself. */
  executor: string;
  smiBin?: string;
  cdiDirs?: readonly string[];
  podmanBin?: string;
  /** A local image to test-run a container with. */
  testImage: string;
  /** The agent's clock, ms since the epoch. */
  now: () => number;
  timeoutMs?: number;
}

const GIB = 1024 ** 3;
/** Clock offsets beyond these warn and fail: usage records and leases are stamped with time. */
export const CLOCK_WARN_MS = 2_000;
export const CLOCK_FAIL_MS = 30_000;
/** Free space in the state dir below these warns and fails (logs, outbox, checkpoints live there). */
export const DISK_WARN_BYTES = 10 * GIB;
export const DISK_FAIL_BYTES = 1 * GIB;

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|TLS|SSL/;

interface ServerProbe {
  check: DoctorCheck;
  serverTime?: number;
  t0: number;
  t1: number;
  approved?: GpuModel[];
}

/** Runs every check, in the order they are printed. */
export async function runDoctor(o: DoctorOptions): Promise<DoctorCheck[]> {
  const probe = await probeServer(o);
  const catalogue = gpuCatalogue(probe?.approved ?? []);
  const checks: DoctorCheck[] = [];
  const gpus = await discoverGpus({ bin: o.smiBin ?? "nvidia-smi", timeoutMs: o.timeoutMs ?? 10_000 });
  if (!gpus.ok) {
    checks.push({
      name: "nvidia driver",
      status: "fail",
      detail:
        gpus.kind === "absent"
          ? "nvidia-smi is not on PATH: no NVIDIA driver here"
          : `nvidia-smi: ${gpus.message}`,
      fix:
        gpus.kind === "absent"
          ? "install the NVIDIA driver (Debian: apt install nvidia-driver; or NVIDIA's .run/CUDA repo) so nvidia-smi is on PATH"
          : "the driver is not answering: check `dmesg | grep -i nvrm`, reboot after a driver install, and that the kernel module loads (`modprobe nvidia`)",
    });
  } else {
    const found = gpus.discovery.gpus;
    const names = [...new Set(found.map((g) => g.name))];
    const unknown = found.filter((g) => !catalogue.fromDeviceName(g.name));
    checks.push(
      found.length === 0
        ? {
            name: "nvidia driver",
            status: "fail",
            detail: "nvidia-smi lists no GPUs",
            fix: "check the cards are seated and powered (`lspci | grep -i nvidia`)",
          }
        : unknown.length > 0
          ? {
              name: "nvidia driver",
              status: "warn",
              detail: `${found.length} GPUs (${names.join(", ")}); not in the catalogue: ${[...new Set(unknown.map((g) => g.name))].join(", ")} (they are not placed until a model for them is approved)`,
              fix: `propose the model and have an admin approve it: zumbido gpu-models propose --id <ID> --name "${unknown[0]!.name}" --memory-gb ${Math.round((unknown[0]!.memoryMiB ?? 0) / 1024)} --power-w ${unknown[0]!.powerLimitW ?? "<W>"} --match "${unknown[0]!.name.toLowerCase()}"`,
            }
          : {
              name: "nvidia driver",
              status: "ok",
              detail: `${found.length} GPUs: ${names.join(", ")}; driver ${found[0]!.driverVersion ?? "unknown"}`,
            },
    );
  }
  const podmanNeeded = o.executor === "podman";
  const cdi = readCdiGpus(o.cdiDirs ?? DEFAULT_CDI_DIRS);
  const fake = cdi.files.filter((f) => /zumbido-fake-gpu/.test(f));
  if (cdi.files.length === 0)
    checks.push({
      name: "cdi spec",
      status: podmanNeeded ? "fail" : "warn",
      detail: `no nvidia.com/gpu CDI spec in ${(o.cdiDirs ?? DEFAULT_CDI_DIRS).join(" or ")}${cdi.problems.length ? `; unreadable: ${cdi.problems.join("; ")}` : ""}`,
      fix: "install the NVIDIA Container Toolkit and run `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`",
    });
  else {
    const mapped = gpus.ok
      ? cdiNamesFor(
          gpus.discovery.gpus.map((g) => g.index),
          cdi,
          Object.fromEntries(gpus.discovery.gpus.map((g) => [g.index, g.uuid])),
        )
      : { names: [] };
    const detail = `devices ${cdi.names.join(", ")} in ${cdi.files.join(", ")}`;
    if ("problem" in mapped) checks.push({ name: "cdi spec", status: "fail", detail, fix: mapped.problem });
    else if (fake.length > 0)
      checks.push({
        name: "cdi spec",
        status: "warn",
        detail: `${detail}: fake GPUs for CI (scripts/ci/setup-containers.sh), no driver behind them`,
        fix: `on a real GPU node remove ${fake.join(", ")} and run \`nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml\``,
      });
    else checks.push({ name: "cdi spec", status: "ok", detail });
  }
  checks.push(
    await checkPodman(
      o,
      podmanNeeded,
      cdi.names.find((n) => n !== "all"),
    ),
  );
  if (probe) checks.push(probe.check);
  checks.push(clockCheck(probe));
  checks.push(diskCheck(o.stateDir));
  return checks;
}

/** Asks /healthz (reachability, TLS, the server's time) and the public catalogue. */
async function probeServer(o: DoctorOptions): Promise<ServerProbe | undefined> {
  if (!o.server) return undefined;
  const url = new URL("/healthz", o.server);
  const dispatcher = o.ca ? new Dispatcher({ connect: { ca: o.ca } }) : undefined;
  const get = (u: URL): Promise<Response> => {
    const signal = AbortSignal.timeout(o.timeoutMs ?? 10_000);
    return dispatcher
      ? (undiciFetch(u, { dispatcher, signal }) as unknown as Promise<Response>)
      : fetch(u, { signal });
  };
  const t0 = o.now();
  try {
    const res = await get(url);
    const t1 = o.now();
    const body = (await res.json().catch(() => ({}))) as { serverTime?: unknown };
    const date = Date.parse(res.headers.get("date") ?? "");
    const serverTime =
      typeof body.serverTime === "number" ? body.serverTime : Number.isFinite(date) ? date + 500 : undefined;
    const models = await get(new URL("/v1/gpu-models", o.server))
      .then((r) => (r.ok ? (r.json() as Promise<GpuModel[]>) : []))
      .catch(() => []);
    const plain = url.protocol === "http:" && !["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
    const check: DoctorCheck = !res.ok
      ? {
          name: "control plane",
          status: "fail",
          detail: `${url.href} answered HTTP ${res.status}`,
          fix: "check the server's logs (`journalctl -u zumbido-server`) and its store",
        }
      : plain
        ? {
            name: "control plane",
            status: "warn",
            detail: `${url.origin} answers, over plain HTTP`,
            fix: "serve TLS (ZUMBIDO_TLS_CERT and ZUMBIDO_TLS_KEY, or a proxy in front) so node keys do not cross the network in clear",
          }
        : {
            name: "control plane",
            status: "ok",
            detail: `${url.origin} answers${url.protocol === "https:" ? " (TLS verified)" : ""}`,
          };
    return { check, serverTime, t0, t1, approved: Array.isArray(models) ? models : [] };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const code = String(cause?.code ?? cause?.message ?? (err as Error).message);
    const tls = TLS_CODES.test(code);
    return {
      t0,
      t1: o.now(),
      check: {
        name: "control plane",
        status: "fail",
        detail: `cannot reach ${url.origin}: ${code}${tls ? " (TLS)" : ""}`,
        fix: tls
          ? "the server's certificate is not trusted here: if a private CA signed it, give that CA's certificate with --ca-file PATH (or ZUMBIDO_CA_FILE); else give the server a certificate from a public CA that names its host"
          : "check the URL, that the server runs, and that firewalls let this node reach its port",
      },
    };
  } finally {
    void dispatcher?.close();
  }
}

/** The clock offset to the server at the round trip's midpoint. */
function clockCheck(p: ServerProbe | undefined): DoctorCheck {
  if (!p || p.serverTime === undefined)
    return {
      name: "clock",
      status: "warn",
      detail: "not compared: no answer from the control plane",
      fix: "give --server (or ZUMBIDO_URL) and make it reachable",
    };
  const offset = Math.round(p.serverTime - (p.t0 + p.t1) / 2);
  const detail = `${offset >= 0 ? "server ahead by" : "server behind by"} ${Math.abs(offset)} ms (round trip ${p.t1 - p.t0} ms)`;
  const abs = Math.abs(offset);
  if (abs < CLOCK_WARN_MS) return { name: "clock", status: "ok", detail };
  return {
    name: "clock",
    status: abs < CLOCK_FAIL_MS ? "warn" : "fail",
    detail,
    fix: "synchronise the clock with NTP (`timedatectl set-ntp true`, or chrony) on this node and the server",
  };
}

/** Free space and write access where the agent keeps its state. */
function diskCheck(stateDir: string): DoctorCheck {
  let dir = resolve(stateDir);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    return {
      name: "disk",
      status: "fail",
      detail: `${dir} is not writable by this user`,
      fix: `run the agent as a user that can write ${stateDir}, or pick another --state-dir`,
    };
  }
  const s = statfsSync(dir);
  const free = s.bavail * s.bsize;
  const detail = `${(free / GIB).toFixed(1)} GiB free at ${dir}`;
  if (free >= DISK_WARN_BYTES) return { name: "disk", status: "ok", detail };
  return {
    name: "disk",
    status: free < DISK_FAIL_BYTES ? "fail" : "warn",
    detail,
    fix: `free space or move --state-dir: logs, the usage outbox and checkpoints need at least ${DISK_WARN_BYTES / GIB} GiB`,
  };
}

/** podman present, and a container (with one GPU device when the CDI spec has one) runs. */
async function checkPodman(
  o: DoctorOptions,
  needed: boolean,
  device: string | undefined,
): Promise<DoctorCheck> {
  const bin = o.podmanBin ?? "podman";
  const env = { ...podmanEnv({}), PATH: process.env.PATH ?? "/usr/bin:/bin" };
  const version = await exec(bin, ["--version"], env, 10_000);
  const status: CheckStatus = needed ? "fail" : "warn";
  if (version.code !== 0)
    return {
      name: "podman",
      status,
      detail: `${bin}: ${version.out.trim() || "not installed"}`,
      fix: "install podman (Debian: apt install podman crun), or run scripts/ci/setup-containers.sh",
    };
  const exists = await exec(bin, ["image", "exists", o.testImage], env, 30_000);
  if (exists.code !== 0)
    return {
      name: "podman",
      status: "warn",
      detail: `${version.out.trim()}; test image ${o.testImage} is not on this node, no container was run`,
      fix: `pull or import a small image and pass it with --test-image`,
    };
  const args = [
    "run",
    "--rm",
    "--pull=never",
    "--network=none",
    ...(device ? ["--device", `nvidia.com/gpu=${device}`] : []),
    o.testImage,
    "true",
  ];
  const run = await exec(bin, args, env, 120_000);
  if (run.code !== 0)
    return {
      name: "podman",
      status,
      detail: `\`${bin} ${args.join(" ")}\` failed: ${lastLine(run.out)}`,
      fix: "run that command by hand to see why; scripts/ci/setup-containers.sh sets up rootful podman (crun, cgroups, limits)",
    };
  return {
    name: "podman",
    status: "ok",
    detail: `${version.out.trim()}; ran a container${device ? ` with GPU device nvidia.com/gpu=${device}` : ""}`,
  };
}

function lastLine(s: string): string {
  return s.trim().split("\n").pop() ?? "";
}

/** Runs a program; code 127 with the reason when it cannot start. */
function exec(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    let out = "";
    const p = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (out += d.toString()));
    p.on("error", (e: NodeJS.ErrnoException) =>
      res({ code: 127, out: e.code === "ENOENT" ? "not installed (not on PATH)" : e.message }),
    );
    p.on("close", (code) => res({ code: code ?? 1, out }));
  });
}

/** The checks as aligned lines, each problem followed by what to do about it. */
export function formatDoctor(checks: readonly DoctorCheck[]): string {
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${c.status.padEnd(4)}  ${c.name.padEnd(13)}  ${c.detail}`);
    if (c.fix && c.status !== "ok") lines.push(`${"".padEnd(21)}fix: ${c.fix}`);
  }
  const fails = checks.filter((c) => c.status === "fail").length;
  const warns = checks.filter((c) => c.status === "warn").length;
  lines.push(
    fails
      ? `not ready to enrol: ${fails} failed, ${warns} warnings`
      : `ready to enrol${warns ? ` (${warns} warnings)` : ""}`,
  );
  return lines.join("\n");
}
