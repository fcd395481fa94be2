// The core host process: opens the core services and answers the shell's messages. Started by
// Electron as a utilityProcess (messages through process.parentPort) and by browser mode with
// Node's fork() (messages through process.send), so the thread that serves the window never runs
// a database query, a file hash or a child process of its own.
import { createCoreServices, type CoreServices } from '../services.js';
import { SpactError, toApiError } from '../errors.js';
import { HEARTBEAT_MS, type CoreHostOptions, type HostMessage, type HostRequest } from './core-host-protocol.js';

interface ParentPort {
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;

function post(message: HostMessage): void {
  if (parentPort) parentPort.postMessage(message);
  else process.send?.(message);
}

function onRequest(listener: (r: HostRequest) => void): void {
  if (parentPort) parentPort.on('message', (e) => listener(e.data as HostRequest));
  else process.on('message', (m) => listener(m as HostRequest));
}

function readOptions(): CoreHostOptions {
  const i = process.argv.indexOf('--options');
  const raw = i >= 0 ? process.argv[i + 1] : undefined;
  return raw ? (JSON.parse(raw) as CoreHostOptions) : {};
}

async function answer(services: CoreServices, r: HostRequest): Promise<unknown> {
  switch (r.type) {
    case 'media':
      return services.resolveMedia(r.kind, r.mediaId);
    case 'upload':
      return services.importUpload(r.tmpFile, r.name, r.roomId, r.cameraId ?? null);
    case 'upload-allowed':
      return services.uploadAllowed();
    case 'call':
    case 'close':
      throw new SpactError('internal', `unexpected ${r.type} request`);
  }
}

let services: CoreServices;
try {
  services = createCoreServices(readOptions());
} catch (err) {
  post({ type: 'fatal', error: toApiError(err) });
  process.exit(1);
}

/** A job that does not stop when cancelled must not keep a closing app alive: it is reconciled
 *  at the next start like after a crash. */
const CLOSE_GRACE_MS = 10_000;
let closing: Promise<void> | null = null;
const closeAndExit = (code: number): Promise<void> => {
  setTimeout(() => process.exit(code), CLOSE_GRACE_MS);
  return (closing ??= services
    .close()
    .catch(() => undefined)
    .finally(() => process.exit(code)));
};

services.events.subscribe((event, payload) => post({ type: 'event', event, payload }));
onRequest((r) => {
  if (r.type === 'close') {
    void closeAndExit(0);
    return;
  }
  if (r.type === 'call') {
    void services.dispatcher
      .dispatch(r.method, r.payload, r.ctx)
      .then((result) => post({ type: 'reply', id: r.id, result }));
    return;
  }
  answer(services, r).then(
    (value) => post({ type: 'reply', id: r.id, result: { ok: true, value } }),
    (err: unknown) => post({ type: 'reply', id: r.id, result: { ok: false, error: toApiError(err) } }),
  );
});
// The shell orchestrates shutdown (Ctrl+C reaches the whole process group): the host ignores
// SIGINT and closes when told to, when terminated, or when its parent is gone.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => void closeAndExit(0));
process.on('disconnect', () => void closeAndExit(0));
post({ type: 'ready', dataDir: services.core.dataDir, pid: process.pid });
setInterval(() => post({ type: 'alive' }), HEARTBEAT_MS).unref();
