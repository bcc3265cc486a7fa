import { hostname } from "node:os";
import { isAbsolute, join } from "node:path";
import { Option, type Command } from "commander";
import { Agent } from "../../agent/agent.js";
import { ModelledEnergyMeter, type EnergyMeter } from "../../agent/energy-model.js";
import type { GpuUtilisation } from "../../agent/gpu/utilisation.js";
import { HOST_PROCESSES_REFUSED, minimalEnv } from "../../agent/executors/local.js";
import { EXECUTOR_KINDS } from "../../domain/index.js";
import {
  hasNvidiaGpus,
  measuredEnergy,
  nvidiaGpuSource,
  simulatedGpuSource,
} from "../../agent/gpu-source.js";
import { readCaFile, UsageError } from "../context.js";
import { registerDoctorCommand } from "./agent-doctor.js";
import { buildExecutor, parseComputeNodeGpus, type ExecutorFlags } from "./agent-executor.js";

/** `zumbido agent`: the node agent. */
export function registerAgentCommand(program: Command): void {
  const agent = program
    .command("agent")
    .description("run the node agent: discover GPUs, enrol, run assigned jobs, meter and report")
    .option("--server <url>", "control plane URL (ZUMBIDO_URL)")
    .option(
      "--ca-file <path>",
      "PEM certificate of the private CA that signed the server's TLS certificate (ZUMBIDO_CA_FILE)",
    )
    .option("--token <token>", "one-time enrolment token (first start only)")
    .option(
      "--simulate-gpus <spec>",
      "made-up GPUs, e.g. H100x8 or A100x4,L40Sx2 (default when nvidia-smi is absent)",
    )
    .option(
      "--state-dir <dir>",
      "where the agent keeps its key, outbox and workload state",
      "./.zumbido/agent",
    )
    .option("--name <name>", "node name", hostname())
    .addOption(new Option("--executor <kind>", "how workloads run").choices(EXECUTOR_KINDS).default("podman"))
    .option(
      "--unsafe-host-processes",
      "let --executor local run tenant jobs as host processes with the agent's user: NO isolation, development only",
    )
    .option("--namespace <ns>", "Kubernetes namespace for the Jobs (with --executor kubernetes)", "zumbido")
    .option(
      "--image <image>",
      "default container image for jobs that name none (Kubernetes)",
      "nvcr.io/nvidia/pytorch:24.08-py3",
    )
    .option(
      "--default-image <image>",
      "podman: image for jobs when neither the job nor the site names one (e.g. localhost/zumbido/demo:latest)",
    )
    .addOption(
      new Option(
        "--slurm-container <mode>",
        "slurm: run each job's image with podman inside the allocation (default when podman works here), or none: host processes, only with --unsafe-host-processes",
      ).choices(["podman", "none"]),
    )
    .option("--slurm-conf <file>", "slurm: SLURM_CONF for sbatch, squeue, scontrol and scancel")
    .option("--user <uid:gid>", "podman: the non-root user workloads run as", "1000:1000")
    .option("--userns-auto", "podman: give each container its own range of host uids (--userns=auto)")
    .option(
      "--cluster-address <addr>",
      "this node's address on the site's cluster network (multi-node rendezvous; not the public one)",
    )
    .option("--fabric <label>", "the cluster network's fabric, e.g. ib-ndr, roce, eth-100g")
    .option("--switch-group <label>", "the leaf switch (or rail group) this node hangs off, e.g. leaf-3")
    .option(
      "--gang-network <mode>",
      "podman/slurm containers: network of multi-node job ranks, host (default) or a podman network on the cluster fabric",
    )
    .option(
      "--compute-node-gpus <n>",
      "slurm/kubernetes: GPUs of each compute node behind this agent; a lease of more runs as ONE multi-node allocation (sbatch --nodes / indexed Job)",
      parseComputeNodeGpus,
    )
    .option(
      "--volume-root <dir>",
      "where the site's storage is mounted on this node; volumes live under it (ZUMBIDO_VOLUME_ROOT)",
    )
    .option("--heartbeat-ms <ms>", "heartbeat interval", (v) => Number(v), 1000)
    .option(
      "--checkpoint-keep-s <s>",
      "seconds a checkpoint folder the control plane calls removable (job ended, copied away) is kept before removal",
      (v) => Number(v),
      3600,
    )
    .option("--meter-ms <ms>", "usage record interval", (v) => Number(v), 5000)
    .action(async (_o: unknown, cmd: Command) => {
      // --token is also a global option (the API key), so read it with the globals.
      const o = cmd.optsWithGlobals<
        ExecutorFlags & {
          server?: string;
          caFile?: string;
          token?: string;
          simulateGpus?: string;
          heartbeatMs: number;
          meterMs: number;
          checkpointKeepS: number;
          clusterAddress?: string;
          fabric?: string;
          switchGroup?: string;
          volumeRoot?: string;
        }
      >();
      const server = o.server ?? process.env.ZUMBIDO_URL;
      const volumeRoot = o.volumeRoot ?? process.env.ZUMBIDO_VOLUME_ROOT;
      if (volumeRoot !== undefined && !isAbsolute(volumeRoot))
        throw new UsageError(
          `--volume-root ${volumeRoot}: give an absolute folder, e.g. /srv/zumbido-volumes`,
        );
      if (!server) throw new UsageError("--server (or ZUMBIDO_URL) is required: the control plane's URL");
      const ca = readCaFile(o.caFile ?? process.env.ZUMBIDO_CA_FILE);
      if (o.executor === "local" && o.unsafeHostProcesses !== true) {
        console.error(`zumbido agent: refusing to start with --executor local: ${HOST_PROCESSES_REFUSED}`);
        process.exitCode = 2;
        return;
      }
      if ((o.fabric || o.switchGroup) && !o.clusterAddress)
        throw new UsageError(
          "--fabric and --switch-group describe the cluster network: give --cluster-address too",
        );
      const cluster = o.clusterAddress
        ? {
            address: o.clusterAddress,
            ...(o.fabric ? { fabric: o.fabric } : {}),
            ...(o.switchGroup ? { switchGroup: o.switchGroup } : {}),
          }
        : undefined;
      const clock = { now: () => Date.now() };
      let gpus = o.simulateGpus ? simulatedGpuSource(o.simulateGpus) : undefined;
      let meter: EnergyMeter = new ModelledEnergyMeter();
      let utilisation: GpuUtilisation | undefined;
      let stopSampling = (): void => undefined;
      if (!gpus) {
        if (await hasNvidiaGpus()) {
          gpus = nvidiaGpuSource();
          const m = await measuredEnergy(clock.now);
          meter = m.meter;
          utilisation = m.utilisation;
          stopSampling = () => m.stop();
        } else {
          console.error(
            "zumbido agent: nvidia-smi found no GPUs here; pass --simulate-gpus H100x8 to run with simulated GPUs",
          );
          process.exitCode = 2;
          return;
        }
      }
      const executor = await buildExecutor(o, gpus, clock.now);
      if (!executor) return;
      // The relay: podman containers, or (development only) host processes of --executor local.
      const streams = await import("../../agent/relay-streams.js");
      const relayTargets =
        executor.kind === "podman"
          ? new streams.PodmanStreams()
          : executor.kind === "local"
            ? new streams.HostStreams({
                workDirOf: (l) => join(o.stateDir, "workloads", "leases", encodeURIComponent(l), "work"),
                env: minimalEnv(process.env),
              })
            : undefined;
      const agent = new Agent({
        server,
        ...(relayTargets ? { relay: { targets: relayTargets, env: process.env } } : {}),
        ...(ca ? { ca } : {}),
        ...(o.token ? { token: o.token } : {}),
        name: o.name,
        stateDir: o.stateDir,
        executor,
        gpus,
        meter,
        ...(utilisation ? { utilisation } : {}),
        clock,
        heartbeatMs: o.heartbeatMs,
        meterMs: o.meterMs,
        checkpointKeepMs: Math.max(0, o.checkpointKeepS) * 1000,
        ...(cluster ? { cluster } : {}),
        ...(volumeRoot ? { volumeRoot } : {}),
        log: (msg, f) => console.log(JSON.stringify({ t: new Date().toISOString(), msg, ...f })),
      });
      const { nodeId } = await agent.init();
      console.log(
        JSON.stringify({
          t: new Date().toISOString(),
          msg: "agent ready",
          nodeId,
          server,
          executor: executor.kind,
        }),
      );
      agent.start();
      const stop = async (): Promise<void> => {
        stopSampling();
        await agent.stop();
        process.exit(0);
      };
      process.once("SIGINT", () => void stop());
      process.once("SIGTERM", () => void stop());
    });
  registerDoctorCommand(agent);
}
