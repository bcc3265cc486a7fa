// A stand-in agent process for the isolation suite: starts one lease with the podman executor,
// prints "started <container>" and then idles until it is killed (SIGKILL, like a crashing agent).
import { PodmanExecutor } from "../../src/agent/executors/podman.js";

const [stateDir, agentId, leaseId, image, script] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const ex = new PodmanExecutor({
  stateDir,
  now: () => Date.now(),
  agentId,
  defaultImage: image,
  memoryBytes: 128 << 20,
});
await ex.start({
  leaseId,
  jobId: "j",
  gpuModel: "H100",
  gpuIndices: [],
  spec: { command: [script], shell: true },
});
for (;;) {
  const s = await ex.status(leaseId);
  if (s?.phase === "running") {
    console.log(`started ${s.externalId}`);
    break;
  }
  await new Promise((r) => setTimeout(r, 100));
}
setInterval(() => undefined, 1000);
