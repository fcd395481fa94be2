// Bounded memory at any working size: frames larger than the pixel budget are tiled with an
// overlap covering f_A's receptive field, and the stitched result equals the untiled one.
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import {
  Anonymizer,
  anonymizeWithinBudget,
  cpuBatchPixelsPerCall,
  planTiles,
  receptiveFieldRadius,
  tileMargin,
  unetDivisor,
} from '../../native-models/ts/anonymizer.js';
import { defaultModelDir } from '../../native-models/ts/models.js';

/** A frame with structure at every scale (gradients, stripes, blobs) and noise. */
function scene(n: number, h: number, w: number, seed = 1): Uint8Array {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 255;
  const out = new Uint8Array(n * h * w * 3);
  for (let f = 0; f < n; f++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const o = ((f * h + y) * w + x) * 3;
        out[o] = ((x * 255) / w + f * 20) % 256;
        out[o + 1] = (Math.floor(x / 7) + Math.floor(y / 5)) % 2 ? 200 : 40;
        out[o + 2] = Math.hypot(x - w / 3, y - h / 2) < h / 4 ? 230 : 0.3 * rand();
      }
  return out;
}

/** Fraction of values equal within ±1 grey level. */
function within1(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let ok = 0;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) <= 1) ok++;
  return ok / a.length;
}

let whole: Anonymizer;
let tiled: Anonymizer;
const model = defaultModelDir();

beforeAll(async () => {
  whole = await Anonymizer.load(model, { threads: 2, maxPixelsPerCall: 10_000_000 });
  // A budget far below one frame: many small tiles.
  tiled = await Anonymizer.load(model, { threads: 2, maxPixelsPerCall: 128 * 128 });
}, 120_000);

describe('tile plan', () => {
  it('derives the overlap from the checkpoint: receptive field on the UNet grid', () => {
    expect(path.basename(model)).toBe('default');
    const widths = whole.meta.config.model.fA.widths;
    expect(whole.divisor).toBe(2 ** (widths.length - 1));
    expect(whole.margin).toBeGreaterThanOrEqual(receptiveFieldRadius({ widths }));
    expect(whole.margin % whole.divisor).toBe(0);
    // Edge preset (3 levels) and paper preset (5 levels).
    expect(receptiveFieldRadius({ widths: [16, 32, 64] })).toBe(29);
    expect(tileMargin({ widths: [16, 32, 64] })).toBe(32);
    expect(unetDivisor({ widths: [64, 128, 256, 512, 512] })).toBe(16);
    expect(tileMargin({ widths: [64, 128, 256, 512, 512] })).toBe(144);
  });

  it('covers every pixel exactly once, origins on the grid, within the budget', () => {
    for (const [h, w, budget] of [
      [257, 333, 128 * 128],
      [2160, 3840, 1_000_000],
      [64, 4000, 40_000],
      [4000, 50, 40_000],
    ] as const) {
      const tiles = planTiles(h, w, budget, 32, 4);
      const cover = new Uint8Array(h * w);
      for (const t of tiles) {
        expect(t.ty0 % 4).toBe(0);
        expect(t.tx0 % 4).toBe(0);
        expect(t.ty0).toBeLessThanOrEqual(t.y0);
        expect(t.ty1).toBeGreaterThanOrEqual(t.y1);
        // The margin is kept wherever the frame extends beyond the core.
        expect(Math.min(t.y0, 32)).toBe(t.y0 - t.ty0);
        expect(Math.min(h - t.y1, 32)).toBe(t.ty1 - t.y1);
        if (budget >= (4 + 64) ** 2) expect((t.ty1 - t.ty0) * (t.tx1 - t.tx0)).toBeLessThanOrEqual(budget);
        for (let y = t.y0; y < t.y1; y++) for (let x = t.x0; x < t.x1; x++) cover[y * w + x]!++;
      }
      expect(cover.every((c) => c === 1)).toBe(true);
    }
    expect(planTiles(100, 100, 10_000, 32, 4)).toHaveLength(1);
  });
});

describe('tiled anonymization equals the untiled one', () => {
  it('on an odd-sized frame (333×257), ±1 grey level on ≥ 99.9% of values', async () => {
    const [n, h, w] = [2, 257, 333];
    const frames = scene(n, h, w);
    const a = await whole.anonymize(frames, n, h, w);
    const b = await tiled.anonymize(frames, n, h, w);
    expect(planTiles(h, w, tiled.maxPixelsPerCall, tiled.margin, tiled.divisor).length).toBeGreaterThan(4);
    expect(b.length).toBe(n * h * w * 3);
    expect(within1(a, b)).toBeGreaterThanOrEqual(0.999);
  });

  it('would not without the overlap (the comparison can fail)', async () => {
    const [n, h, w] = [1, 257, 333];
    const frames = scene(n, h, w, 7);
    const a = await whole.anonymize(frames, n, h, w);
    const noMargin = await anonymizeWithinBudget(whole.anonymize.bind(whole), frames, n, h, w, {
      maxPixelsPerCall: 64 * 64,
      margin: 0,
      divisor: whole.divisor,
    });
    expect(within1(a, noMargin)).toBeLessThan(0.99);
  });

  it('groups small frames into calls within the budget, same result', async () => {
    const calls: number[] = [];
    const [n, h, w] = [7, 48, 64];
    const frames = scene(n, h, w, 3);
    const out = await anonymizeWithinBudget(
      (f, k, hh, ww) => {
        calls.push(k * hh * ww);
        return whole.anonymize(f, k, hh, ww);
      },
      frames,
      n,
      h,
      w,
      { maxPixelsPerCall: 3 * h * w, margin: whole.margin, divisor: whole.divisor },
    );
    expect(calls).toEqual([3, 3, 1].map((k) => k * h * w));
    expect(within1(out, await whole.anonymize(frames, n, h, w))).toBeGreaterThanOrEqual(0.999);
  });

  it('groups fewer frames per call on a CPU without ever tiling a frame for it', async () => {
    const calls: number[][] = [];
    const [n, h, w] = [5, 48, 64];
    const frames = scene(n, h, w, 5);
    const record = (f: Uint8Array, k: number, hh: number, ww: number) => {
      calls.push([k, hh, ww]);
      return whole.anonymize(f, k, hh, ww);
    };
    const plan = { maxPixelsPerCall: 10 * h * w, margin: whole.margin, divisor: whole.divisor };
    const out = await anonymizeWithinBudget(record, frames, n, h, w, { ...plan, batchPixelsPerCall: 2 * h * w });
    expect(calls).toEqual([
      [2, h, w],
      [2, h, w],
      [1, h, w],
    ]);
    calls.length = 0;
    // A speed budget below one frame still sends whole frames (tiling is memory's decision).
    await anonymizeWithinBudget(record, frames, n, h, w, { ...plan, batchPixelsPerCall: 100 });
    expect(calls.every(([k, hh, ww]) => k === 1 && hh === h && ww === w)).toBe(true);
    expect(within1(out, await whole.anonymize(frames, n, h, w))).toBeGreaterThanOrEqual(0.999);
    // The Anonymizer on this CPU groups at most cpuBatchPixelsPerCall, below its memory budget.
    expect(whole.batchPixelsPerCall).toBe(cpuBatchPixelsPerCall(whole.meta.config.model.fA));
    expect(whole.batchPixelsPerCall).toBeLessThan(whole.maxPixelsPerCall);
  });
});
