// Runs in the sandboxed preload context. Exposes exactly the contract's API as `window.spact`;
// the renderer never sees ipcRenderer. Bundled to CommonJS (sandboxed preloads cannot import).
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';

import { IPC_EVENT_CHANNEL, IPC_INVOKE_CHANNEL, MEDIA_SCHEME } from './ipc-channels.js';

export const spactApi = {
  call(method: string, request: unknown): Promise<unknown> {
    return ipcRenderer.invoke(IPC_INVOKE_CHANNEL, method, request);
  },
  on(event: string, listener: (payload: unknown) => void): () => void {
    const handler = (_e: IpcRendererEvent, msg: { event: string; payload: unknown }) => {
      if (msg && msg.event === event) listener(msg.payload);
    };
    ipcRenderer.on(IPC_EVENT_CHANNEL, handler);
    return () => {
      ipcRenderer.removeListener(IPC_EVENT_CHANNEL, handler);
    };
  },
  mediaUrl(kind: string, id: number): string {
    return `${MEDIA_SCHEME}://${kind}/${Number(id)}`;
  },
  importFiles(files: File[], roomId: number | null, cameraId?: number | null): Promise<unknown> {
    // Electron gives the path of a picked or dropped file; the main side imports from there.
    const paths = files.map((f) => webUtils.getPathForFile(f)).filter((p) => p);
    return ipcRenderer.invoke(IPC_INVOKE_CHANNEL, 'clips.import', { paths, roomId, ...(cameraId ? { cameraId } : {}) });
  },
};

contextBridge.exposeInMainWorld('spact', spactApi);
