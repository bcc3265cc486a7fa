import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

/** Where the tests find Slurm: SLURM_CONF, else the folder scripts/ci/setup-slurm.sh uses. */
export function slurmConfPath(): string | undefined {
  if (process.env.SLURM_CONF) return process.env.SLURM_CONF;
  const dflt = `${process.env.ZUMBIDO_SLURM_DIR ?? "/tmp/zumbido-slurm"}/etc/slurm.conf`;
  return existsSync(dflt) ? dflt : undefined;
}

/** Why Slurm cannot be used here, or undefined when `sinfo` answers with a usable node. */
export function slurmUnavailable(conf: string | undefined): string | undefined {
  const env = { ...process.env, ...(conf ? { SLURM_CONF: conf } : {}) };
  const r = spawnSync("sinfo", ["-h", "-o", "%T %G"], { env, timeout: 5_000, encoding: "utf8" });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === "ETIMEDOUT")
    return `sinfo did not answer within 5 s (SLURM_CONF=${conf ?? "unset"}; controller down?); run scripts/ci/setup-slurm.sh as root`;
  if (r.error)
    return `sinfo cannot run (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}); run scripts/ci/setup-slurm.sh as root`;
  if (r.status !== 0)
    return `sinfo failed: ${(r.stderr || "").trim() || `exit ${r.status}`}; run scripts/ci/setup-slurm.sh`;
  const out = r.stdout.trim();
  if (!/(idle|mixed|allocated)/.test(out)) return `no usable Slurm node (sinfo: "${out}")`;
  if (!/gpu:h100:/.test(out))
    return `the Slurm node has no gpu:h100 GRES (sinfo: "${out}"); use scripts/ci/setup-slurm.sh`;
  return undefined;
}

/** The two-node Slurm of scripts/ci/setup-slurm-multinode.sh: its SLURM_CONF, or why it cannot be used. */
export function multiNodeSlurm(): { conf: string; why?: string } {
  const conf = `${process.env.ZUMBIDO_SLURM_MN_DIR ?? "/tmp/zumbido-slurm-mn"}/etc/slurm.conf`;
  if (!existsSync(conf))
    return {
      conf,
      why: `no two-node Slurm (${conf} missing); run scripts/ci/setup-slurm-multinode.sh as root`,
    };
  const why = slurmUnavailable(conf);
  if (why) return { conf, why: `${why} (two-node Slurm: scripts/ci/setup-slurm-multinode.sh)` };
  const r = spawnSync("sinfo", ["-h", "-N", "-o", "%N %T"], {
    env: { ...process.env, SLURM_CONF: conf },
    timeout: 5_000,
    encoding: "utf8",
  });
  const ready = (r.stdout ?? "").split("\n").filter((l) => /\b(idle|mixed|allocated)\b/.test(l)).length;
  return ready >= 2
    ? { conf }
    : { conf, why: `the two-node Slurm has ${ready} usable nodes; run scripts/ci/setup-slurm-multinode.sh` };
}
