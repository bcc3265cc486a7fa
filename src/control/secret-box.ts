// Encryption at rest for tenants' secrets: AES-256-GCM (node:crypto), a random 96-bit nonce per
// value, the key's id stored beside the ciphertext so keys can rotate, and the value bound to where
// it belongs (additional authenticated data) so a ciphertext copied to another row does not open.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { DomainError } from "../domain/index.js";

/** A sealed value as stored: the id of the key that sealed it and base64(nonce | ciphertext | tag). */
export interface Sealed {
  keyId: string;
  sealed: string;
}

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const AAD_PREFIX = "zumbido-secret/v1\u0000";

/** The id of a key: a hash prefix that names the key without revealing it. */
export function keyIdOf(key: Buffer): string {
  return createHash("sha256").update("zumbido-secret-key-id\u0000").update(key).digest("hex").slice(0, 16);
}

/**
 * Parses keys written as base64 of 32 random bytes, separated by commas, spaces or new lines
 * (`#` starts a comment); the first is the active key, the rest are older keys still accepted for
 * decryption. `where` names the source in errors (never the key itself).
 */
export function parseKeys(text: string, where: string): Buffer[] {
  const words = text
    .split("\n")
    .map((l) => l.replace(/#.*/, ""))
    .join(" ")
    .split(/[\s,]+/)
    .filter(Boolean);
  if (words.length === 0)
    throw new Error(`${where} holds no key: write base64 of 32 random bytes (openssl rand -base64 32)`);
  return words.map((w, i) => {
    const k = Buffer.from(w, "base64");
    if (k.length !== KEY_BYTES || k.toString("base64").replace(/=+$/, "") !== w.replace(/=+$/, ""))
      throw new Error(
        `${where}: key ${i + 1} is not base64 of ${KEY_BYTES} bytes; make one with: openssl rand -base64 32`,
      );
    return k;
  });
}

/** Seals and opens secret values with the server's keys; the first key seals, any known key opens. */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  /** The id of the key new values are sealed with. */
  readonly activeKeyId: string;

  constructor(keys: Buffer[]) {
    if (keys.length === 0) throw new Error("a secret box needs at least one key");
    for (const k of keys) {
      if (k.length !== KEY_BYTES) throw new Error(`secret keys are ${KEY_BYTES} bytes`);
      this.keys.set(keyIdOf(k), Buffer.from(k));
    }
    this.activeKeyId = keyIdOf(keys[0]!);
  }

  /** A box with one fresh random key (tests and throwaway servers). */
  static random(): SecretBox {
    return new SecretBox([randomBytes(KEY_BYTES)]);
  }

  /** Whether a value sealed with `keyId` can be opened here. */
  knows(keyId: string): boolean {
    return this.keys.has(keyId);
  }

  /** Encrypts `plain` for the place `scope` names (e.g. `job:ID:env:NAME`). */
  seal(plain: string, scope: string): Sealed {
    const key = this.keys.get(this.activeKeyId)!;
    const nonce = randomBytes(NONCE_BYTES);
    const c = createCipheriv("aes-256-gcm", key, nonce);
    c.setAAD(Buffer.from(AAD_PREFIX + scope, "utf8"));
    const body = Buffer.concat([c.update(plain, "utf8"), c.final()]);
    return {
      keyId: this.activeKeyId,
      sealed: Buffer.concat([nonce, body, c.getAuthTag()]).toString("base64"),
    };
  }

  /** Decrypts a value sealed for `scope`; throws when the key is unknown or the value was altered or moved. */
  open(s: Sealed, scope: string): string {
    const key = this.keys.get(s.keyId);
    if (!key)
      throw new DomainError(
        "invalid-state",
        `a secret was sealed with key ${s.keyId}, which this server does not have; configure that key (ZUMBIDO_ENCRYPTION_KEY or ZUMBIDO_ENCRYPTION_KEY_FILE, as an older key after the active one)`,
        { keyId: s.keyId },
      );
    const raw = Buffer.from(s.sealed, "base64");
    if (raw.length < NONCE_BYTES + TAG_BYTES)
      throw new DomainError("invalid-state", `a sealed secret for ${scope} is truncated`);
    const d = createDecipheriv("aes-256-gcm", key, raw.subarray(0, NONCE_BYTES));
    d.setAAD(Buffer.from(AAD_PREFIX + scope, "utf8"));
    d.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    try {
      return Buffer.concat([d.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), d.final()]).toString(
        "utf8",
      );
    } catch {
      throw new DomainError(
        "invalid-state",
        `the sealed secret for ${scope} does not open: it was altered or belongs elsewhere`,
      );
    }
  }
}
