import type { FastifyRequest } from "fastify";
import { DomainError } from "../domain/index.js";
import type { Principal } from "../control/index.js";
import type { Store } from "../store/index.js";

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** Resolves `Authorization: Bearer <key>` to a principal; 401 with the fix when missing, wrong, revoked or expired. */
export async function authenticate(store: Store, req: FastifyRequest, now: number): Promise<Principal> {
  const h = req.headers.authorization;
  if (!h)
    throw new DomainError(
      "unauthorized",
      "missing API key: send the header Authorization: Bearer <key> (zumbido reads ZUMBIDO_TOKEN)",
    );
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  if (!m)
    throw new DomainError("unauthorized", "malformed Authorization header: use Authorization: Bearer <key>");
  const key = await store.accounts.findKeyBySecret(m[1]!);
  if (!key)
    throw new DomainError(
      "unauthorized",
      "unknown API key: check ZUMBIDO_TOKEN, or ask an admin for a new key",
    );
  if (key.revokedAt !== null)
    throw new DomainError("unauthorized", "this API key was revoked; ask for a new one");
  if (key.expiresAt !== null && key.expiresAt <= now)
    throw new DomainError("unauthorized", "this API key has expired; ask for a new one");
  return { role: key.role, ownerId: key.ownerId, keyId: key.id };
}

/** The request's principal (set by the auth hook on every /v1 route but enrolment). */
export function who(req: FastifyRequest): Principal {
  if (!req.principal) throw new DomainError("unauthorized", "this route needs an API key");
  return req.principal;
}
