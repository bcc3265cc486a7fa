import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { DomainError, type DomainErrorCode } from "../domain/index.js";

/** RFC 9457 problem details. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: { path: string; message: string }[];
}

const STATUS: Record<DomainErrorCode, number> = {
  validation: 400,
  unauthorized: 401,
  "insufficient-funds": 402,
  forbidden: 403,
  "not-found": 404,
  conflict: 409,
  "invalid-state": 409,
};

const TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Unauthorized",
  402: "Payment required",
  403: "Forbidden",
  404: "Not found",
  405: "Method not allowed",
  409: "Conflict",
  413: "Payload too large",
  415: "Unsupported media type",
  429: "Too many requests",
  500: "Internal server error",
  503: "Service unavailable",
};

/** Builds a problem document. */
export function problem(status: number, code: string, detail: string, extra: Partial<Problem> = {}): Problem {
  return {
    type: `https://zumbido.dev/problems/${code}`,
    title: TITLES[status] ?? "Error",
    status,
    detail,
    ...extra,
  };
}

/** The one place errors become HTTP responses (application/problem+json). */
export function toProblem(err: unknown, req: FastifyRequest): Problem {
  const instance = req.url;
  if (err instanceof DomainError) {
    const status = STATUS[err.code];
    const errors = Array.isArray(err.details.errors) ? (err.details.errors as Problem["errors"]) : undefined;
    const field = typeof err.details.field === "string" ? err.details.field : undefined;
    return problem(status, err.code, err.message, {
      instance,
      ...(errors ? { errors } : field ? { errors: [{ path: field, message: err.message }] } : {}),
    });
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    const errors = err.validation.map((v) => ({
      path: `${err.validationContext ?? "body"}${v.instancePath ? v.instancePath.replace(/\//g, ".") : ""}`,
      message: v.message ?? "invalid",
    }));
    return problem(
      400,
      "validation",
      `the request is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`,
      { instance, errors },
    );
  }
  const fe = err as FastifyError;
  switch (fe.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return problem(
        400,
        "malformed-json",
        `the body is not valid JSON (${fe.message}); send a JSON object with Content-Type: application/json`,
        { instance },
      );
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return problem(
        413,
        "body-too-large",
        `the body is larger than this route accepts (${fe.message}); send smaller batches`,
        { instance },
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return problem(415, "unsupported-media-type", "send the body as application/json", { instance });
    case "FST_ERR_VALIDATION":
      return problem(400, "validation", fe.message, { instance });
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return problem(fe.statusCode, "bad-request", fe.message, { instance });
  }
  return problem(500, "internal", "something went wrong on our side; it was logged, try again", { instance });
}

/** Sends a problem. */
export async function sendProblem(reply: FastifyReply, p: Problem): Promise<void> {
  await reply.status(p.status).type("application/problem+json").send(p);
}
