/** Request guards shared by every route: security headers and strings the stores cannot keep. */
import type { FastifyInstance } from "fastify";
import { invalid } from "../domain/index.js";

/** The console's Content-Security-Policy: only its own built assets (scripts from 'self', no inline script). */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Sets nosniff, frame-ancestors, a CSP on HTML, Referrer-Policy, and HSTS when serving TLS. */
export function securityHeaders(app: FastifyInstance, opts: { tls: boolean }): void {
  app.addHook("onSend", async (req, reply, payload) => {
    reply.header("x-content-type-options", "nosniff");
    reply.header("x-frame-options", "DENY");
    reply.header("referrer-policy", "no-referrer");
    if (opts.tls) reply.header("strict-transport-security", "max-age=31536000; includeSubDomains");
    if (!reply.hasHeader("content-security-policy")) {
      const type = String(reply.getHeader("content-type") ?? "");
      // Swagger UI (/docs) ships its own inline bootstrap: it only gets frame-ancestors.
      const docs = req.url.startsWith("/docs");
      reply.header(
        "content-security-policy",
        docs
          ? "frame-ancestors 'none'"
          : type.startsWith("text/html")
            ? CONSOLE_CSP
            : "default-src 'none'; frame-ancestors 'none'",
      );
    }
    return payload;
  });
}

// A NUL, or a UTF-16 surrogate without its pair: PostgreSQL refuses both (HTTP 500 before this guard).
// eslint-disable-next-line no-control-regex -- matching NUL is the point of this guard
const BAD = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// Any NUL or surrogate at all: a cheap first test (no lookaround), the exact one runs only on a hit.
// eslint-disable-next-line no-control-regex -- as above
const SUSPECT = /[\u0000\uD800-\uDFFF]/;
const bad = (s: string): boolean => SUSPECT.test(s) && BAD.test(s);

/**
 * The path (segments) of the first bad string under `v`, innermost first, or null. Paths are built
 * only on a hit: a usage batch walks 40,000 values per request and none of them is bad.
 */
function badAt(v: unknown, depth: number): (string | number)[] | null {
  if (typeof v === "string") return bad(v) ? [] : null;
  if (depth > 64 || v === null || typeof v !== "object") return null;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (x === null || (typeof x !== "object" && typeof x !== "string")) continue;
      const hit = badAt(x, depth + 1);
      if (hit) return (hit.push(i), hit);
    }
    return null;
  }
  for (const k in v) {
    if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
    if (bad(k)) return [" (a key)"];
    const x = (v as Record<string, unknown>)[k];
    if (x === null || (typeof x !== "object" && typeof x !== "string")) continue;
    const hit = badAt(x, depth + 1);
    if (hit) return (hit.push(`.${k}`), hit);
  }
  return null;
}

/** The path of the first string (or object key) in `v` that holds a NUL byte or a lone surrogate. */
export function findBadString(v: unknown, path: string): string | null {
  const hit = badAt(v, 0);
  if (!hit) return null;
  let out = path;
  for (let i = hit.length - 1; i >= 0; i--) {
    const seg = hit[i]!;
    out += typeof seg === "number" ? `[${seg}]` : seg;
  }
  return out;
}

/** Refuses (400, before validation and before any store write) strings with NUL bytes or lone surrogates. */
export function refuseBadStrings(app: FastifyInstance): void {
  app.addHook("preValidation", async (req) => {
    for (const [where, v] of [
      ["params", req.params],
      ["query", req.query],
      ["body", req.body],
    ] as const) {
      const at = findBadString(v, where);
      if (at)
        throw invalid(
          `${at} holds a NUL byte or an unpaired UTF-16 surrogate; send text as valid UTF-8 without \\u0000`,
          { errors: [{ path: at, message: "NUL byte or unpaired surrogate" }] },
        );
    }
  });
}
