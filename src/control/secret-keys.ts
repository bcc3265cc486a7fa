// Where the server's secret keys come from: ZUMBIDO_ENCRYPTION_KEY, a key file, or (development and the
// embedded demo) a key file generated in the data folder with 0600 permissions.
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { parseKeys, SecretBox } from "./secret-box.js";

/** How the server finds its secret keys (parsed config; no key is ever logged). */
export interface SecretKeyConfig {
  /** Base64 keys, active first (ZUMBIDO_ENCRYPTION_KEY). */
  key?: string | undefined;
  /** A file of base64 keys, active first (ZUMBIDO_ENCRYPTION_KEY_FILE). */
  keyFile?: string | undefined;
  /** The data folder, where a development key file is generated when neither is given. */
  dataDir: string;
}

/** The box and a line for the log saying where its keys came from (never the keys). */
export interface LoadedSecretBox {
  box: SecretBox;
  note: string;
  /** True when this start generated the key file. */
  generated: boolean;
}

/** Loads the server's secret keys, generating a development key file when none is configured. */
export function loadSecretBox(c: SecretKeyConfig): LoadedSecretBox {
  if (c.key !== undefined && c.keyFile !== undefined)
    throw new Error("give ZUMBIDO_ENCRYPTION_KEY or ZUMBIDO_ENCRYPTION_KEY_FILE, not both");
  if (c.key !== undefined) {
    const box = new SecretBox(parseKeys(c.key, "ZUMBIDO_ENCRYPTION_KEY"));
    return {
      box,
      note: `encryption keys for tenants' secrets from ZUMBIDO_ENCRYPTION_KEY (active key id ${box.activeKeyId})`,
      generated: false,
    };
  }
  const file = c.keyFile ?? join(c.dataDir, "encryption.key");
  let generated = false;
  if (!existsSync(file)) {
    if (c.keyFile !== undefined)
      throw new Error(
        `ZUMBIDO_ENCRYPTION_KEY_FILE ${file} does not exist; create it with: (umask 077; openssl rand -base64 32 > ${file})`,
      );
    mkdirSync(c.dataDir, { recursive: true });
    try {
      writeFileSync(file, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
      generated = true;
    } catch (err) {
      // Another server on the same data folder made it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  // Group- or world-readable keys are made private (the server owns its key file).
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  const box = new SecretBox(parseKeys(readFileSync(file, "utf8"), file));
  const note = generated
    ? `generated an encryption key file ${file} (0600) for tenants' secrets; keep it (backed up apart from the database); several replicas or a disposable data folder need one key given to all: ZUMBIDO_ENCRYPTION_KEY or ZUMBIDO_ENCRYPTION_KEY_FILE`
    : `encryption keys for tenants' secrets from ${file} (active key id ${box.activeKeyId})`;
  return { box, note, generated };
}
