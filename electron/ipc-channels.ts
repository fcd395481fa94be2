// IPC channel names, dependency-free so the sandboxed preload bundle stays tiny.
export const IPC_INVOKE_CHANNEL = 'spact:invoke';
export const IPC_EVENT_CHANNEL = 'spact:event';
/** The native folder dialog (export destination); answers a path or null. */
export const IPC_PICK_FOLDER_CHANNEL = 'spact:pick-folder';
/** Custom protocol serving media (anonymized outputs, thumbnails, raw clips for admins). */
export const MEDIA_SCHEME = 'spact-media';
