// A multi-node rank at the start barrier: the podman executor makes its image present before the
// rank reports ready (so the go starts it at once), and says when it cannot.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PodmanExecutor } from "../../src/agent/executors/podman.js";
import type { WorkloadSpec } from "../../src/agent/executor.js";
import { podmanUnavailable, TEST_IMAGE } from "./podman-env.js";

const why = podmanUnavailable();
const root = mkdtempSync(join(tmpdir(), "zumbido-podman-prepare-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const rank = (image: string): WorkloadSpec => ({
  leaseId: "lease_prep",
  jobId: "job_prep",
  gpuModel: "H100",
  gpuIndices: [0],
  image,
  spec: { command: ["true"] },
  gang: { env: { MASTER_ADDR: "127.0.0.1" }, hostfile: "/dev/null" },
});

describe("podman prepare (start barrier)", () => {
  if (why && process.env.CI === "true") {
    it("needs podman under CI", () => expect.fail(`podman cannot run containers under CI: ${why}`));
    return;
  }
  const ex = new PodmanExecutor({ stateDir: root, now: () => Date.now(), agentId: `prep-${process.pid}` });
  afterAll(() => ex.close());

  it.skipIf(why !== undefined)("an image already on the node is ready; nothing is started", async () => {
    expect(await ex.prepare(rank(TEST_IMAGE))).toEqual({});
    expect(await ex.status("lease_prep")).toBeUndefined();
  });

  it.skipIf(why !== undefined)(
    "an image that cannot be had is a pull failure, with podman's words",
    async () => {
      const r = await ex.prepare(rank(join(root, "missing.tar")));
      expect(r.cause).toBe("image-pull");
      expect(r.problem).toMatch(/missing\.tar does not exist on this node/);
    },
  );
});
