import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { keyIdOf, parseKeys, SecretBox } from "./secret-box.js";
import { loadSecretBox } from "./secret-keys.js";

describe("SecretBox", () => {
  const box = SecretBox.random();

  it("seals with a fresh nonce each time and opens only for the same scope", () => {
    const a = box.seal("hf_token_value", "job:j1:env:HF_TOKEN");
    const b = box.seal("hf_token_value", "job:j1:env:HF_TOKEN");
    expect(a.sealed).not.toBe(b.sealed);
    expect(a.keyId).toBe(box.activeKeyId);
    expect(Buffer.from(a.sealed, "base64").toString("latin1")).not.toContain("hf_token_value");
    expect(box.open(a, "job:j1:env:HF_TOKEN")).toBe("hf_token_value");
    // A ciphertext copied to another job or tenant does not open there.
    expect(() => box.open(a, "job:j2:env:HF_TOKEN")).toThrow(/altered or belongs elsewhere/);
  });

  it("refuses an altered value and names an unknown key id", () => {
    const s = box.seal("x", "t");
    const raw = Buffer.from(s.sealed, "base64");
    raw[13] = raw[13]! ^ 1;
    expect(() => box.open({ ...s, sealed: raw.toString("base64") }, "t")).toThrow(/altered/);
    expect(() => box.open({ ...s, keyId: "0123456789abcdef" }, "t")).toThrow(/key 0123456789abcdef/);
  });

  it("opens values of older keys listed after the active one", () => {
    const [k1, k2] = [randomBytes(32), randomBytes(32)];
    const old = new SecretBox([k1]).seal("v", "s");
    const rotated = new SecretBox([k2, k1]);
    expect(rotated.activeKeyId).toBe(keyIdOf(k2));
    expect(rotated.open(old, "s")).toBe("v");
  });

  it("parses keys from text and says how to make one when malformed, never echoing it", () => {
    const k = randomBytes(32).toString("base64");
    expect(parseKeys(`# active\n${k}\n`, "f")).toHaveLength(1);
    expect(() => parseKeys("c2hvcnQ=", "ZUMBIDO_ENCRYPTION_KEY")).toThrow(/openssl rand -base64 32/);
    expect(() => parseKeys("c2hvcnQ=", "ZUMBIDO_ENCRYPTION_KEY")).not.toThrow(/c2hvcnQ/);
    expect(() => parseKeys("# nothing\n", "f")).toThrow(/holds no key/);
  });
});

describe("loadSecretBox", () => {
  const dir = mkdtempSync(join(tmpdir(), "zumbido-keys-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("generates a 0600 key file in the data folder once, then reuses it", () => {
    const first = loadSecretBox({ dataDir: dir });
    expect(first.generated).toBe(true);
    expect(first.note).toContain(join(dir, "encryption.key"));
    expect(statSync(join(dir, "encryption.key")).mode & 0o777).toBe(0o600);
    const key = readFileSync(join(dir, "encryption.key"), "utf8").trim();
    expect(first.note).not.toContain(key);
    const second = loadSecretBox({ dataDir: dir });
    expect(second.generated).toBe(false);
    expect(second.box.activeKeyId).toBe(first.box.activeKeyId);
  });

  it("takes ZUMBIDO_ENCRYPTION_KEY or a named key file, and says how to create a missing one", () => {
    const k = randomBytes(32);
    expect(loadSecretBox({ key: k.toString("base64"), dataDir: dir }).box.activeKeyId).toBe(keyIdOf(k));
    const f = join(dir, "named.key");
    writeFileSync(f, k.toString("base64"), { mode: 0o644 });
    expect(loadSecretBox({ keyFile: f, dataDir: dir }).box.activeKeyId).toBe(keyIdOf(k));
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(() => loadSecretBox({ keyFile: join(dir, "missing.key"), dataDir: dir })).toThrow(/openssl rand/);
  });
});
