import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** The image the podman suites run (made by scripts/ci/setup-containers.sh). */
export const TEST_IMAGE = "localhost/zumbido/busybox:latest";

/** The environment podman needs to see the executor's containers (the setup's config). */
export const PODMAN_ENV = {
  ...process.env,
  CONTAINERS_CONF: "/etc/zumbido/containers.conf",
  CONTAINERS_STORAGE_CONF: "/etc/zumbido/storage.conf",
};

/** Why podman cannot run containers here, or undefined when it can (and the test image is there). */
export function podmanUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "the podman executor drives rootful podman: run the tests as root";
  const env = PODMAN_ENV;
  if (!existsSync("/etc/zumbido/containers.conf"))
    return "no /etc/zumbido/containers.conf: run `sudo bash scripts/ci/setup-containers.sh` first";
  const v = spawnSync("podman", ["image", "exists", TEST_IMAGE], { env, encoding: "utf8" });
  if (v.error) return `podman is not installed (${v.error.message}); run scripts/ci/setup-containers.sh`;
  if (v.status !== 0) return `image ${TEST_IMAGE} is missing; run scripts/ci/setup-containers.sh`;
  return undefined;
}

/** Removes every container whose name starts with zumbido-<prefix> (a suite's leftovers after a failed or timed-out case). */
export function removeContainersNamed(prefix: string): void {
  const ps = spawnSync("podman", ["ps", "-a", "-q", "--filter", `name=^zumbido-${prefix}`], {
    env: PODMAN_ENV,
    encoding: "utf8",
  });
  const ids = ps.stdout.split("\n").filter(Boolean);
  if (ids.length > 0) spawnSync("podman", ["rm", "-f", ...ids], { env: PODMAN_ENV, encoding: "utf8" });
}
