// IPC channel names, dependency-free so the sandboxed preload bundle stays tiny.
export const IPC_INVOKE_CHANNEL = 'spact:invoke';
export const IPC_EVENT_CHANNEL = 'spact:event';
/** Custom protocol serving media (anonymized outputs, thumbnails, raw clips for admins). */
export const MEDIA_SCHEME = 'spact-media';
