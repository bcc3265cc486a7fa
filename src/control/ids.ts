import { randomBytes } from "node:crypto";

/** Makes ids like `job_7fq2k9x1`; injected so tests and the simulator are deterministic. */
export type IdGen = (prefix: string) => string;

const ALPHABET = "0123456789abcdefghijkmnpqrstvwxyz";

/** Random ids (12 characters of a 33-letter alphabet). */
export function randomIds(): IdGen {
  return (prefix) => {
    const bytes = randomBytes(12);
    let s = "";
    for (const b of bytes) s += ALPHABET[b % ALPHABET.length];
    return `${prefix}_${s}`;
  };
}

/** Sequential ids for tests: `job_1`, `job_2`, ... per prefix. */
export function sequentialIds(): IdGen {
  const n = new Map<string, number>();
  return (prefix) => {
    const v = (n.get(prefix) ?? 0) + 1;
    n.set(prefix, v);
    return `${prefix}_${v}`;
  };
}
