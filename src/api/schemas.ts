import { z } from "zod";
import { Job, PriceView as Price, SiteView as Site, WorkloadReport } from "../contract/index.js";
import { EXECUTOR_KINDS } from "../domain/executors.js";
import { MAX_DURATION_LIMIT_S, MAX_IDLE_STOP_S, MAX_INSTANCE_PORTS } from "../domain/instances.js";
import { MAX_GPUS_PER_NODE } from "../domain/inventory.js";
import { imagePatternProblem, imageRefProblem, MAX_IMAGE_PATTERN, MAX_IMAGE_REF } from "../domain/images.js";
import {
  MAX_ENV_NAME,
  MAX_REGISTRY_PASSWORD_BYTES,
  MAX_REGISTRY_SERVER,
  MAX_REGISTRY_USERNAME,
  MAX_SECRET_NAME,
  MAX_SECRET_VALUE_BYTES,
  REGISTRY_SERVER,
  SECRET_NAME,
} from "../domain/secrets.js";

// Response and agent shapes live in src/contract (one source for server, CLI, agent and console).
export { Job, Price, Site, WorkloadReport };

/** ISO 3166-1 alpha-2 code, upper-cased. */
export const CountryCode = z
  .string()
  .regex(/^[A-Za-z]{2}$/, "use a two-letter ISO 3166-1 code such as ES")
  .transform((s) => s.toUpperCase());

/** Integer minor units (cents). */
export const MinorUnits = z.number().int("use whole minor units (cents), e.g. 250 for 2.50").nonnegative();

/** An OCI image reference: `[registry/]path[:tag][@sha256:digest]`, bounded in length. */
export const ImageRef = z
  .string()
  .max(MAX_IMAGE_REF, `an image reference is at most ${MAX_IMAGE_REF} characters`)
  .superRefine((s, ctx) => {
    const problem = imageRefProblem(s);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  });

/** A glob over image references (`*` any run, `?` one character), e.g. `nvcr.io/nvidia/*`. */
export const ImagePattern = z
  .string()
  .max(MAX_IMAGE_PATTERN, `an image pattern is at most ${MAX_IMAGE_PATTERN} characters`)
  .superRefine((s, ctx) => {
    const problem = imagePatternProblem(s);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  });

/** What a node's runtime can do, as the agent advertises it. */
export const NodeRuntime = z
  .object({
    executor: z.enum(EXECUTOR_KINDS),
    images: z.boolean(),
    isolated: z.boolean(),
  })
  .strict();

const ClusterLabel = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._-]{0,63}$/,
    "use lowercase letters, digits, '.', '_' and '-' (at most 64), e.g. ib-ndr, roce, eth-100g, leaf-3",
  );

/** A node's place on its site's cluster network (agent config, enrolment, or the operator's API). */
export const NodeCluster = z
  .object({
    address: z
      .string()
      .min(1)
      .max(253)
      .regex(
        /^[A-Za-z0-9.:-]+$/,
        "the cluster address is an IPv4/IPv6 address or a host name other nodes of the site reach",
      ),
    fabric: ClusterLabel.optional(),
    switchGroup: ClusterLabel.optional(),
  })
  .strict();

export const SiteInput = z
  .object({
    name: z.string().min(1).max(120),
    country: CountryCode,
    lat: z.number().min(-90).max(90),
    lon: z.number().min(-180).max(180),
    powerKw: z.number().positive("contracted power must be positive (kW)"),
    pue: z.number().min(1, "PUE cannot be below 1 (facility energy / IT energy)").max(5),
    cooling: z.enum(["air", "immersion", "direct-liquid", "hybrid"]),
    nodeOverheadW: z.number().nonnegative().max(20_000).optional(),
    carbonGPerKwh: z.number().nonnegative().max(2000).nullable().optional(),
    operatorId: z.string().optional(),
    defaultImage: ImageRef.nullable().optional(),
    allowImages: z.array(ImagePattern).max(100, "at most 100 allowed image patterns").optional(),
    denyImages: z.array(ImagePattern).max(100, "at most 100 denied image patterns").optional(),
    allowNetwork: z.boolean().optional(),
  })
  .strict();

export const SitePatch = SiteInput.omit({ operatorId: true }).partial().strict();

export const PriceInput = z
  .object({
    onDemandMinorPerGpuHour: MinorUnits.positive(),
    interruptibleMinorPerGpuHour: MinorUnits.positive(),
  })
  .strict();

export const Gpu = z.object({
  index: z.number().int().nonnegative(),
  uuid: z.string(),
  model: z.string(),
  name: z.string(),
  memoryMb: z.number().nonnegative(),
  powerLimitW: z.number().nonnegative(),
  pciBusId: z.string().optional(),
  healthy: z.boolean(),
});

/** Who approves a node's GPU inventory change. */
export const InventoryApprover = z.enum(["operator", "admin"]);

