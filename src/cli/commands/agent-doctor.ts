import type { Command } from "commander";
import { formatDoctor, runDoctor } from "../../agent/doctor.js";
import { readCaFile } from "../context.js";

/** `zumbido agent doctor`: checks this node before enrolment (driver, CDI, podman, server, clock, disk). */
export function registerDoctorCommand(agent: Command): void {
  agent
    .command("doctor")
    .description(
      "check this node before enrolment: NVIDIA driver and GPUs, CDI spec, podman, the control plane (and TLS), clock offset, disk; exits 1 when a check fails",
    )
    .option(
      "--test-image <image>",
      "local image to test-run a container with",
      "localhost/zumbido/busybox:latest",
    )
    .option("--cdi-dir <dir...>", "folders with CDI specs (default /etc/cdi /run/cdi)")
    .action(async (o: { testImage: string; cdiDir?: string[] }, cmd: Command) => {
      // --server, --ca-file, --state-dir and --executor are the agent's own options; --json is global.
      const g = cmd.optsWithGlobals<{
        server?: string;
        caFile?: string;
        stateDir: string;
        executor: string;
        json?: boolean;
      }>();
      const ca = readCaFile(g.caFile ?? process.env.ZUMBIDO_CA_FILE);
      const checks = await runDoctor({
        ...((g.server ?? process.env.ZUMBIDO_URL) ? { server: g.server ?? process.env.ZUMBIDO_URL } : {}),
        ...(ca ? { ca } : {}),
        stateDir: g.stateDir,
        executor: g.executor,
        testImage: o.testImage,
        ...(o.cdiDir ? { cdiDirs: o.cdiDir } : {}),
        now: () => Date.now(),
      });
      const ok = !checks.some((c) => c.status === "fail");
      console.log(g.json ? JSON.stringify({ ok, checks }, null, 2) : formatDoctor(checks));
      if (!ok) process.exitCode = 1;
    });
}
