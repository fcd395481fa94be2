// Privacy masks: polygons of a camera's frame (a bathroom door, a window, a screen) burned to black
// in the raw frames before anything else sees them: the live view, the stored copy of an imported
// clip, and so anonymization, export, audits and fine-tuning. Polygons are in normalized frame
// coordinates (0..1, x to the right, y down), so one mask fits every size a frame is decoded at.
import { createHash } from 'node:crypto';

import type { CameraMaskLimits } from '../../contract.js';
import { SpactError } from '../errors.js';

/** A point [x, y] in normalized frame coordinates. */
export type MaskPoint = [number, number];
export type MaskPolygon = MaskPoint[];

/** The limits a camera's masks are held to: the contract's (the type makes them agree). */
export const MASK_LIMITS: CameraMaskLimits = { maxPolygons: 16, minPoints: 3, maxPoints: 64 };

/** Throws a `validation` error naming the first polygon that breaks the limits. */
export function validateMasks(masks: unknown): MaskPolygon[] {
  if (!Array.isArray(masks)) throw new SpactError('validation', 'masks are a list of polygons');
  if (masks.length > MASK_LIMITS.maxPolygons)
    throw new SpactError('validation', `a camera has at most ${MASK_LIMITS.maxPolygons} masks (got ${masks.length})`);
  masks.forEach((poly, i) => {
    if (!Array.isArray(poly) || poly.length < MASK_LIMITS.minPoints || poly.length > MASK_LIMITS.maxPoints)
      throw new SpactError(
        'validation',
        `mask ${i + 1} needs ${MASK_LIMITS.minPoints}–${MASK_LIMITS.maxPoints} points`,
      );
    for (const p of poly as unknown[]) {
      if (
        !Array.isArray(p) ||
        p.length !== 2 ||
        !p.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1)
      )
        throw new SpactError('validation', `mask ${i + 1}: every point is [x, y] with x and y from 0 to 1`);
    }
  });
  return masks as MaskPolygon[];
}

/** A stable fingerprint of a set of masks (what a clip records it was imported with). */
export function masksHash(masks: MaskPolygon[]): string {
  return createHash('sha256').update(JSON.stringify(masks)).digest('hex');
}

/**
 * The pixel spans [x0, x1) of each row of a w×h frame that a set of polygons covers. A pixel is
 * covered when its centre (x + 0.5, y + 0.5) lies inside a polygon under the **even-odd** rule
 * (scanline fill: a row's crossings with the polygon's edges, sorted, taken in pairs). Polygons are
 * filled one after another, so overlapping masks each stay black.
 */
export function maskSpans(masks: MaskPolygon[], width: number, height: number): Int32Array[] {
  const rows: number[][] = Array.from({ length: height }, () => []);
  for (const poly of masks) {
    const pts = poly.map(([x, y]) => [x * width, y * height] as const);
    for (let y = 0; y < height; y++) {
      const cy = y + 0.5;
      const xs: number[] = [];
      for (let i = 0; i < pts.length; i++) {
        const [ax, ay] = pts[i]!;
        const [bx, by] = pts[(i + 1) % pts.length]!;
        // Half-open in y: a vertex on the scanline counts once, horizontal edges never.
        if (ay <= cy === by <= cy) continue;
        xs.push(ax + ((cy - ay) / (by - ay)) * (bx - ax));
      }
      xs.sort((a, b) => a - b);
      for (let k = 0; k + 1 < xs.length; k += 2) {
        // Pixels whose centre x + 0.5 lies in [xs[k], xs[k + 1]).
        const x0 = Math.max(0, Math.ceil(xs[k]! - 0.5));
        const x1 = Math.min(width, Math.ceil(xs[k + 1]! - 0.5));
        if (x1 > x0) rows[y]!.push(x0, x1);
      }
    }
  }
  return rows.map((r) => Int32Array.from(r));
}

/** Caches the spans of one mask set at one frame size (a stream or a clip decodes at one size). */
export class FrameMasker {
  private spans: Int32Array[] | null = null;
  private size = '';

  constructor(readonly masks: MaskPolygon[]) {}

  get empty(): boolean {
    return this.masks.length === 0;
  }

  /** Blacks out the masked pixels of frames [n, h, w, 3] (RGB, uint8) in place. */
  apply(frames: Uint8Array, n: number, height: number, width: number): Uint8Array {
    if (this.masks.length === 0) return frames;
    if (frames.length !== n * height * width * 3)
      throw new SpactError('validation', `frames hold ${frames.length} bytes, expected ${n}×${height}×${width}×3`);
    const key = `${width}x${height}`;
    if (this.size !== key) {
      this.spans = maskSpans(this.masks, width, height);
      this.size = key;
    }
    const spans = this.spans!;
    const frameBytes = height * width * 3;
    for (let f = 0; f < n; f++) {
      for (let y = 0; y < height; y++) {
        const row = spans[y]!;
        const base = f * frameBytes + y * width * 3;
        for (let k = 0; k < row.length; k += 2) frames.fill(0, base + row[k]! * 3, base + row[k + 1]! * 3);
      }
    }
    return frames;
  }
}

/** Blacks out the masked pixels of RGB frames [n, h, w, 3] in place (even-odd rule, pixel centres). */
export function applyMasks(
  frames: Uint8Array,
  n: number,
  height: number,
  width: number,
  masks: MaskPolygon[],
): Uint8Array {
  return new FrameMasker(masks).apply(frames, n, height, width);
}
