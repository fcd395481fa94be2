import type { z } from 'zod';

import { isMethodName, methods, type MethodName, type Methods, type ResponseOf, type Result } from '../contract.js';
import { contractChecksEnabled, describeIssues, SpactError, toApiError } from './errors.js';

export interface CallContext {
  transport: 'ipc' | 'bridge';
}

export type Handler<M extends MethodName> = (
  request: z.output<Methods[M]['request']>,
  ctx: CallContext,
) => ResponseOf<M> | Promise<ResponseOf<M>>;

export type Handlers = { [M in MethodName]: Handler<M> };

export interface DispatcherOptions {
  /** Check each response against the contract (default: contractChecksEnabled()). */
  validateResponses?: boolean;
  /** Told about a response refused by that check (default: console.error). */
  onViolation?: (message: string) => void;
}

/**
 * Validates an inbound call against the contract, runs its handler and returns a Result.
 * Both transports go through here, so validation cannot be forgotten on one of them. With checks
 * on (development, tests), a response the contract does not allow is an `internal` error naming
 * the method and what is wrong, never a value the renderer would have to guess about.
 */
export class ApiDispatcher {
  private readonly validateResponses: boolean;
  private readonly onViolation: (message: string) => void;

  // Partial so tests can wire a few handlers; the app's handler table is complete (see services.ts).
  constructor(
    private readonly handlers: Partial<Handlers>,
    opts: DispatcherOptions = {},
  ) {
    this.validateResponses = opts.validateResponses ?? contractChecksEnabled();
    this.onViolation = opts.onViolation ?? ((m) => console.error(m));
  }

  async dispatch(method: string, payload: unknown, ctx: CallContext): Promise<Result<unknown>> {
    if (!isMethodName(method)) {
      return { ok: false, error: { kind: 'unknown-method', message: `unknown method "${method}"` } };
    }
    const parsed = methods[method].request.safeParse(payload ?? {});
    if (!parsed.success) {
      return {
        ok: false,
        error: {
          kind: 'validation',
          message: `invalid payload for ${method}: ${describeIssues(parsed.error)}`,
          details: parsed.error.issues,
        },
      };
    }
    let value: unknown;
    try {
      const handler = this.handlers[method] as Handler<typeof method> | undefined;
      if (!handler) return { ok: false, error: { kind: 'unavailable', message: `${method} is not available here` } };
      value = await handler(parsed.data, ctx);
    } catch (err) {
      return { ok: false, error: toApiError(err) };
    }
    if (this.validateResponses) {
      const checked = methods[method].response.safeParse(value);
      if (!checked.success) {
        const message = `the response of ${method} does not match the contract: ${describeIssues(checked.error)}`;
        this.onViolation(message);
        return { ok: false, error: { kind: 'internal', message, details: checked.error.issues } };
      }
    }
    // The handler's value as it is (not the parsed copy): checking never changes what is sent.
    return { ok: true, value };
  }
}

export { SpactError };
