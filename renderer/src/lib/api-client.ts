// The browser-mode client of the loopback bridge (HTTP for calls and uploads, one WebSocket for
// events), written against the little of fetch and WebSocket it uses so that tests can drive it
// without a browser. api.ts picks the transport and wires in the page's fetch and WebSocket.
import type {
  EventName,
  EventOf,
  MediaKind,
  MethodName,
  RequestOf,
  ResponseOf,
  Result,
  SpactApi,
} from '../../../electron/contract.js';

/** What the events socket reports (the page wires a WebSocket's onmessage, onopen, onclose; its
 *  binaryType is 'arraybuffer', so a binary message's data is an ArrayBuffer). */
export interface EventSocketHandlers {
  message(data: unknown): void;
  open(): void;
  close(): void;
}

export interface BridgeDeps {
  fetch(
    url: string,
    init: { method: 'POST'; headers?: Record<string, string>; credentials: 'same-origin'; body: string | Blob },
  ): Promise<{ json(): Promise<unknown> }>;
  /** Opens the events socket (the page: a WebSocket to `ws(s)://<host>/events`). */
  openEvents(on: EventSocketHandlers): void;
  /** Waits before reconnecting a closed events socket (the page: setTimeout). */
  later(fn: () => void, ms: number): void;
}

type Listener = (payload: unknown) => void;

/**
 * An event sent as one binary WebSocket message (electron/core/bridge/binary-event.ts): u32 LE
 * header length, the header (JSON: event, payload with its byte fields null, `binary` as
 * [field, length] in order), then the bytes; each byte field becomes a view of the message.
 */
export function decodeBinaryEvent(data: ArrayBuffer): { event: string; payload: unknown } {
  const headerLength = new DataView(data).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(data, 4, headerLength))) as {
    event: string;
    payload: Record<string, unknown>;
    binary: [string, number][];
  };
  let offset = 4 + headerLength;
  for (const [field, length] of header.binary) {
    if (offset + length > data.byteLength) throw new Error(`event ${header.event}: ${field} is cut short`);
    header.payload[field] = new Uint8Array(data, offset, length);
    offset += length;
  }
  return { event: header.event, payload: header.payload };
}

const unreachable = (err: unknown) => ({
  ok: false as const,
  error: { kind: 'unavailable' as const, message: `the SPAct service is not reachable (${String(err)})` },
});

export function createBridgeClient(deps: BridgeDeps): SpactApi {
  const listeners = new Map<string, Set<Listener>>();
  let open = false;
  let retryMs = 500;

  const connect = () => {
    open = true;
    deps.openEvents({
      message(data) {
        const { event, payload } =
          data instanceof ArrayBuffer
            ? decodeBinaryEvent(data)
            : (JSON.parse(String(data)) as { event: string; payload: unknown });
        for (const l of listeners.get(event) ?? []) l(payload);
      },
      open() {
        retryMs = 500;
      },
      close() {
        open = false;
        if (listeners.size > 0) deps.later(connect, (retryMs = Math.min(retryMs * 2, 10_000)));
      },
    });
  };

  return {
    async call<M extends MethodName>(method: M, request: RequestOf<M>): Promise<Result<ResponseOf<M>>> {
      try {
        const res = await deps.fetch(`/api/${encodeURIComponent(method)}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          credentials: 'same-origin',
          body: JSON.stringify(request),
        });
        // Checked against the contract by withContractChecks (contract-checks.ts).
        return (await res.json()) as Result<ResponseOf<M>>;
      } catch (err) {
        return unreachable(err);
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
          const res = await deps.fetch(`/upload?${q}`, { method: 'POST', body: file, credentials: 'same-origin' });
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
      if (!open) connect();
      return () => {
        set.delete(listener as Listener);
        if (set.size === 0) listeners.delete(event);
      };
    },
  };
}

/** A call that throws its error (with the error's kind) for screens that show errors through one handler. */
export function throwingCall(api: SpactApi) {
  return async <M extends MethodName>(method: M, request: RequestOf<M>): Promise<ResponseOf<M>> => {
    const r = await api.call(method, request);
    if (!r.ok) throw Object.assign(new Error(r.error.message), { kind: r.error.kind });
    return r.value;
  };
}
