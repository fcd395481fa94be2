// The shell's side of the core host: forwards contract calls, media lookups and uploads to the
// host process and re-emits its events. A host that dies is restarted (its jobs are reconciled
// at start-up like after any crash); calls in flight fail with `unavailable` instead of hanging.
import { fork } from 'node:child_process';
import path from 'node:path';

import type { MediaKind, Result } from '../../contract.js';
import type { CallContext } from '../api-dispatcher.js';
import { SpactError } from '../errors.js';
import { EventHub } from '../event-hub.js';
import { projectRoot } from '../paths.js';
import {
  HEARTBEAT_MS,
  type CoreHandle,
  type CoreHostOptions,
  type HostChannel,
  type HostLauncher,
  type HostMessage,
  type HostRequest,
} from './core-host-protocol.js';

type Pending = (result: Result<unknown>) => void;
type RequestBody = HostRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** More restarts than this within RESTART_WINDOW_MS and the host stays down. */
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 60_000;
const CLOSE_TIMEOUT_MS = 15_000;
/** A host that has not said it is alive for this long is frozen (a deadlock, a runaway loop):
 *  it is killed and restarted rather than leaving every call waiting for ever. */
export const FROZEN_AFTER_MS = 60_000;

export function hostEntry(): string {
  return path.join(projectRoot(), 'dist', 'node', 'electron', 'core', 'host', 'core-host-main.js');
}

/** Browser mode and tests: the host is a Node child process with structured-clone messages. */
export function forkHostLauncher(entry = hostEntry()): HostLauncher {
  return (options) => {
    const child = fork(entry, ['--options', JSON.stringify(options)], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // SPACT_HOST_NODE_ARGS: Node flags for the host alone (e.g. --cpu-prof when hunting a stall).
      execArgv: (process.env.SPACT_HOST_NODE_ARGS ?? '').split(' ').filter(Boolean),
    });
    return {
      send: (m) => {
        // A host that died a moment ago: the write fails with EPIPE (given to the callback, not
        // thrown); its exit handler fails the calls in flight.
        if (child.connected) child.send(m, () => undefined);
      },
      onMessage: (l) => child.on('message', (m) => l(m as HostMessage)),
      onExit: (l) => child.once('exit', (code, signal) => l(code, signal)),
      kill: () => child.kill('SIGKILL'),
    };
  };
}

export class CoreClient implements CoreHandle {
  readonly events = new EventHub();
  private channel: HostChannel | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private info: { dataDir: string; pid: number } | null = null;
  private ready: Promise<void> = Promise.resolve();
  private restarts: number[] = [];
  private downReason: string | null = null;
  private closed = false;
  private lastHeard = Date.now();
  private killedFrozen = false;
  private watchdog: NodeJS.Timeout | null = null;

  private constructor(
    private readonly launcher: HostLauncher,
    private readonly options: CoreHostOptions,
    private readonly onRestart?: (reason: string) => void,
    private readonly frozenAfterMs = FROZEN_AFTER_MS,
  ) {}

  /** Starts the host and resolves once it answers; rejects with the host's own error if it cannot open. */
  static async start(
    launcher: HostLauncher,
    options: CoreHostOptions = {},
    onRestart?: (reason: string) => void,
    frozenAfterMs = FROZEN_AFTER_MS,
  ): Promise<CoreClient> {
    const client = new CoreClient(launcher, options, onRestart, frozenAfterMs);
    await client.launch();
    client.watchdog = setInterval(
      () => {
        if (client.channel && client.info && Date.now() - client.lastHeard > client.frozenAfterMs) {
          client.lastHeard = Date.now();
          client.killedFrozen = true;
          client.channel.kill(); // its exit restarts it
        }
      },
      Math.min(HEARTBEAT_MS * 5, frozenAfterMs / 2),
    );
    client.watchdog.unref();
    return client;
  }

  get dataDir(): string {
    if (!this.info) throw new SpactError('unavailable', 'the core is not running');
    return this.info.dataDir;
  }

  /** The host's process id (tests, the ops log). */
  get hostPid(): number | null {
    return this.info?.pid ?? null;
  }

