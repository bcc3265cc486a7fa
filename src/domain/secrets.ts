// Secrets a tenant hands the platform: job env values marked secret and named registry credentials.
// Limits and name rules live here so the API schemas, the services and the CLI agree.

/** An environment variable name: letters, digits and `_`, not starting with a digit. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Longest environment variable name, characters. */
export const MAX_ENV_NAME = 128;
/** Most secret env values one job may carry. */
export const MAX_SECRET_ENV = 64;
/** Largest secret env value, bytes (UTF-8). */
export const MAX_SECRET_VALUE_BYTES = 32 * 1024;
/** Largest sum of a job's secret env values, bytes (UTF-8). */
export const MAX_SECRET_ENV_TOTAL_BYTES = 128 * 1024;

/** A named secret's name: lower-case letters, digits, `.`, `_` and `-`, starting with a letter or digit. */
export const SECRET_NAME = /^[a-z0-9][a-z0-9._-]*$/;
/** Longest named secret name, characters. */
export const MAX_SECRET_NAME = 63;
/** Most named secrets one tenant may keep. */
export const MAX_SECRETS_PER_TENANT = 100;
/** Longest registry host (`host[:port]`), characters. */
export const MAX_REGISTRY_SERVER = 255;
/** Longest registry user name, characters. */
export const MAX_REGISTRY_USERNAME = 256;
/** Largest registry password or token, bytes (UTF-8). */
export const MAX_REGISTRY_PASSWORD_BYTES = 8 * 1024;
/** A registry host with an optional port, e.g. `nvcr.io` or `registry.example.com:5000`. */
export const REGISTRY_SERVER =
  /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?$/;

/**
 * Names the platform sets in every workload's environment (GPU pinning, the lease, the checkpoint
 * notice); a tenant's secret may not take one of them.
 */
export const RESERVED_ENV_NAMES: ReadonlySet<string> = new Set([
  "CUDA_VISIBLE_DEVICES",
  "CUDA_DEVICE_ORDER",
  "NVIDIA_VISIBLE_DEVICES",
]);

/** Why `name` cannot be a secret env name, or null when it can. */
export function secretEnvNameProblem(name: string): string | null {
  if (name.length > MAX_ENV_NAME)
    return `secret env name ${name.slice(0, 40)}… is longer than ${MAX_ENV_NAME} characters`;
  if (!ENV_NAME.test(name))
    return `secret env name "${name}" is not an environment variable name: use letters, digits and _, not starting with a digit (e.g. HF_TOKEN)`;
  if (RESERVED_ENV_NAMES.has(name) || name.startsWith("ZUMBIDO_"))
    return `secret env name "${name}" is set by the platform in every workload; choose another name`;
  return null;
}

/** A named secret: what anyone may see of it (never its value). */
export interface SecretInfo {
  name: string;
  /** "registry": a login for a private container registry. */
  type: "registry";
  /** The registry the login is for (registry secrets). */
  registry: string;
  createdAt: number;
}
