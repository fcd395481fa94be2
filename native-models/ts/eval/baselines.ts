// The classic anonymizers the paper compares against (§5.2): downsampling 2×/4× (back to the input
// size, so every target model sees the same shape), and obfuscation of the person box — blackening,
// strong and weak Gaussian blur. SynthRoom knows the box; on real footage a detector supplies it.
import type { Box } from '../synthroom/render.js';

export const BASELINES = ['raw', 'downsample2', 'downsample4', 'blackout', 'blur-strong', 'blur-weak'] as const;
export type Baseline = (typeof BASELINES)[number];

export function isBaseline(name: string): name is Baseline {
  return (BASELINES as readonly string[]).includes(name);
}

export function needsBoxes(b: Baseline): boolean {
  return b === 'blackout' || b === 'blur-strong' || b === 'blur-weak';
}

function downsample(frame: Uint8Array, h: number, w: number, k: number): Uint8Array {
  const out = new Uint8Array(frame.length);
  for (let by = 0; by < h; by += k) {
    for (let bx = 0; bx < w; bx += k) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let count = 0;
      for (let y = by; y < Math.min(h, by + k); y++) {
        for (let x = bx; x < Math.min(w, bx + k); x++) {
          const o = (y * w + x) * 3;
          s0 += frame[o]!;
          s1 += frame[o + 1]!;
          s2 += frame[o + 2]!;
          count++;
        }
      }
      for (let y = by; y < Math.min(h, by + k); y++) {
        for (let x = bx; x < Math.min(w, bx + k); x++) {
          const o = (y * w + x) * 3;
          out[o] = Math.round(s0 / count);
          out[o + 1] = Math.round(s1 / count);
          out[o + 2] = Math.round(s2 / count);
        }
      }
    }
  }
  return out;
}

/** One horizontal + vertical box-blur pass of radius r (clamped at the borders). */
function boxBlur(src: Float32Array, h: number, w: number, r: number): Float32Array {
  const tmp = new Float32Array(src.length);
  const out = new Float32Array(src.length);
  const norm = 1 / (2 * r + 1);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let d = -r; d <= r; d++) s += src[(y * w + Math.min(w - 1, Math.max(0, x + d))) * 3 + c]!;
        tmp[(y * w + x) * 3 + c] = s * norm;
      }
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let d = -r; d <= r; d++) s += tmp[(Math.min(h - 1, Math.max(0, y + d)) * w + x) * 3 + c]!;
        out[(y * w + x) * 3 + c] = s * norm;
      }
    }
  }
  return out;
}

/** Gaussian blur approximated by three box blurs (σ² ≈ 3·r(r+1)/3). */
function gaussianBlur(frame: Uint8Array, h: number, w: number, sigma: number): Float32Array {
  const r = Math.max(1, Math.round(Math.sqrt(sigma * sigma + 0.25) - 0.5));
  let img: Float32Array = Float32Array.from(frame);
  for (let i = 0; i < 3; i++) img = boxBlur(img, h, w, r);
  return img;
}

/** Applies a baseline to one clip [t, h, w, 3]; `boxes` (normalised, per frame) for obfuscation. */
export function applyBaseline(
  kind: Baseline,
  clip: Uint8Array,
  t: number,
  h: number,
  w: number,
  boxes?: Box[],
): Uint8Array {
  if (kind === 'raw') return clip;
  const fb = h * w * 3;
  const out = new Uint8Array(clip.length);
  for (let f = 0; f < t; f++) {
    const frame = clip.subarray(f * fb, (f + 1) * fb);
    if (kind === 'downsample2' || kind === 'downsample4') {
      out.set(downsample(frame, h, w, kind === 'downsample2' ? 2 : 4), f * fb);
      continue;
    }
    const box = boxes?.[f];
    if (!box) throw new Error(`the ${kind} baseline needs a person box per frame`);
    // Grow the box by 10% on each side: the detector-based baselines cover the whole person.
    const bw = box.x1 - box.x0;
    const bh = box.y1 - box.y0;
    const x0 = Math.max(0, Math.floor((box.x0 - 0.1 * bw) * w));
    const x1 = Math.min(w, Math.ceil((box.x1 + 0.1 * bw) * w));
    const y0 = Math.max(0, Math.floor((box.y0 - 0.1 * bh) * h));
    const y1 = Math.min(h, Math.ceil((box.y1 + 0.1 * bh) * h));
    const dst = out.subarray(f * fb, (f + 1) * fb);
    dst.set(frame);
    if (kind === 'blackout') {
      for (let y = y0; y < y1; y++) dst.fill(0, (y * w + x0) * 3, (y * w + x1) * 3);
      continue;
    }
    const sigma = kind === 'blur-strong' ? Math.max(2, 0.2 * (y1 - y0)) : 1;
    const blurred = gaussianBlur(frame, h, w, sigma);
    for (let y = y0; y < y1; y++)
      for (let i = (y * w + x0) * 3; i < (y * w + x1) * 3; i++) dst[i] = Math.round(blurred[i]!);
  }
  return out;
}
