import { describe, expect, it } from "vitest";
import { CONTAINER_HOSTFILE, podmanRunOptions } from "./podman-args.js";

const base = {
  leaseId: "lease_1",
  jobId: "job_1",
  gpuModel: "H100",
  spec: { command: ["train"], env: { ZUMBIDO_HOSTFILE: "/etc/passwd", MASTER_ADDR: "10.0.0.1" } },
  checkpointDir: undefined,
};
const paths = { container: "c", agentId: "a", leaseDir: "/s/l", work: "/s/w", notice: "/s/n" };
const flag = (args: string[], name: string): string[] =>
  args.flatMap((a, i) => (a === name ? [args[i + 1]!] : []));
const opts = { hostMemoryBytes: 2 ** 34, hostCpus: 8 };

describe("podman run options of a multi-node rank", () => {
  it("a rank joins the host (cluster) network and reads its hostfile read-only", () => {
    const args = podmanRunOptions(
      { ...base, network: false, gang: { env: {}, hostfile: "/state/gangs/lease_1/hostfile" } },
      1,
      paths,
      opts,
    );
    expect(flag(args, "--network")).toEqual(["host"]);
    expect(flag(args, "--volume")).toContain(`/state/gangs/lease_1/hostfile:${CONTAINER_HOSTFILE}:ro`);
    // The tenant cannot point ZUMBIDO_HOSTFILE elsewhere; the rendezvous env passes through.
    expect(flag(args, "--env")).toContain(`ZUMBIDO_HOSTFILE=${CONTAINER_HOSTFILE}`);
    expect(flag(args, "--env")).not.toContain("ZUMBIDO_HOSTFILE=/etc/passwd");
    // The tenant's env reaches the container as a podman secret, its value never on the command line.
    expect(flag(args, "--secret")).toEqual(["c-env0,type=env,target=MASTER_ADDR"]);
    expect(args.join(" ")).not.toContain("10.0.0.1");
  });

  it("the operator may give ranks another cluster network; one-node jobs keep theirs", () => {
    const gang = { env: {}, hostfile: "/h" };
    expect(
      flag(
        podmanRunOptions({ ...base, gang }, 1, paths, { ...opts, gangNetworkMode: "ib0net" }),
        "--network",
      ),
    ).toEqual(["ib0net"]);
    expect(flag(podmanRunOptions({ ...base, network: false }, 1, paths, opts), "--network")).toEqual([
      "none",
    ]);
  });
});
