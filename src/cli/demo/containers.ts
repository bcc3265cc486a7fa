// How `npm start` runs the demo's workloads: podman containers from a local image when podman works
// on this machine (built here, no registry), else host processes with no isolation.
import { execFile } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { podmanCommand, podmanRuns } from "../../agent/podman-probe.js";

const run = promisify(execFile);

/** The demo's tenant image: busybox as uid 1000, built locally with `podman import`. */
export const DEMO_IMAGE = "localhost/zumbido/demo:latest";

/** How the demo agents run workloads, as the operator asked (ZUMBIDO_DEMO_EXECUTOR). */
export type DemoExecutorMode = "auto" | "podman" | "local";

/** What the demo decided: containers from the demo image, or host processes and why. */
export type DemoExecutor = { kind: "podman"; image: string } | { kind: "local"; why: string };

/**
 * Chooses the demo's executor: "local" as asked; else podman when it runs containers here (building
 * the demo image first if it is missing, with progress lines). "auto" falls back to host processes
 * saying why; "podman" throws instead.
 */
export async function chooseDemoExecutor(
  mode: DemoExecutorMode,
  progress: (line: string) => void,
): Promise<DemoExecutor> {
  if (mode === "local") return { kind: "local", why: "ZUMBIDO_DEMO_EXECUTOR=local" };
  const refuse = (why: string): DemoExecutor => {
    if (mode === "podman") throw new Error(`ZUMBIDO_DEMO_EXECUTOR=podman, but ${why}`);
    return { kind: "local", why };
  };
  const podman = await podmanRuns();
  if (!podman.ok) return refuse(podman.why);
  if ((await podmanCommand(["image", "exists", DEMO_IMAGE], 10_000)).code !== 0) {
    const t0 = Date.now();
    progress(
      `demo: building the container image ${DEMO_IMAGE} (busybox rootfs, podman import; no registry)...`,
    );
    const built = await buildDemoImage();
    if (built) return refuse(`the demo image could not be built: ${built}`);
    progress(`demo: built ${DEMO_IMAGE} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  const runs = await podmanRuns(DEMO_IMAGE);
  if (!runs.ok) return refuse(runs.why);
  return { kind: "podman", image: DEMO_IMAGE };
}

/** Builds DEMO_IMAGE from this host's static busybox; returns why it could not, or undefined. */
export async function buildDemoImage(image = DEMO_IMAGE): Promise<string | undefined> {
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => existsSync(p));
  if (!busybox) return "no busybox on this host (apt-get install busybox-static)";
  const dir = mkdtempSync(join(tmpdir(), "zumbido-demo-image-"));
  try {
    const root = join(dir, "rootfs");
    for (const d of ["bin", "etc", "proc", "sys", "dev", "run", "tmp", "var/tmp", "work", "home/tenant"])
      mkdirSync(join(root, d), { recursive: true });
    await run("cp", [busybox, join(root, "bin/busybox")]);
    const { stdout } = await run(busybox, ["--list"]);
    for (const applet of stdout.split("\n").filter((a) => /^[\w.[-]+$/.test(a) && a !== "busybox"))
      if (!existsSync(join(root, "bin", applet))) symlinkSync("busybox", join(root, "bin", applet));
    writeFileSync(
      join(root, "etc/passwd"),
      "root:x:0:0:root:/root:/bin/sh\ntenant:x:1000:1000:tenant:/home/tenant:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    );
    writeFileSync(join(root, "etc/group"), "root:x:0:\ntenant:x:1000:\nnogroup:x:65534:\n");
    chmodSync(join(root, "tmp"), 0o1777);
    chownSync(join(root, "home/tenant"), 1000, 1000);
    const tar = join(dir, "rootfs.tar");
    await run("tar", ["--numeric-owner", "-C", root, "-cf", tar, "."]);
    const r = await podmanCommand(
      [
        "import",
        "-q",
        "--change",
        "ENV PATH=/bin",
        "--change",
        "USER 1000:1000",
        "--change",
        "WORKDIR /work",
        "--change",
        'CMD ["/bin/sh"]',
        tar,
        image,
      ],
      120_000,
    );
    return r.code === 0 ? undefined : r.stderr || `podman import exited ${r.code}`;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
