import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";

/** The CDI device kind of NVIDIA GPUs (`nvidia-ctk cdi generate`). */
export const NVIDIA_GPU_KIND = "nvidia.com/gpu";

/** Where CDI specs live, in the order the CDI library reads them (later wins). */
export const DEFAULT_CDI_DIRS = ["/etc/cdi", "/run/cdi"];

/** GPU device names the node's CDI specs declare, and the spec files they came from. */
export interface CdiGpus {
  /** Device names of kind nvidia.com/gpu, e.g. "0", "1", "GPU-6f1c...", "all". */
  names: string[];
  files: string[];
  /** Files that could not be read or parsed, with why. */
  problems: string[];
}

/** Reads the CDI specs (YAML or JSON) in dirs and lists the nvidia.com/gpu device names. */
export function readCdiGpus(dirs: readonly string[] = DEFAULT_CDI_DIRS): CdiGpus {
  const out: CdiGpus = { names: [], files: [], problems: [] };
  for (const dir of dirs) {
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch {
      continue; // no such folder: no specs there
    }
    for (const f of entries) {
      if (!/\.(ya?ml|json)$/.test(f)) continue;
      const file = join(dir, f);
      let doc: unknown;
      try {
        doc = parseYaml(readFileSync(file, "utf8")); // JSON is YAML
      } catch (e) {
        out.problems.push(`${file}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
        continue;
      }
      const spec = doc as { kind?: unknown; devices?: unknown } | null;
      if (!spec || spec.kind !== NVIDIA_GPU_KIND || !Array.isArray(spec.devices)) continue;
      out.files.push(file);
      for (const d of spec.devices as { name?: unknown }[]) {
        const name = typeof d?.name === "string" ? d.name : typeof d?.name === "number" ? String(d.name) : "";
        if (name && !out.names.includes(name)) out.names.push(name);
      }
    }
  }
  return out;
}

/**
 * The CDI device name of each leased GPU: the index name ("3") when the spec has it, else the GPU's
 * UUID. Returns the names, or a problem in words that tells the operator what to fix.
 */
export function cdiNamesFor(
  indices: readonly number[],
  cdi: CdiGpus,
  uuids: Readonly<Record<number, string>> = {},
): { names: string[] } | { problem: string } {
  const names: string[] = [];
  for (const i of indices) {
    const uuid = uuids[i];
    const name = cdi.names.includes(String(i))
      ? String(i)
      : uuid && cdi.names.includes(uuid)
        ? uuid
        : undefined;
    if (!name) {
      const where = cdi.files.length ? cdi.files.join(", ") : "no CDI spec in /etc/cdi or /run/cdi";
      return {
        problem: `GPU ${i} has no ${NVIDIA_GPU_KIND} device in the node's CDI spec (${where}); run \`nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml\` on the node`,
      };
    }
    names.push(name);
  }
  return { names };
}
