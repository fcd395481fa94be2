// The one contract between the renderer and the main side. Every request, response and event is
// declared here with a zod schema; TypeScript types are derived from the schemas. Both transports
// (Electron IPC and the loopback bridge of browser mode) validate inbound payloads against it.
// The renderer imports only types from this file (enforced by lint).
import { z } from 'zod';

/** Errors cross process boundaries as data, never as thrown exceptions. */
export const ErrorKind = z.enum([
  'validation', // payload does not match the contract
  'unknown-method',
  'unauthorized', // missing/bad token (bridge) or foreign sender (IPC)
  'forbidden', // role does not allow this call
  'not-found',
  'conflict',
  'bad-input', // e.g. corrupt video, wrong format
  'unavailable', // e.g. native engine missing
  'cancelled',
  'internal',
]);
export type ErrorKind = z.infer<typeof ErrorKind>;

export const ApiError = z.object({
  kind: ErrorKind,
  message: z.string(),
  /** Optional structured detail, e.g. zod issues for validation errors. */
  details: z.unknown().optional(),
});
export type ApiError = z.infer<typeof ApiError>;

export type Result<T> = { ok: true; value: T } | { ok: false; error: ApiError };

const Empty = z.object({}).strict();

export const AppInfo = z.object({
  name: z.string(),
  version: z.string(),
  transport: z.enum(['ipc', 'bridge']),
  node: z.string(),
  platform: z.string(),
  engine: z.union([
    z.object({
      available: z.literal(true),
      torchVersion: z.string(),
      cudaAvailable: z.boolean(),
      cudaDevices: z.number().int(),
      threads: z.number().int(),
    }),
    z.object({ available: z.literal(false), reason: z.string() }),
  ]),
});
export type AppInfo = z.infer<typeof AppInfo>;

/** Every call the renderer can make: channel name → request and response schemas. */
export const methods = {
  'app.info': { request: Empty, response: AppInfo },
} as const;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
export type RequestOf<M extends MethodName> = z.input<Methods[M]['request']>;
export type ResponseOf<M extends MethodName> = z.output<Methods[M]['response']>;

/** Events pushed from the main side to the renderer. */
export const events = {
  'app.heartbeat': z.object({ at: z.number() }),
} as const;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventOf<E extends EventName> = z.output<Events[E]>;

export { IPC_EVENT_CHANNEL, IPC_INVOKE_CHANNEL } from './ipc-channels.js';

export function isMethodName(name: string): name is MethodName {
  return Object.hasOwn(methods, name);
}

export function isEventName(name: string): name is EventName {
  return Object.hasOwn(events, name);
}

/** The API as the renderer sees it, whatever the transport (IPC in Electron, HTTP+WS in a browser). */
export interface SpactApi {
  call<M extends MethodName>(method: M, request: RequestOf<M>): Promise<Result<ResponseOf<M>>>;
  on<E extends EventName>(event: E, listener: (payload: EventOf<E>) => void): () => void;
}