export const Node = z.object({
  id: z.string(),
  siteId: z.string(),
  name: z.string(),
  state: z.string(),
  stateReason: z.string().nullable().optional(),
  executor: z.string(),
  gpus: z.array(Gpu),
  lastHeartbeatAt: z.number().nullable().optional(),
  driverVersion: z.string().nullable().optional(),
  runtime: NodeRuntime.nullable().optional(),
  cluster: NodeCluster.nullable().optional(),
  approvedGpus: z.array(Gpu).optional(),
  inventoryChangedAt: z.number().nullable().optional(),
  /** Why the node takes no new work because of its inventory (null: it is not held). */
  held: z.string().nullable().optional(),
});

/** A named secret's name, e.g. `ngc`. */
export const SecretName = z
  .string()
  .min(1, "give the secret a name, e.g. ngc")
  .max(MAX_SECRET_NAME, `a secret name is at most ${MAX_SECRET_NAME} characters`)
  .regex(SECRET_NAME, "secret names are lower-case letters, digits, '.', '_' and '-', e.g. ngc or ghcr-bot");

/** POST /v1/secrets: a private registry's login, kept sealed and never shown back. */
export const RegistrySecretInput = z
  .object({
    name: SecretName,
    type: z.literal("registry"),
    registry: z
      .string()
      .max(MAX_REGISTRY_SERVER)
      .regex(
        REGISTRY_SERVER,
        "give the registry's host, with a port if it has one, e.g. nvcr.io or registry.example.com:5000",
      ),
    username: z.string().min(1, "give the registry user name").max(MAX_REGISTRY_USERNAME),
    password: z.string().min(1, "give the registry password or token").max(MAX_REGISTRY_PASSWORD_BYTES),
  })
  .strict();

const MAX_SSH_KEYS = 16;
/** An OpenSSH public key line: "TYPE BASE64 [comment]", whose encoded blob names the same TYPE. */
export const SshPublicKey = z
  .string()
  .max(8192, "an SSH public key is at most 8192 characters")
  .superRefine((k, ctx) => {
    const problem = sshKeyProblem(k);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

const SSH_KEY_TYPES = [
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
];

/** Why a string is not one OpenSSH public key line, or undefined when it is. */
export function sshKeyProblem(k: string): string | undefined {
  const fix = 'give the one-line contents of a .pub file, e.g. "ssh-ed25519 AAAAC3Nza... you@laptop"';
  const m = /^([a-z0-9@.-]+) ([A-Za-z0-9+/]+={0,3})(?: ([^\r\n\0]{0,512}))?$/.exec(k.trim());
  if (!m) return `not an SSH public key: ${fix}`;
  if (!SSH_KEY_TYPES.includes(m[1]!))
    return `SSH key type "${m[1]}" is not accepted: use ${SSH_KEY_TYPES.slice(0, 3).join(", ")} or ecdsa`;
  const blob = Buffer.from(m[2]!, "base64");
  const n = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (n <= 0 || n > 64 || blob.subarray(4, 4 + n).toString("latin1") !== m[1])
    return `the ${m[1]} key's data does not encode a ${m[1]} key: ${fix}`;
  if (m[1] === "ssh-rsa" && blob.length < 260) return "RSA keys shorter than 2048 bits are not accepted";
  return undefined;
}

export const JobSubmit = z
  .object({
    name: z.string().min(1).max(200).optional(),
    gpus: z.number().int("gpus must be a whole number").min(1, "gpus must be at least 1").max(4096),
    gpuModels: z.array(z.string().min(1)).min(1, 'name at least one GPU model, e.g. ["H100"]').max(8),
    gpusPerNode: z.number().int().min(1).optional(),
    minGpuMemoryGb: z.number().positive().optional(),
    class: z.enum(["on-demand", "interruptible"]).default("on-demand"),
    maxPriceMinorPerGpuHour: z.number().int("use whole cents").positive().optional(),
    jurisdiction: z.enum(["EU", "EEA"]).optional(),
    countries: z.array(CountryCode).min(1).optional(),
    maxCarbonGPerKwh: z.number().positive().optional(),
    runtimeEstimateS: z.number().int().positive().optional(),
    deadlineAt: z.number().int().positive().optional(),
    command: z
      .array(z.string())
      .min(1, 'give the command to run, e.g. ["python", "train.py"]')
      .max(1000)
      .optional()
      .describe("argv; required for a batch job; an instance without one runs an idle init that waits"),
    kind: z
      .enum(["batch", "instance"])
      .optional()
      .describe("instance: an interactive job with no natural end, billed per second until stopped"),
    ports: z
      .array(
        z
          .number()
          .int("a port is a whole number")
          .min(1, "ports are 1 to 65535")
          .max(65535, "ports are 1 to 65535"),
      )
      .max(MAX_INSTANCE_PORTS, `an instance declares at most ${MAX_INSTANCE_PORTS} ports`)
      .optional()
      .describe("instances: TCP ports in the container reachable through the relay, e.g. [8888]"),
    maxDurationS: z
      .number()
      .int()
      .min(0)
      .max(MAX_DURATION_LIMIT_S)
      .optional()
      .describe("instances: stop after running this long, seconds (0: none; default: the tenant's)"),
    idleStopS: z
      .number()
      .int()
      .min(0)
      .max(MAX_IDLE_STOP_S)
      .optional()
      .describe(
        "instances: stop after this long with no GPU utilisation and no relay traffic, seconds (0: none; default: the tenant's)",
      ),
    shell: z.boolean().optional(),
    env: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "environment variable names are letters, digits and _"),
        z.string(),
      )
      .optional(),
    secretEnv: z
      .record(
        z.string().max(MAX_ENV_NAME, `environment variable names are at most ${MAX_ENV_NAME} characters`),
        z
          .string()
          .max(MAX_SECRET_VALUE_BYTES, `a secret env value is at most ${MAX_SECRET_VALUE_BYTES} bytes`),
      )
      .optional()
      .describe(
        "env values kept secret: sealed at rest, given only to the node running the job, never shown back",
      ),
    registrySecret: SecretName.optional().describe("name of your registry secret to pull image with"),
    image: ImageRef.optional(),
    network: z.boolean().optional(),
    gracePeriodS: z.number().int().min(0).max(3600).optional(),
    freshIfCheckpointLost: z
      .boolean()
      .optional()
      .describe("start from an empty checkpoint folder when the checkpoint cannot be copied (default: wait)"),
    fabric: ClusterLabel.optional(),
    sshKeys: z
      .array(SshPublicKey)
      .min(1)
      .max(MAX_SSH_KEYS, `at most ${MAX_SSH_KEYS} SSH public keys per job`)
      .optional()
      .describe(
        "OpenSSH public keys delivered to the container as an authorized_keys file ($ZUMBIDO_SSH_AUTHORIZED_KEYS)",
      ),
    volumes: z
      .array(
        z
          .object({
            name: z.string().min(1).max(63),
            mountPath: z.string().min(1).max(256).describe("absolute path in the container, e.g. /data"),
            readOnly: z.boolean().default(false),
          })
          .strict(),
      )
      .max(8, "a job mounts at most 8 volumes")
      .optional()
      .describe("your volumes to mount; the job then runs only at their site"),
  })
  .strict();

