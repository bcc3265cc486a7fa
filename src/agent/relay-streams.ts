// The agent's end of relay streams: each stream the control plane opens becomes a child process
// whose stdio carries the bytes: `podman exec` in the lease's container (exec), or a small TCP
// forwarder inside the container's network namespace (tcp). Neither runs with the agent's rights:
// exec is a process of the container (its user, no capabilities, its limits), and the forwarder
// runs as nobody (65534) and can only connect to 127.0.0.1:PORT in the container's namespace.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import type { RelayTarget } from "../relay/frames.js";
import type { MuxStream } from "../relay/mux.js";
import { containerName, podmanEnv } from "./executors/podman-args.js";

/** Starts a child process carrying a stream into a lease's workload. */
export interface StreamTargets {
  /** The child's stdin/stdout are the stream; exec: stderr is the process's stderr. */
  open(leaseId: string, target: RelayTarget): Promise<ChildProcess>;
}

/**
 * The TCP forwarder: connects to 127.0.0.1:PORT, writes "ok\n" to stderr once connected, then
 * copies stdin to the socket and the socket to stdout (half-closes both ways).
 */
const FORWARDER = `
const net = require("node:net");
const s = net.connect({ host: "127.0.0.1", port: Number(process.argv[1]), allowHalfOpen: true });
s.once("connect", () => { process.stderr.write("ok\\n"); process.stdin.pipe(s); s.pipe(process.stdout); });
s.once("error", (e) => { process.stderr.write(e.code || e.message); process.exit(2); });
s.once("close", () => process.exit(0));
`;

export interface PodmanStreamsOptions {
  /** The podman binary (default "podman"). */
  podman?: string;
  containersConf?: string;
  storageConf?: string;
  /** The nsenter binary (default "nsenter", util-linux). */
  nsenter?: string;
  /** The uid:gid the TCP forwarder runs as (default 65534:65534, nobody). */
  forwarderUser?: string;
}

/** Streams into the podman executor's containers. */
export class PodmanStreams implements StreamTargets {
  private readonly env: Record<string, string>;

  constructor(private readonly o: PodmanStreamsOptions = {}) {
    this.env = podmanEnv(o);
  }

  async open(leaseId: string, target: RelayTarget): Promise<ChildProcess> {
    const container = containerName(leaseId);
    const podman = this.o.podman ?? "podman";
    if (target.kind === "exec") {
      // The container's own user, capabilities, namespaces and limits (podman exec inherits them).
      const args = ["exec", "-i", ...(target.tty ? ["-t"] : []), container, ...target.argv];
      return started(spawn(podman, args, { env: this.env, stdio: ["pipe", "pipe", "pipe"] }));
    }
    const pid = await this.pidOf(podman, container);
    // Works for --network none and bridge alike: the container's own loopback and interfaces.
    const [uid, gid] = (this.o.forwarderUser ?? "65534:65534").split(":");
    return started(
      spawn(
        this.o.nsenter ?? "nsenter",
        [
          `--net=/proc/${pid}/ns/net`,
          `--setuid=${uid}`,
          `--setgid=${gid}`,
          "--",
          process.execPath,
          "-e",
          FORWARDER,
          String(target.port),
        ],
        { env: { PATH: this.env.PATH ?? "/usr/bin:/bin" }, stdio: ["pipe", "pipe", "pipe"] },
      ),
    );
  }

  private pidOf(podman: string, container: string): Promise<number> {
    return new Promise((resolve, reject) => {
      execFile(
        podman,
        ["inspect", "--format", "{{.State.Pid}} {{.State.Running}}", container],
        { env: this.env, timeout: 15_000 },
        (err, stdout) => {
          const [pid, running] = stdout.trim().split(" ");
          if (err || running !== "true" || !Number(pid))
            return reject(new Error("the job's container is not running on this node"));
          resolve(Number(pid));
        },
      );
    });
  }
}

/**
 * Streams for the host-process executor (--executor local --unsafe-host-processes, development
 * only, no isolation anyway): exec runs host processes in the lease's work folder with the minimal
 * workload environment; tcp connects to 127.0.0.1:PORT on the host through the same forwarder.
 */
export class HostStreams implements StreamTargets {
  constructor(private readonly o: { workDirOf: (leaseId: string) => string; env: Record<string, string> }) {}

  open(leaseId: string, target: RelayTarget): Promise<ChildProcess> {
    const cwd = this.o.workDirOf(leaseId);
    if (!existsSync(cwd))
      return Promise.reject(new Error(`lease ${leaseId} has no work folder on this node`));
    if (target.kind === "exec")
      return started(spawn(target.argv[0]!, target.argv.slice(1), { cwd, env: this.o.env, stdio: "pipe" }));
    return started(
      spawn(process.execPath, ["-e", FORWARDER, String(target.port)], { env: this.o.env, stdio: "pipe" }),
    );
  }
}

/** Resolves with the child once it runs; rejects when it could not start. */
function started(child: ChildProcess): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    child.once("spawn", () => resolve(child));
    child.once("error", (err) => reject(new Error(`cannot start ${child.spawnfile}: ${err.message}`)));
  });
}

/** Where the relay may open streams: only this agent's leases that are running now. */
export type LeaseCheck = (leaseId: string, jobId: string) => boolean;

/** Serves one stream the control plane opened: checks the lease, starts the child, joins them. */
export function serveStream(s: MuxStream, targets: StreamTargets, leaseOk: LeaseCheck): void {
  const { leaseId, jobId, target } = s.request;
  if (!leaseOk(leaseId, jobId)) {
    s.destroy(new Error(`lease ${leaseId} of job ${jobId} is not running on this node`));
    return;
  }
  targets.open(leaseId, target).then(
    (child) => (target.kind === "exec" ? joinExec(s, child) : joinTcp(s, child, target.port)),
    (err: Error) => s.destroy(err),
  );
}

function joinStdio(s: MuxStream, child: ChildProcess): void {
  child.stdin!.on("error", () => undefined);
  s.pipe(child.stdin!);
  s.on("close", () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  });
  child.stdout!.pipe(s, { end: false });
}

function joinExec(s: MuxStream, child: ChildProcess): void {
  let stderrDone = Promise.resolve();
  s.accept();
  joinStdio(s, child);
  child.stderr!.on("data", (c: Buffer) => {
    child.stderr!.pause();
    stderrDone = stderrDone
      .then(() => s.writeStderr(c))
      .then(
        () => void child.stderr!.resume(),
        () => undefined,
      );
  });
  child.once("close", (code, signal) => {
    void stderrDone.then(() => {
      if (s.destroyed) return;
      s.sendExit(code ?? (signal ? 128 + signalNumber(signal) : null));
      s.end();
    });
  });
}

function joinTcp(s: MuxStream, child: ChildProcess, port: number): void {
  let said = "";
  let connected = false;
  child.stderr!.on("data", (c: Buffer) => {
    if (connected) return;
    said += c.toString();
    if (said.startsWith("ok\n")) {
      connected = true;
      s.accept();
      joinStdio(s, child);
    }
  });
  child.once("close", () => {
    if (!connected)
      return void s.destroy(
        new Error(
          `cannot connect to port ${port} in the container: ${said.trim().slice(0, 200) || "the forwarder failed"}`,
        ),
      );
    if (!s.destroyed) s.end();
  });
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGPIPE: 13,
  SIGTERM: 15,
};
function signalNumber(sig: string): number {
  return SIGNALS[sig] ?? 0;
}
