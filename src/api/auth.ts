import type { FastifyRequest } from "fastify";
import { DomainError } from "../domain/index.js";
import type { AccountsService, Principal } from "../control/index.js";

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | null;
    /** What the audit entry names as the request's target when the path has no parameters (e.g. a new secret's name). */
    auditTarget: string | null;
    /** The request's audit entry was written (before its answer was sent). */
    audited: boolean;
  }
}

/** The key in `Authorization: Bearer <key>`; 401 with the fix when missing or malformed. */
export function bearerSecret(req: FastifyRequest): string {
  const h = req.headers.authorization;
  if (!h)
    throw new DomainError(
      "unauthorized",
      "missing API key: send the header Authorization: Bearer <key> (zumbido reads ZUMBIDO_TOKEN)",
    );
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  if (!m)
    throw new DomainError("unauthorized", "malformed Authorization header: use Authorization: Bearer <key>");
  return m[1]!;
}

/** Resolves `Authorization: Bearer <key>` to a principal; 401 with the fix when missing, wrong, revoked or expired. */
export async function authenticate(accounts: AccountsService, req: FastifyRequest): Promise<Principal> {
  return accounts.authenticate(bearerSecret(req));
}

/** The request's principal (set by the auth hook on every route that is not public). */
export function who(req: FastifyRequest): Principal {
  if (!req.principal) throw new DomainError("unauthorized", "this route needs an API key");
  return req.principal;
}
