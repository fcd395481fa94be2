// An event whose payload holds bytes (live.frame: RGB frames) crosses the browser-mode WebSocket
// as one binary message instead of base64 inside JSON: a little-endian u32 with the header's
// length, the header (JSON: the event, its payload with each byte field set to null, and the
// byte fields' names and lengths in order), then those bytes back to back. The page's decoder is
// renderer/src/lib/api-client.ts (decodeBinaryEvent). Events without bytes stay JSON text.

/** The message for `event`: text when the payload has no top-level Uint8Array, else binary. */
export function encodeEvent(event: string, payload: unknown): string | Buffer {
  if (typeof payload !== 'object' || payload === null) return JSON.stringify({ event, payload });
  const parts: Uint8Array[] = [];
  const binary: [string, number][] = [];
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(payload)) {
    if (v instanceof Uint8Array) {
      parts.push(v);
      binary.push([k, v.byteLength]);
      rest[k] = null;
    } else rest[k] = v;
  }
  if (parts.length === 0) return JSON.stringify({ event, payload });
  const header = Buffer.from(JSON.stringify({ event, payload: rest, binary }));
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32LE(header.length, 0);
  return Buffer.concat([prefix, header, ...parts]);
}
