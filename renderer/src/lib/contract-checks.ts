// What the renderer receives, checked against the contract's zod schemas: the same rules the core
// applies where messages are made (electron/core/errors.ts contractChecksEnabled), applied again
// where they arrive, whatever the transport. The one renderer module that imports the contract's
// values (lint allows it here only): the page then carries zod and the schemas, nothing else of the
// main side. On in every build: a `clips.list` of 100 clips costs ~0.2 ms to check, an event a few
// µs (measured in README.md, "The contract is checked …").
import {
  ApiError,
  describeIssues,
  ErrorKind,
  events,
  isEventName,
  methods,
  type EventName,
  type EventOf,
  type MethodName,
  type ResponseOf,
  type Result,
  type SpactApi,
} from '../../../electron/contract.js';

export type Violation = (message: string) => void;

const internal = (message: string): { ok: false; error: ApiError } => ({
  ok: false,
  error: { kind: 'internal', message },
});

/**
 * A reply as the contract allows it: an error's kind is parsed (one outside the contract is
 * `internal`), and with `checkValue` a value the contract does not allow becomes an `internal`
 * error naming the method (reported to `onViolation`), never data a screen would trust.
 */
export function checkResult<M extends MethodName>(
  method: M,
  reply: unknown,
  checkValue: boolean,
  onViolation: Violation,
): Result<ResponseOf<M>> {
  if (typeof reply !== 'object' || reply === null || typeof (reply as { ok?: unknown }).ok !== 'boolean') {
    const message = `the reply to ${method} is not a result`;
    onViolation(message);
    return internal(message);
  }
  const r = reply as { ok: boolean; value?: unknown; error?: unknown };
  if (!r.ok) {
    const parsed = ApiError.safeParse(r.error);
    if (parsed.success) return { ok: false, error: parsed.data };
    const e = (typeof r.error === 'object' && r.error !== null ? r.error : {}) as { kind?: unknown; message?: unknown };
    const kind = ErrorKind.safeParse(e.kind);
    return {
      ok: false,
      error: {
        kind: kind.success ? kind.data : 'internal',
        message: typeof e.message === 'string' ? e.message : `${method} failed`,
      },
    };
  }
  if (checkValue) {
    const checked = methods[method].response.safeParse(r.value);
    if (!checked.success) {
      const message = `the response of ${method} does not match the contract: ${describeIssues(checked.error)}`;
      onViolation(message);
      return internal(message);
    }
  }
  return { ok: true, value: r.value as ResponseOf<M> };
}

/** Null when the payload is what the contract says `event` carries, else why not (in one line). */
export function eventViolation(event: string, payload: unknown): string | null {
  if (!isEventName(event)) return `event ${event} is not in the contract`;
  const checked = events[event].safeParse(payload);
  return checked.success ? null : `event ${event} does not match the contract: ${describeIssues(checked.error)}`;
}

export interface CheckOptions {
  /** Check values and event payloads, not only the shape of results (default: true). */
  enabled?: boolean;
  /** Told about each refused message (default: console.error). */
  onViolation?: Violation;
}

/**
 * `inner` with every reply and event checked: a malformed event never reaches a listener, a
 * malformed response reaches the screen as an `internal` error.
 */
export function withContractChecks(inner: SpactApi, opts: CheckOptions = {}): SpactApi {
  const enabled = opts.enabled ?? true;
  const onViolation = opts.onViolation ?? ((m: string) => console.error(m));
  const api: SpactApi = {
    async call(method, request) {
      return checkResult(method, await inner.call(method, request), enabled, onViolation);
    },
    on<E extends EventName>(event: E, listener: (payload: EventOf<E>) => void) {
      if (!enabled) return inner.on(event, listener);
      return inner.on(event, (payload) => {
        const why = eventViolation(event, payload);
        if (why === null) listener(payload);
        else onViolation(why);
      });
    },
    mediaUrl: (kind, id) => inner.mediaUrl(kind, id),
    async importFiles(files, roomId, cameraId) {
      return checkResult('clips.import', await inner.importFiles(files, roomId, cameraId), enabled, onViolation);
    },
  };
  const pickFolder = inner.pickFolder?.bind(inner);
  if (pickFolder) api.pickFolder = pickFolder;
  return api;
}
