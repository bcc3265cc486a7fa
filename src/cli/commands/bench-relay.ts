/**
 * `zumbido bench relay`: bytes through the relay against a direct loopback connection, in the same
 * run. A real server process holds a running lease; this process plays the node's agent (the real
 * relay client and the real TCP forwarder child, without the container namespace) and a real
 * `zumbido port-forward` child is the tenant's end; the far end is a loopback echo server. Measured:
 * MB/s of a bulk transfer echoed back (payload bytes over the time until the last came back), and
 * the round-trip time of one-byte echoes, each through the port-forward and directly.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import { minimalEnv } from "../../agent/executors/local.js";
import { RelayClient } from "../../agent/relay-client.js";
import { HostStreams, serveStream } from "../../agent/relay-streams.js";
import { BIN, buildIngestWorld, startBenchServer, stopProc } from "./bench-ingest.js";

export interface RelayBenchResult {
  /** Megabytes per transfer, and transfers (each on a new connection). */
  megabytes: number;
  rounds: number;
  directMBps: number;
  relayMBps: number;
  /** relay / direct throughput. */
  throughputRatio: number;
  pings: number;
  directRttP50Ms: number;
  relayRttP50Ms: number;
  relayRttP99Ms: number;
  /** What the relay adds to one round trip (p50), ms. */
  extraRttP50Ms: number;
  /** A new connection through the port-forward until its first echo, ms (median of 5). */
  relayConnectMs: number;
}

/** A loopback echo server (the far end of both paths). */
function echoServer(): Promise<net.Server> {
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.pipe(sock);
    sock.on("error", () => sock.destroy());
  });
  return new Promise((r) => server.listen(0, "127.0.0.1", () => r(server)));
}

const connect = (port: number): Promise<net.Socket> =>
  new Promise((res, rej) => {
    const s = net.connect(port, "127.0.0.1", () => res(s));
    s.setNoDelay(true);
    s.once("error", rej);
  });

const once = (s: net.Socket): Promise<Buffer> => new Promise((r) => s.once("data", r));

/** Sends `bytes` through the echo and waits for all of them back; seconds taken. Fails after 60 s saying how far it got. */
async function echoSeconds(port: number, bytes: number): Promise<number> {
  const s = await connect(port);
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  let got = 0;
  const t0 = process.hrtime.bigint();
  let timer: NodeJS.Timeout | undefined;
  const back = new Promise<void>((res, rej) => {
    timer = setTimeout(() => rej(new Error(`stalled: ${got} of ${bytes} bytes came back in 60 s`)), 60_000);
    s.on("data", (c: Buffer) => {
      got += c.length;
      if (got >= bytes) res();
    });
  });
  try {
    for (let sent = 0; sent < bytes; sent += chunk.length) {
      const part = chunk.subarray(0, Math.min(chunk.length, bytes - sent));
      if (!s.write(part)) await Promise.race([new Promise((r) => s.once("drain", r)), back]);
    }
    await back;
    return Number(process.hrtime.bigint() - t0) / 1e9;
  } finally {
    clearTimeout(timer);
    s.destroy();
  }
}

/** MB/s of `rounds` echoed transfers of `bytes` each, one connection per round. */
async function throughput(port: number, bytes: number, rounds: number): Promise<number> {
  let secs = 0;
  for (let i = 0; i < rounds; i++) secs += await echoSeconds(port, bytes);
  return (bytes * rounds) / 1e6 / secs;
}

async function pings(port: number, n: number): Promise<number[]> {
  const s = await connect(port);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const got = once(s);
    s.write("p");
    await got;
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  s.destroy();
  return out;
}

const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0;
};
const r2 = (x: number): number => Math.round(x * 100) / 100;

