// Live frames in the page (renderer/src/lib/frames.ts): base64 both ways, the canvas's RGBA to the
// packed RGB f_A takes and back, and a frame drawn at its size.
import { describe, expect, it } from 'vitest';

import { drawRgb, fromBase64, rgbaToRgb, rgbIntoRgba, toBase64 } from '../../renderer/src/lib/frames.js';

describe('live frames in the page', () => {
  it('round-trips bytes through base64, also past the 32 KiB slices', () => {
    const bytes = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 7919) % 256);
    const b64 = toBase64(bytes);
    expect(b64).toBe(Buffer.from(bytes).toString('base64'));
    expect(Buffer.from(fromBase64(b64)).equals(Buffer.from(bytes))).toBe(true);
  });

  it('drops alpha going to RGB and sets it opaque coming back', () => {
    const rgba = new Uint8ClampedArray([1, 2, 3, 9, 4, 5, 6, 0]);
    const rgb = rgbaToRgb(rgba);
    expect([...rgb]).toEqual([1, 2, 3, 4, 5, 6]);
    const back = new Uint8ClampedArray(8);
    rgbIntoRgba(rgb, back);
    expect([...back]).toEqual([1, 2, 3, 255, 4, 5, 6, 255]);
  });

  it('draws a frame on a canvas sized to it', () => {
    const put: { data: Uint8ClampedArray; x: number; y: number }[] = [];
    const canvas = {
      width: 0,
      height: 0,
      getContext: () => ({
        createImageData: (w: number, h: number) => ({ data: new Uint8ClampedArray(w * h * 4) }),
        putImageData: (img: { data: Uint8ClampedArray }, x: number, y: number) =>
          void put.push({ data: img.data, x, y }),
      }),
    };
    drawRgb(canvas, new Uint8Array([10, 20, 30, 40, 50, 60]), 2, 1);
    expect([canvas.width, canvas.height]).toEqual([2, 1]);
    expect(put).toHaveLength(1);
    expect([...put[0]!.data]).toEqual([10, 20, 30, 255, 40, 50, 60, 255]);
    expect(put[0]).toMatchObject({ x: 0, y: 0 });
  });
});
