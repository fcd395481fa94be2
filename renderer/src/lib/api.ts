// Picks the transport once at start: Electron's preload API when present, otherwise the
// loopback bridge of browser mode (HTTP for calls, one WebSocket for events). Screens only
// ever see the SpactApi interface.
import type {
  EventName,
  EventOf,
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
