/** Codes of domain errors; one mapper in the API turns them into HTTP problems. */
export type DomainErrorCode =
  | "validation"
  | "not-found"
  | "forbidden"
  | "unauthorized"
  | "conflict"
  | "insufficient-funds"
  | "invalid-state";

/** An error with a code and a message that tells the user what to fix. */
export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "DomainError";
  }
}

/** Shorthands. */
export const notFound = (what: string, id: string): DomainError =>
  new DomainError("not-found", `${what} ${id} does not exist or is not visible to you`, { what, id });
export const forbidden = (message: string): DomainError => new DomainError("forbidden", message);
export const invalid = (message: string, details: Record<string, unknown> = {}): DomainError =>
  new DomainError("validation", message, details);
export const conflict = (message: string, details: Record<string, unknown> = {}): DomainError =>
  new DomainError("conflict", message, details);
