// IPC channel names, dependency-free so the sandboxed preload bundle stays tiny.
export const IPC_INVOKE_CHANNEL = 'spact:invoke';
export const IPC_EVENT_CHANNEL = 'spact:event';
