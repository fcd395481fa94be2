// Picks the transport once at start: Electron's preload API when present, otherwise the
// loopback bridge of browser mode (HTTP for calls, one WebSocket for events). Screens only
// ever see the SpactApi interface.
import type {
  EventName,
  EventOf,
  MediaKind,
  MethodName,
  RequestOf,
  ResponseOf,
  Result,
  SpactApi,
} from '../../../electron/contract';

type Listener = (payload: unknown) => void;

function createBridgeClient(): SpactApi {
  const listeners = new Map<string, Set<Listener>>();
  let socket: WebSocket | null = null;
  let retryMs = 500;

  const connect = () => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(`${proto}//${location.host}/events`);
    socket.onmessage = (msg) => {
      const { event, payload } = JSON.parse(String(msg.data)) as { event: string; payload: unknown };
      for (const l of listeners.get(event) ?? []) l(payload);
    };
    socket.onopen = () => {
      retryMs = 500;
    };
    socket.onclose = () => {
      socket = null;
      if (listeners.size > 0) setTimeout(connect, (retryMs = Math.min(retryMs * 2, 10_000)));
    };
  };

  return {
    async call<M extends MethodName>(method: M, request: RequestOf<M>): Promise<Result<ResponseOf<M>>> {
      try {
        const res = await fetch(`/api/${encodeURIComponent(method)}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          credentials: 'same-origin',
          body: JSON.stringify(request),
        });
        return (await res.json()) as Result<ResponseOf<M>>;
      } catch (err) {
        return {
          ok: false,
          error: { kind: 'unavailable', message: `the SPAct service is not reachable (${String(err)})` },
        };
      }
    },
    mediaUrl(kind: MediaKind, id: number): string {
      return `/media/${kind}/${id}`;
    },
    async importFiles(
      files: File[],
      roomId: number | null,
      cameraId?: number | null,
    ): Promise<Result<ResponseOf<'clips.import'>>> {
      // Browser mode: the file travels to the loopback server, which imports it into the library.
      const imported: ResponseOf<'clips.import'>['imported'] = [];
      const failed: ResponseOf<'clips.import'>['failed'] = [];
      for (const file of files) {
        const q = new URLSearchParams({
          name: file.name,
          ...(roomId ? { roomId: String(roomId) } : {}),
          ...(cameraId ? { cameraId: String(cameraId) } : {}),
        });
        try {
          const res = await fetch(`/upload?${q}`, { method: 'POST', body: file, credentials: 'same-origin' });
          const body = (await res.json()) as Result<ResponseOf<'clips.import'>['imported'][number]>;
          if (body.ok) imported.push(body.value);
          else failed.push({ file: file.name, error: body.error.message });
        } catch (err) {
          failed.push({ file: file.name, error: String(err) });
        }
      }
      return { ok: true, value: { imported, failed } };
    },
    on<E extends EventName>(event: E, listener: (payload: EventOf<E>) => void): () => void {
      const set = listeners.get(event) ?? new Set<Listener>();
      set.add(listener as Listener);
      listeners.set(event, set);
      if (!socket) connect();
      return () => {
        set.delete(listener as Listener);
        if (set.size === 0) listeners.delete(event);
      };
    },
  };
}

export const api: SpactApi = window.spact ?? createBridgeClient();

/** Calls a method and throws its error (for screens that show errors through one handler). */
export async function call<M extends MethodName>(method: M, request: RequestOf<M>): Promise<ResponseOf<M>> {
  const r = await api.call(method, request);
  if (!r.ok) throw Object.assign(new Error(r.error.message), { kind: r.error.kind });
  return r.value;
}
