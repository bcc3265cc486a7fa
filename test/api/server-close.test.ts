// Shutting the server down cannot hang on a client that holds a connection open: a socket that
// connected and never sent a request (a half-open one left by a crashed client, or a slow scanner)
// kept Fastify's graceful close waiting forever, and `zumbido serve` never exited on SIGTERM.
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseServerConfig } from "../../src/config.js";
import { startServer } from "../../src/server.js";

describe("server close", () => {
  const dir = mkdtempSync(join(tmpdir(), "zumbido-close-"));
  const sockets: Socket[] = [];
  afterAll(() => {
    for (const s of sockets) s.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("ends within its grace even while a client holds a silent connection", async () => {
    const server = await startServer(
      parseServerConfig(
        {},
        { port: "0", store: `sqlite:${join(dir, "z.db")}`, dataDir: dir, logLevel: "silent" },
      ),
    );
    const { port } = new URL(server.url);
    const silent = connect(Number(port), "127.0.0.1");
    sockets.push(silent);
    await new Promise<void>((res, rej) => silent.once("connect", res).once("error", rej));
    const closedBy = new Promise<string>((res) => silent.once("close", () => res("cut")));
    const outcome = await Promise.race([
      server.close({ graceMs: 200 }).then(() => "closed"),
      new Promise<string>((res) => setTimeout(() => res("still open after 10 s"), 10_000).unref()),
    ]);
    expect(outcome).toBe("closed");
    // The server cut the silent connection rather than leaving it to the client.
    expect(await closedBy).toBe("cut");
  });
});
