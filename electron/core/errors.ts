import { ErrorKind, type ApiError } from '../contract.js';

/** An error meant for the user: it carries a `kind` so it can cross process boundaries as data. */
export class SpactError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'SpactError';
  }
}

/** The contract's kind of an error's `kind`, parsed: anything outside ErrorKind (a native error's
 *  own word, a typo) is `internal`, so every transport can map it (e.g. to an HTTP status). */
const kindOf = (kind: unknown): ErrorKind => {
  const parsed = ErrorKind.safeParse(kind);
  return parsed.success ? parsed.data : 'internal';
};

/** Converts anything thrown into the contract's error shape. Unexpected errors become `internal`. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof SpactError) {
    const kind = kindOf(err.kind);
    return err.details === undefined
      ? { kind, message: err.message }
      : { kind, message: err.message, details: err.details };
  }
  if (err instanceof Error && 'kind' in err) return { kind: kindOf(err.kind), message: err.message };
  return { kind: 'internal', message: err instanceof Error ? err.message : String(err) };
}

/**
 * Whether responses and events are checked against the contract where they are made (the
 * dispatcher, the event hub): in development and tests (NODE_ENV is not 'production'; vitest sets
 * 'test'), or when SPACT_VALIDATE_CONTRACT=1. Requests are always validated.
 */
export function contractChecksEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NODE_ENV !== 'production' || env.SPACT_VALIDATE_CONTRACT === '1';
}

/** A zod failure in one line (the contract's, shared with the renderer's checks). */
export { describeIssues } from '../contract.js';
