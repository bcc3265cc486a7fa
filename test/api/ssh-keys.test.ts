// SSH public keys on a job: checked on submit (format, type, size), stored on the job's spec, sent
// with the assignment, and written read-only into the container's /zumbido folder with its path in
// $ZUMBIDO_SSH_AUTHORIZED_KEYS.
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CONTAINER_AUTHORIZED_KEYS,
  podmanRunOptions,
  prepareContainerDirs,
} from "../../src/agent/executors/podman-args.js";
import { sshKeyProblem } from "../../src/api/schemas.js";
import { buildWorld, type World } from "../helpers/fixtures.js";
import { call, startHarness, type Harness } from "../helpers/harness.js";
import { STORES } from "../helpers/stores.js";

const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMTOUkw7Fjus1U1fz2DB5zHRdJaUwblNWEh4/jY+kjvh me@laptop";
const ECDSA =
  "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJAhsihPRAItruyR5uoYUuP0nO4GfT07hrAD6ZFRu0ifZLNBlT/fthDmdbYdhjaJrZDV+9AXE59z8MVmyZHsLXs=";
const RSA_1024 =
  "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDZ/Pz0bTXWk8sRUzksItEJ4XfvjC/0bpGpCorq/hMcTesC+Z4kzLsQ4xry/ZbsBirk0Q5bilWUZMiL2axv0+s9TzPE7bpRRh396+RNJJJ4hPZRM0pbq1gbD016+/9uQtO4ynFqOTR7GsbPuR/+G0FKfbXVzdvU41JAlj8/jnCdyw==";

describe("SSH keys on a job", () => {
  let h: Harness;
  let w: World;
  beforeAll(async () => {
    h = await startHarness(STORES[0]!);
    w = await buildWorld(h.app, h.adminKey);
  });
  afterAll(async () => h?.close());

  const submit = (sshKeys: unknown) =>
    call(h.app, w.tenantKey, "POST", "/v1/jobs", {
      gpus: 1,
      gpuModels: ["H100"],
      command: ["sleep", "1"],
      sshKeys,
    });

  it("stores ed25519 and ecdsa keys on the job's spec", async () => {
    const r = await submit([ED25519, ` ${ECDSA}\n`]);
    expect(r.status).toBe(201);
    expect(r.json.spec.sshAuthorizedKeys).toEqual([ED25519, ECDSA]);
  });

  it("refuses what is not a public key, saying what to give instead, and stores nothing", async () => {
    const before = (await call(h.app, w.tenantKey, "GET", "/v1/jobs")).json.length;
    const cases: [unknown, RegExp][] = [
      [["hello"], /not an SSH public key.*\.pub file/],
      [["ssh-dss AAAAB3NzaC1kc3MAAACBAP"], /ssh-dss.*not accepted/],
      [[ED25519.replace("ssh-ed25519", "ssh-rsa")], /does not encode a ssh-rsa key/],
      [[RSA_1024], /shorter than 2048 bits/],
      [[`${ED25519}\ncommand="rm -rf /" ${ED25519}`], /not an SSH public key/],
      [["x".repeat(9000)], /at most 8192/],
      [Array(17).fill(ED25519), /at most 16 SSH public keys/],
    ];
    for (const [keys, why] of cases) {
      const r = await submit(keys);
      expect(r.status, JSON.stringify(keys).slice(0, 60)).toBe(400);
      expect(JSON.stringify(r.json)).toMatch(why);
    }
    expect((await call(h.app, w.tenantKey, "GET", "/v1/jobs")).json.length).toBe(before);
    expect(sshKeyProblem(ED25519)).toBeUndefined();
  });

  it("writes authorized_keys into the container's read-only /zumbido folder and names it in the environment", () => {
    const lease = mkdtempSync(join(tmpdir(), "zumbido-ssh-keys-"));
    const dirs = prepareContainerDirs(lease, { userns: "auto" }, undefined, [], [ED25519, ECDSA]);
    const file = join(dirs.notice, "authorized_keys");
    expect(readFileSync(file, "utf8")).toBe(`${ED25519}\n${ECDSA}\n`);
    expect((statSync(file).mode & 0o777).toString(8)).toBe("644");
    const spec = { command: ["sshd"], sshAuthorizedKeys: [ED25519] };
    const args = podmanRunOptions(
      { leaseId: "l", jobId: "j", gpuModel: "H100", spec, checkpointDir: undefined },
      1,
      { container: "c", agentId: "a", leaseDir: lease, ...dirs },
      { hostMemoryBytes: 2 ** 34, hostCpus: 8 },
    );
    expect(args).toContain(`ZUMBIDO_SSH_AUTHORIZED_KEYS=${CONTAINER_AUTHORIZED_KEYS}`);
    expect(args).toContain(`${dirs.notice}:/zumbido:ro`);
  });
});