  dispatch(method: string, payload: unknown, ctx: CallContext): Promise<Result<unknown>> {
    return this.request({ type: 'call', method, payload, ctx });
  }

  async resolveMedia(kind: MediaKind, id: number): Promise<{ file: string; contentType: string }> {
    return unwrap(await this.request({ type: 'media', kind, mediaId: id })) as { file: string; contentType: string };
  }

  async importUpload(tmpFile: string, name: string, roomId: number | null, cameraId?: number | null): Promise<unknown> {
    return unwrap(await this.request({ type: 'upload', tmpFile, name, roomId, cameraId: cameraId ?? null }));
  }

  async uploadAllowed(): Promise<boolean> {
    const r = await this.request({ type: 'upload-allowed' });
    return r.ok && r.value === true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    const channel = this.channel;
    if (!channel) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        channel.kill();
        resolve();
      }, CLOSE_TIMEOUT_MS);
      channel.onExit(() => {
        clearTimeout(timer);
        resolve();
      });
      channel.send({ type: 'close', id: 0 });
    });
  }

  private launch(): Promise<void> {
    const channel = this.launcher(this.options);
    this.channel = channel;
    this.ready = new Promise<void>((resolve, reject) => {
      let started = false;
      channel.onMessage((m) => {
        this.lastHeard = Date.now();
        if (m.type === 'ready') {
          started = true;
          this.info = { dataDir: m.dataDir, pid: m.pid };
          resolve();
        } else if (m.type === 'fatal') {
          reject(new SpactError(m.error.kind, m.error.message, m.error.details));
        } else if (m.type === 'reply') {
          const settle = this.pending.get(m.id);
          this.pending.delete(m.id);
          settle?.(m.result);
        } else if (m.type === 'event') {
          (this.events.emit as (e: string, p: unknown) => void)(m.event, m.payload);
        }
      });
      channel.onExit((code, signal) => {
        if (this.channel !== channel) return;
        this.channel = null;
        const frozen = this.killedFrozen;
        this.killedFrozen = false;
        const reason = frozen
          ? `the core process stopped answering for ${Math.round(this.frozenAfterMs / 1000)} s and was stopped`
          : `the core process stopped (${signal ?? `exit code ${code}`})`;
        if (!started) reject(new SpactError('unavailable', reason));
        this.failPending(reason);
        if (started && !this.closed) this.restart(reason);
      });
    });
    return this.ready;
  }

  private restart(reason: string): void {
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (this.restarts.length >= MAX_RESTARTS) {
      this.downReason = `${reason}; it stopped ${MAX_RESTARTS + 1} times within a minute and was not restarted`;
      this.ready = Promise.reject(new SpactError('unavailable', this.downReason));
      this.ready.catch(() => undefined);
      return;
    }
    this.restarts.push(now);
    this.onRestart?.(reason);
    this.launch().catch((err: unknown) => {
      this.downReason = `${reason}; restarting it failed: ${err instanceof Error ? err.message : String(err)}`;
    });
  }

  private failPending(reason: string): void {
    const error = { kind: 'unavailable' as const, message: `${reason} before it answered; please try again` };
    for (const settle of this.pending.values()) settle({ ok: false, error });
    this.pending.clear();
  }

  private async request(body: RequestBody): Promise<Result<unknown>> {
    if (this.closed) return { ok: false, error: { kind: 'unavailable', message: 'the core is closed' } };
    try {
      await this.ready;
    } catch (err) {
      return { ok: false, error: { kind: 'unavailable', message: err instanceof Error ? err.message : String(err) } };
    }
    const channel = this.channel;
    if (!channel) {
      return { ok: false, error: { kind: 'unavailable', message: this.downReason ?? 'the core is restarting' } };
    }
    const id = this.nextId++;
    return new Promise<Result<unknown>>((resolve) => {
      this.pending.set(id, resolve);
      channel.send({ ...body, id } as HostRequest);
    });
  }
}

function unwrap(result: Result<unknown>): unknown {
  if (result.ok) return result.value;
  throw new SpactError(result.error.kind, result.error.message, result.error.details);
}
