// Volumes: names, sizes, file paths inside a volume and mount paths in a container; pure checks
// shared by the control plane, the agent and the CLI.

/** Bytes in a GB, as storage is sold and billed (decimal: 10^9). */
export const GB = 1_000_000_000;
/** Largest chunk one relay request carries (4 MiB). */
export const VOLUME_CHUNK_BYTES = 4 * 1024 * 1024;
/** Chunks the relay holds per transfer before the sender must wait for the receiver. */
export const VOLUME_RELAY_CHUNKS = 8;
/** Volumes a job may mount. */
export const MAX_JOB_VOLUMES = 8;

const UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  PB: 1e15,
  KIB: 1024,
  MIB: 1024 ** 2,
  GIB: 1024 ** 3,
  TIB: 1024 ** 4,
};

/** Parses "10GB", "500 MiB", "2TB" or a plain byte count; throws naming the accepted forms. */
export function parseBytes(input: string | number): number {
  if (typeof input === "number") {
    if (!Number.isSafeInteger(input) || input < 0) throw new Error(`size ${input}: give whole bytes`);
    return input;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(input);
  const unit = UNITS[(m?.[2] || "B").toUpperCase()];
  if (!m || unit === undefined)
    throw new Error(`size "${input}": give a number and a unit, e.g. 10GB, 500MB, 1TB or 2GiB`);
  const v = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(v)) throw new Error(`size "${input}" is too large`);
  return v;
}

/** Bytes in words, decimal units ("10 GB", "1.5 MB"). */
export function formatBytes(b: number): string {
  for (const [u, v] of [
    ["PB", 1e15],
    ["TB", 1e12],
    ["GB", 1e9],
    ["MB", 1e6],
    ["KB", 1e3],
  ] as const)
    if (b >= v) return `${Math.round((b / v) * 100) / 100} ${u}`;
  return `${b} B`;
}

/** Why a volume name is refused, or null when it is fine. */
export function volumeNameProblem(name: string): string | null {
  return /^[a-z0-9][a-z0-9._-]{0,62}$/.test(name)
    ? null
    : `volume name "${name}": use 1 to 63 lowercase letters, digits, '.', '_' and '-', starting with a letter or digit`;
}

/** Why a file path inside a volume is refused (absolute, `..`, empty parts, control characters), or null. */
export function volumeFilePathProblem(path: string): string | null {
  if (path.length === 0 || path.length > 1024) return "a file path in a volume has 1 to 1024 characters";
  if (path.startsWith("/")) return `path "${path}" must be relative to the volume, e.g. data/train.csv`;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f\\]/.test(path)) return `path "${path}" has control characters or backslashes`;
  for (const part of path.split("/")) {
    if (part === "" || part === "." || part === "..")
      return `path "${path}" has an empty, "." or ".." part: name a file inside the volume, e.g. data/train.csv`;
    if (part.startsWith(".zumbido")) return `path "${path}": names starting with .zumbido are reserved`;
  }
  return null;
}

/** Container paths a volume may not be mounted over. */
const RESERVED_MOUNTS = [
  "/",
  "/work",
  "/zumbido",
  "/zumbido-gang",
  "/tmp",
  "/proc",
  "/sys",
  "/dev",
  "/etc",
  "/usr",
  "/bin",
  "/sbin",
  "/lib",
  "/lib64",
  "/var",
  "/run",
  "/root",
  "/home",
  "/boot",
];

/** Why a mount path in the container is refused, or null. */
export function mountPathProblem(path: string): string | null {
  if (!path.startsWith("/") || path.length > 256)
    return `mount path "${path}" must be absolute, e.g. /data (at most 256 characters)`;
  if (!/^(\/[A-Za-z0-9._-]+)+$/.test(path))
    return `mount path "${path}": use letters, digits, '.', '_' and '-' between slashes, e.g. /data or /mnt/ds`;
  if (path.split("/").some((p) => p === "." || p === ".."))
    return `mount path "${path}" has a "." or ".." part`;
  if (RESERVED_MOUNTS.includes(path) || path.startsWith("/zumbido"))
    return `mount path "${path}" is reserved: choose another, e.g. /data`;
  return null;
}

/** A volume to mount, as `--volume NAME:/path[:ro]` says it. */
export interface VolumeMountRequest {
  name: string;
  mountPath: string;
  readOnly: boolean;
}

/** Parses `NAME:/path[:ro|rw]`; throws naming the form. */
export function parseVolumeMount(s: string): VolumeMountRequest {
  const parts = s.split(":");
  const [name, mountPath, mode] = parts;
  if (
    parts.length < 2 ||
    parts.length > 3 ||
    !name ||
    !mountPath ||
    (mode !== undefined && mode !== "ro" && mode !== "rw")
  )
    throw new Error(`--volume "${s}": give NAME:/path or NAME:/path:ro, e.g. data:/data:ro`);
  return { name, mountPath, readOnly: mode === "ro" };
}

/**
 * Storage charge for one volume over [from, to) in minor units: size in GB × hours × price per
 * GB-month / 730 hours, rounded half up once (integer arithmetic).
 */
export function storageChargeMinor(sizeBytes: number, ms: number, priceMinorPerGbMonth: number): number {
  // bytes × ms × price / (1e9 B/GB × 730 h × 3.6e6 ms/h)
  const num = BigInt(sizeBytes) * BigInt(ms) * BigInt(priceMinorPerGbMonth);
  const den = BigInt(GB) * 730n * 3_600_000n;
  return Number((num * 2n + den) / (den * 2n));
}
