// The one boundary between the process that serves the window (Electron's main process, or the
// browser-mode HTTP server) and the process that hosts the core services. Both sides speak these
// messages; the transports (IPC handlers, HTTP routes) only ever see a CoreHandle.
import type { ApiError, EventName, MediaKind, Result, Role } from '../../contract.js';
import type { CallContext } from '../api-dispatcher.js';
import type { EventHub } from '../event-hub.js';

/** What a transport needs from the core, wherever the core runs. */
export interface CoreHandle {
  /** The data folder (uploads are streamed into it before the core imports them). */
  readonly dataDir: string;
  readonly events: EventHub;
  dispatch(method: string, payload: unknown, ctx: CallContext): Promise<Result<unknown>>;
  /** The file behind a media URL, after the role check; throws a SpactError-like error. */
  resolveMedia(kind: MediaKind, id: number): Promise<{ file: string; contentType: string }>;
  importUpload(
    tmpFile: string,
    originalName: string,
    roomId: number | null,
    cameraId?: number | null,
  ): Promise<unknown>;
  /** Whether the current role may upload, asked before an upload's body is read. */
  uploadAllowed(): Promise<boolean>;
  close(): Promise<void>;
}

export interface CoreHostOptions {
  dataDir?: string;
  role?: Role;
}

export type HostRequest =
  | { type: 'call'; id: number; method: string; payload: unknown; ctx: CallContext }
  | { type: 'media'; id: number; kind: MediaKind; mediaId: number }
  | { type: 'upload'; id: number; tmpFile: string; name: string; roomId: number | null; cameraId?: number | null }
  | { type: 'upload-allowed'; id: number }
  | { type: 'close'; id: number };

export type HostMessage =
  | { type: 'ready'; dataDir: string; pid: number }
  /** Every HEARTBEAT_MS while the host's thread turns: a host silent for long is frozen. */
  | { type: 'alive' }
  | { type: 'fatal'; error: ApiError }
  | { type: 'reply'; id: number; result: Result<unknown> }
  | { type: 'event'; event: EventName; payload: unknown };

export const HEARTBEAT_MS = 1000;

/** One end of the channel to the host process: Node's fork() and Electron's utilityProcess both fit. */
export interface HostChannel {
  send(message: HostRequest): void;
  onMessage(listener: (message: HostMessage) => void): void;
  /** Called once when the host process has ended, for whatever reason. */
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  kill(): void;
}

/** Starts a host process with these options and returns its channel. */
export type HostLauncher = (options: CoreHostOptions) => HostChannel;
