// The core in the calling process, behind the same CoreHandle as the host process: tests, and
// `spact serve --in-process` for comparing the two in bench:latency.
import type { CoreServices } from '../services.js';
import type { CoreHandle } from './core-host-protocol.js';

export function inProcessCore(services: CoreServices): CoreHandle {
  return {
    dataDir: services.core.dataDir,
    events: services.events,
    dispatch: (method, payload, ctx) => services.dispatcher.dispatch(method, payload, ctx),
    resolveMedia: (kind, id) => services.resolveMedia(kind, id),
    importUpload: (tmp, name, roomId, cameraId) => services.importUpload(tmp, name, roomId, cameraId),
    uploadAllowed: () => Promise.resolve(services.uploadAllowed()),
    close: () => services.close(),
  };
}
