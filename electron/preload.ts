// Runs in the sandboxed preload context. Exposes exactly the contract's API as `window.spact`;
// the renderer never sees ipcRenderer. Bundled to CommonJS (sandboxed preloads cannot import).
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';

import type { EventName, EventOf, MediaKind, MethodName, RequestOf, ResponseOf, Result, SpactApi } from './contract.js';
import { IPC_EVENT_CHANNEL, IPC_INVOKE_CHANNEL, IPC_PICK_FOLDER_CHANNEL, MEDIA_SCHEME } from './ipc-channels.js';

// Typed as the contract's SpactApi (checked by `satisfies`): the main side validates every
// request and, unless NODE_ENV=production, every response and event, so the types hold at run time.
export const spactApi = {
  call<M extends MethodName>(method: M, request: RequestOf<M>): Promise<Result<ResponseOf<M>>> {
    return ipcRenderer.invoke(IPC_INVOKE_CHANNEL, method, request) as Promise<Result<ResponseOf<M>>>;
  },
  on<E extends EventName>(event: E, listener: (payload: EventOf<E>) => void): () => void {
    const handler = (_e: IpcRendererEvent, msg: { event: string; payload: unknown }) => {
      if (msg && msg.event === event) listener(msg.payload as EventOf<E>);
    };
    ipcRenderer.on(IPC_EVENT_CHANNEL, handler);
    return () => {
      ipcRenderer.removeListener(IPC_EVENT_CHANNEL, handler);
    };
  },
  mediaUrl(kind: MediaKind, id: number): string {
    return `${MEDIA_SCHEME}://${kind}/${Number(id)}`;
  },
  importFiles(
    files: File[],
    roomId: number | null,
    cameraId?: number | null,
  ): Promise<Result<ResponseOf<'clips.import'>>> {
    // Electron gives the path of a picked or dropped file; the main side imports from there.
    const paths = files.map((f) => webUtils.getPathForFile(f)).filter((p) => p);
    return ipcRenderer.invoke(IPC_INVOKE_CHANNEL, 'clips.import', {
      paths,
      roomId,
      ...(cameraId ? { cameraId } : {}),
    }) as Promise<Result<ResponseOf<'clips.import'>>>;
  },
  pickFolder(title: string): Promise<string | null> {
    return ipcRenderer.invoke(IPC_PICK_FOLDER_CHANNEL, String(title)) as Promise<string | null>;
  },
} satisfies SpactApi;

contextBridge.exposeInMainWorld('spact', spactApi);
