import type { ApiError, ErrorKind } from '../contract.js';

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

/** Converts anything thrown into the contract's error shape. Unexpected errors become `internal`. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof SpactError) {
    return err.details === undefined
      ? { kind: err.kind, message: err.message }
      : { kind: err.kind, message: err.message, details: err.details };
  }
  if (err && typeof err === 'object' && 'kind' in err && typeof err.kind === 'string' && err instanceof Error) {
    const kind = err.kind as ErrorKind;
    return { kind, message: err.message };
  }
  return { kind: 'internal', message: err instanceof Error ? err.message : String(err) };
}
