import { describe, expect, it } from "vitest";
import { CheckpointRelay } from "./checkpoint-relay.js";

const bytes = (s: string) => ({ bytes: Buffer.from(s), sha256: "x".repeat(64) });

describe("checkpoint relay (the control plane's pipe)", () => {
  it("pairs the destination's request with the source's answer, holding at most one chunk per transfer", async () => {
    const relay = new CheckpointRelay();
    const pending = relay.fetch("t1", 0, 0, 3, 5_000);
    // A newer request of the same transfer replaces the older one (answered null: ask again).
    const newer = relay.fetch("t1", 0, 0, 3, 5_000);
    expect(await pending).toBeNull();
    const other = relay.fetch("t2", 1, 10, 2, 5_000);
    expect(relay.inFlight()).toBe(2);
    const req = (await relay.next("t1", 5_000))!;
    expect(req).toMatchObject({ file: 0, offset: 0, length: 3 });
    expect(relay.supply("t1", "not-the-request", bytes("abc"))).toBe(false);
    expect(relay.supply("t1", req.reqId, bytes("abc"))).toBe(true);
    expect((await newer)!.bytes.toString()).toBe("abc");
    // Answered once: a replay finds nobody waiting.
    expect(relay.supply("t1", req.reqId, bytes("abc"))).toBe(false);
    expect(relay.inFlight()).toBe(1);
    relay.close("t2");
    expect(await other).toBeNull();
    expect(relay.inFlight()).toBe(0);
  });

  it("a source's long poll is answered by the next request, or null after its wait", async () => {
    const relay = new CheckpointRelay();
    const poll = relay.next("t", 5_000);
    const got = relay.fetch("t", 2, 7, 1, 5_000);
    const req = (await poll)!;
    expect(req).toMatchObject({ file: 2, offset: 7, length: 1 });
    relay.supply("t", req.reqId, bytes("z"));
    expect((await got)!.bytes.toString()).toBe("z");
    expect(await relay.next("t", 10)).toBeNull();
    expect(await relay.fetch("t", 0, 0, 1, 10)).toBeNull();
    expect(relay.inFlight()).toBe(0);
  });
});