export async function runRelayBench(o: {
  megabytes: number;
  rounds: number;
  pings: number;
  progress?: (what: string) => void;
}): Promise<RelayBenchResult> {
  const step = o.progress ?? ((): void => undefined);
  const dir = mkdtempSync(join(tmpdir(), "zumbido-bench-relay-"));
  const server = await startBenchServer(`sqlite:${join(dir, "z.db")}`, { env: { ZUMBIDO_DATA: dir } });
  const target = await echoServer();
  const targetPort = (target.address() as net.AddressInfo).port;
  let forward: ChildProcess | undefined;
  let relay: RelayClient | undefined;
  try {
    const w = await buildIngestWorld(server.url, server.adminKey, 1);
    relay = new RelayClient({
      server: server.url,
      key: () => w.nodeKey,
      onStream: (s) =>
        serveStream(
          s,
          new HostStreams({ workDirOf: () => dir, env: minimalEnv(process.env) }),
          (l) => l === w.leaseId,
        ),
    });
    relay.start();
    for (let i = 0; !relay.connected; i++) {
      if (i > 300) throw new Error("the relay did not connect in 30 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    forward = spawn(process.execPath, [BIN, "port-forward", w.jobId, `0:${targetPort}`], {
      env: { ...process.env, ZUMBIDO_URL: server.url, ZUMBIDO_TOKEN: w.tenantKey },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const line = await new Promise<string>((r) =>
      createInterface({ input: forward!.stdout! }).once("line", r),
    );
    const relayPort = Number(/:(\d+) ->/.exec(line)?.[1]);
    const bytes = o.megabytes * 1_000_000;
    // Warm both paths (JIT, the forwarder's start), then measure.
    step("warming up");
    await throughput(targetPort, 1_000_000, 1);
    await throughput(relayPort, 1_000_000, 1);
    step("bulk transfer, direct");
    const directMBps = await throughput(targetPort, bytes, o.rounds);
    step("bulk transfer, through the relay");
    const relayMBps = await throughput(relayPort, bytes, o.rounds);
    step("round trips, direct");
    const direct = await pings(targetPort, o.pings);
    step("round trips, through the relay");
    const relayed = await pings(relayPort, o.pings);
    const opens: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = process.hrtime.bigint();
      await pings(relayPort, 1);
      opens.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return {
      megabytes: o.megabytes,
      rounds: o.rounds,
      directMBps: r2(directMBps),
      relayMBps: r2(relayMBps),
      throughputRatio: r2(relayMBps / directMBps),
      pings: o.pings,
      directRttP50Ms: r2(q(direct, 0.5)),
      relayRttP50Ms: r2(q(relayed, 0.5)),
      relayRttP99Ms: r2(q(relayed, 0.99)),
      extraRttP50Ms: r2(q(relayed, 0.5) - q(direct, 0.5)),
      relayConnectMs: r2(q(opens, 0.5)),
    };
  } finally {
    if (forward) await stopProc(forward, "SIGTERM");
    await relay?.stop();
    target.close();
    await stopProc(server.proc, "SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

export function registerBenchRelayCommand(bench: Command): void {
  bench
    .command("relay")
    .description("relay throughput and round-trip latency through zumbido port-forward vs direct loopback")
    .option("--mb <n>", "megabytes per echoed transfer", (v) => Number(v), 1)
    .option("--rounds <n>", "transfers, each on a new connection", (v) => Number(v), 8)
    .option("--pings <n>", "one-byte round trips", (v) => Number(v), 500)
    .option("--json", "print the figures as JSON")
    .action(async (o: { mb: number; rounds: number; pings: number; json?: boolean }) => {
      const r = await runRelayBench({
        megabytes: o.mb,
        rounds: o.rounds,
        pings: o.pings,
        progress: (w) => console.error(`bench relay: ${w}...`),
      });
      if (o.json) return void console.log(JSON.stringify(r, null, 2));
      console.log(
        `relay bench (${r.megabytes} MB bulk, ${r.pings} one-byte round trips; loopback, one machine)`,
      );
      console.log(
        `  throughput  direct ${r.directMBps} MB/s   relay ${r.relayMBps} MB/s   ratio ${r.throughputRatio}`,
      );
      console.log(
        `  round trip  direct p50 ${r.directRttP50Ms} ms   relay p50 ${r.relayRttP50Ms} ms (p99 ${r.relayRttP99Ms})   extra ${r.extraRttP50Ms} ms`,
      );
      console.log(
        `  new connection through the port-forward to first echo: ${r.relayConnectMs} ms (median of 5)`,
      );
    });
}
