import type { z } from 'zod';

import { isMethodName, methods, type MethodName, type Methods, type ResponseOf, type Result } from '../contract.js';
import { SpactError, toApiError } from './errors.js';

export interface CallContext {
  transport: 'ipc' | 'bridge';
}

export type Handler<M extends MethodName> = (
  request: z.output<Methods[M]['request']>,
  ctx: CallContext,
) => ResponseOf<M> | Promise<ResponseOf<M>>;

export type Handlers = { [M in MethodName]: Handler<M> };

/**
 * Validates an inbound call against the contract, runs its handler and returns a Result.
 * Both transports go through here, so validation cannot be forgotten on one of them.
 */
export class ApiDispatcher {
  // Partial so tests can wire a few handlers; the app's handler table is complete (see services.ts).
  constructor(private readonly handlers: Partial<Handlers>) {}

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
          message: `invalid payload for ${method}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
          details: parsed.error.issues,
        },
      };
    }
    try {
      const handler = this.handlers[method] as Handler<typeof method> | undefined;
      if (!handler) return { ok: false, error: { kind: 'unavailable', message: `${method} is not available here` } };
      const value = await handler(parsed.data, ctx);
      return { ok: true, value };
    } catch (err) {
      return { ok: false, error: toApiError(err) };
    }
  }
}

export { SpactError };