export const UsageRecord = z
  .object({
    nodeId: z.string(),
    seq: z.number().int().positive(),
    leaseId: z.string(),
    fromMs: z.number().int().nonnegative(),
    toMs: z.number().int().nonnegative(),
    gpuMs: z.number().int().nonnegative(),
    energyMilliWh: z.number().int().nonnegative(),
    energySource: z.enum(["measured", "modelled"]),
  })
  .strict();

export const Heartbeat = z.object({
  // More than a node may have is accepted here only to hold the node (inventory approval refuses it).
  gpus: z.array(Gpu).max(256, "a node reports at most 256 GPUs"),
  driverVersion: z.string().nullable().optional(),
  health: z.object({ healthy: z.boolean(), reasons: z.array(z.string()) }),
  workloads: z.array(WorkloadReport),
  runtime: NodeRuntime.optional(),
  cluster: NodeCluster.optional(),
  /** Job ids of the checkpoint folders the node holds (sent now and then; the answer names the removable ones). */
  checkpoints: z.array(z.string().max(200)).max(1000).optional(),
});

export const Enrol = z
  .object({
    token: z.string().min(8),
    name: z.string().min(1).max(120),
    gpus: z
      .array(Gpu)
      .max(
        MAX_GPUS_PER_NODE,
        `a node has at most ${MAX_GPUS_PER_NODE} GPUs; enrol larger machines as several nodes`,
      ),
    executor: z.enum(EXECUTOR_KINDS).default("local"),
    driverVersion: z.string().nullable().optional(),
    runtime: NodeRuntime.optional(),
    cluster: NodeCluster.optional(),
  })
  .strict();

export const LogChunks = z.object({
  chunks: z
    .array(
      z.object({
        leaseId: z.string(),
        stream: z.enum(["stdout", "stderr"]),
        text: z.string().max(1_048_576),
      }),
    )
    .max(10_000),
});

export const IdParam = z.object({ id: z.string().min(1).max(100) });

/** PUT /v1/settings/instances: a tenant's defaults for new instances (seconds; null or 0 clears). */
export const InstanceDefaultsInput = z
  .object({
    maxDurationS: z.number().int().min(0).max(MAX_DURATION_LIMIT_S).nullable().optional(),
    idleStopS: z.number().int().min(0).max(MAX_IDLE_STOP_S).nullable().optional(),
  })
  .strict();
