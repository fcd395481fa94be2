// Live frames in the page: packed RGB (3 bytes a pixel, what f_A takes and gives) and the canvas's
// RGBA. live.frame events bring bytes; a local camera's frames still go to live.anonymizeFrame and
// come back as base64 inside JSON. One copy of each conversion for the live view and the mask editor.

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  // In slices: String.fromCharCode(...all) overflows the call stack on a large frame.
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** A canvas's RGBA pixels as packed RGB (alpha dropped). */
export function rgbaToRgb(rgba: ArrayLike<number>): Uint8Array {
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, j = 0; j < rgba.length; i += 3, j += 4) {
    rgb[i] = rgba[j]!;
    rgb[i + 1] = rgba[j + 1]!;
    rgb[i + 2] = rgba[j + 2]!;
  }
  return rgb;
}

/** Packed RGB into `rgba` (an ImageData's data), opaque. */
export function rgbIntoRgba(rgb: Uint8Array, rgba: Uint8ClampedArray): void {
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    rgba[j] = rgb[i]!;
    rgba[j + 1] = rgb[i + 1]!;
    rgba[j + 2] = rgb[i + 2]!;
    rgba[j + 3] = 255;
  }
}

interface PixelData {
  readonly data: Uint8ClampedArray;
}

/** The little of a canvas drawRgb uses (an HTMLCanvasElement; typed so tests need no DOM). */
export interface RgbCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): {
    createImageData(w: number, h: number): PixelData;
    putImageData(img: PixelData, x: number, y: number): void;
  } | null;
}

/** Draws a packed RGB frame of `w`×`h` on `canvas`, sized to it. */
export function drawRgb(canvas: RgbCanvas | undefined, rgb: Uint8Array, w: number, h: number): void {
  if (!canvas) return;
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const img = ctx.createImageData(w, h);
  rgbIntoRgba(rgb, img.data);
  ctx.putImageData(img, 0, 0);
}
