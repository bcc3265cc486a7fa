import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PodmanExecutor } from "../../src/agent/executors/podman.js";
import { executorConformance } from "./conformance.js";
import { podmanUnavailable, removeContainersNamed, TEST_IMAGE } from "./podman-env.js";

const why = podmanUnavailable();
const underCi = process.env.CI === "true";
const root = mkdtempSync(join(tmpdir(), "zumbido-podman-exec-"));
const run = `t${process.pid}-${Date.now().toString(36)}`;

/** A podman executor over the state named by key (the same key again = an agent restart). */
export function makePodman(dir: string, agentId: string): PodmanExecutor {
  return new PodmanExecutor({
    stateDir: dir,
    now: () => Date.now(),
    agentId,
    defaultImage: TEST_IMAGE,
    memoryBytes: 256 * 1024 * 1024,
    cpus: 1,
    pidsLimit: 256,
  });
}

if (why && underCi) {
  describe("podman executor", () => {
    it("needs podman under CI", () => {
      expect.fail(`podman cannot run containers under CI: ${why}`);
    });
  });
} else {
  // A case that failed or timed out leaves its container running: nothing of the suite may outlive it.
  afterAll(() => {
    if (!why) removeContainersNamed(`conf-podman-${process.pid}-`);
  });
  executorConformance("podman", (key) => makePodman(join(root, key), `${run}-${key}`), {
    gpuModel: "H100",
    // The container sees only its GPUs and CUDA numbers them from 0; leasing 0,1 makes both views agree.
    gpuIndices: [0, 1],
    engineChoosesGpus: false,
    noticeSignal: "USR1",
    exitKnownAfterRestart: true,
    timeoutMs: 45_000,
    skipReason: why,
  });
}
