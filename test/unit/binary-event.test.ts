// Live frames cross the browser-mode WebSocket as binary messages (electron/core/bridge/
// binary-event.ts encodes, renderer/src/lib/api-client.ts decodes): the bytes arrive as they left,
// other fields untouched, events without bytes stay JSON text, and the page's client hands the
// decoded frame to its listener as the contract's live.frame.
import { describe, expect, it } from 'vitest';

import { encodeEvent } from '../../electron/core/bridge/binary-event.js';
import { createBridgeClient, decodeBinaryEvent, type EventSocketHandlers } from '../../renderer/src/lib/api-client.js';
import { eventViolation } from '../../renderer/src/lib/contract-checks.js';

const frame = (w: number, h: number, seed: number) =>
  Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * seed) % 256);

/** The message as the page's WebSocket (binaryType 'arraybuffer') hands it over. */
const asArrayBuffer = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

describe('binary live frames', () => {
  it('round-trips a frame with its raw side, bytes and fields as they were', () => {
    const payload = {
      streamId: 2,
      width: 16,
      height: 12,
      anonymized: frame(16, 12, 7),
      raw: Buffer.from(frame(16, 12, 13)),
      fps: 9.5,
      latencyMs: 31,
    };
    const msg = encodeEvent('live.frame', payload);
    expect(Buffer.isBuffer(msg)).toBe(true);
    // No base64 inside: the message is the two frames plus a short header.
    expect((msg as Buffer).length).toBeLessThan(2 * 16 * 12 * 3 + 200);
    const { event, payload: got } = decodeBinaryEvent(asArrayBuffer(msg as Buffer));
    expect(event).toBe('live.frame');
    const p = got as typeof payload;
    expect({ ...p, anonymized: [...p.anonymized], raw: [...p.raw] }).toEqual({
      ...payload,
      anonymized: [...payload.anonymized],
      raw: [...payload.raw],
    });
    expect(eventViolation('live.frame', got)).toBeNull();
  });

  it('keeps a frame without a raw side without one (the viewer and operator case)', () => {
    const msg = encodeEvent('live.frame', {
      streamId: 1,
      width: 2,
      height: 1,
      anonymized: frame(2, 1, 3),
      fps: 10,
      latencyMs: 5,
    });
    const { payload } = decodeBinaryEvent(asArrayBuffer(msg as Buffer));
    expect(Object.keys(payload as object)).not.toContain('raw');
  });

  it('sends events without bytes as JSON text', () => {
    expect(encodeEvent('live.ended', { streamId: 1, error: null })).toBe(
      '{"event":"live.ended","payload":{"streamId":1,"error":null}}',
    );
  });

  it('refuses a message whose bytes are cut short, and a frame sent as base64', () => {
    const msg = encodeEvent('live.frame', {
      streamId: 1,
      width: 2,
      height: 1,
      anonymized: frame(2, 1, 3),
      fps: 1,
      latencyMs: 1,
    });
    const cut = asArrayBuffer((msg as Buffer).subarray(0, (msg as Buffer).length - 1));
    expect(() => decodeBinaryEvent(cut)).toThrow('event live.frame: anonymized is cut short');
    expect(
      eventViolation('live.frame', { streamId: 1, width: 2, height: 1, anonymized: 'AAAA', fps: 1, latencyMs: 1 }),
    ).toMatch(/^event live\.frame does not match the contract: anonymized: expected an RGB frame as bytes/);
  });

  it('reaches a listener of the page client as bytes', () => {
    const sockets: EventSocketHandlers[] = [];
    const client = createBridgeClient({
      fetch: () => Promise.reject(new Error('unused')),
      openEvents: (on) => void sockets.push(on),
      later: () => undefined,
    });
    const seen: unknown[] = [];
    client.on('live.frame', (f) => seen.push(f));
    const anonymized = frame(4, 2, 5);
    sockets[0]!.message(
      asArrayBuffer(
        encodeEvent('live.frame', { streamId: 3, width: 4, height: 2, anonymized, fps: 1, latencyMs: 2 }) as Buffer,
      ),
    );
    expect(seen).toHaveLength(1);
    expect([...(seen[0] as { anonymized: Uint8Array }).anonymized]).toEqual([...anonymized]);
  });
});
