// Inference API: anonymize frames with a trained f_A (used by export, batch anonymization and the
// live preview). Builds and loads f_A alone (the addon's AnonymizerNet: no f_T, f_B or
// optimizers); returns uint8 RGB. close() frees it (the model cache does on eviction).
//
// Memory is bounded at any frame size: one engine call never holds more than `maxPixelsPerCall`
// pixels (frames × height × width). Small frames are grouped into calls of several frames; a frame
// larger than the budget is split into overlapping tiles whose centres are stitched back. The
// overlap covers f_A's receptive field and tile origins sit on the UNet's pooling grid, so the
// stitched frame equals the one computed whole.
import os from 'node:os';

import { fileSha256, readCheckpointMeta, resolveCheckpointPath, type CheckpointMeta } from './checkpoint.js';
import { checkDevice, EngineError, mapNativeError } from './engine.js';
import { loadNative, type NativeAnonymizerNet } from './native.js';

export interface AnonymizerOptions {
  device?: string; // auto | cpu | cuda | cuda:N (default: the checkpoint's setting)
  threads?: number;
  /** Pixels (frames × height × width) one engine call may hold; default: from memoryBudgetMiB when
   *  given (callBudgetsFor), else f_A's activations ≈ 1 GiB. */
  maxPixelsPerCall?: number;
  /** The memory the anonymization may use, MiB (MEMORY_BUDGET_MIB); sets the per-call pixels. */
  memoryBudgetMiB?: number;
  /** Pixels up to which frames are grouped into one call (never splits a frame); default: on a
   *  CPU, f_A's activations ≈ 256 MiB (cpuBatchPixelsPerCall); on a GPU, maxPixelsPerCall. */
  batchPixelsPerCall?: number;
}

/** f_A's shape as far as tiling cares: its UNet widths (one per level) and its upsampling. */
export interface UNetShape {
  widths: number[];
}

/** Pixel multiple the UNet needs: 2^(levels-1) (one 2× max-pool per level below the first). */
export function unetDivisor(shape: UNetShape): number {
  return 2 ** (shape.widths.length - 1);
}

/**
 * Receptive-field radius of f_A in input pixels, an upper bound read off the layers (models.cc):
 * two 3×3 convs at level 0; per level k ≥ 1 a 2×2 max-pool (2^(k-1) px) and two 3×3 convs at
 * 1/2^k (2·2^k px); per decoder level a 2× upsampling (bilinear reads ±1 coarse pixel: 2^k px;
 * pixel shuffle and transpose conv read less) and two 3×3 convs (2·2^(k-1) px); the 1×1 output
 * conv adds nothing. The edge preset (16-32-64) gives 29 px, the paper preset (5 levels) 137 px.
 */
export function receptiveFieldRadius(shape: UNetShape): number {
  const levels = shape.widths.length;
  let r = 2;
  for (let k = 1; k < levels; k++) r += 2 ** (k - 1) + 2 * 2 ** k;
  for (let k = levels - 1; k >= 1; k--) r += 2 ** k + 2 * 2 ** (k - 1);
  return r;
}

/** Tile overlap: the receptive field rounded up to the UNet's divisor (tile origins stay on its grid). */
export function tileMargin(shape: UNetShape): number {
  const div = unetDivisor(shape);
  return Math.ceil(receptiveFieldRadius(shape) / div) * div;
}

/**
 * Bytes of activations per pixel of one f_A call (float32): at each level k about 6 live tensors
 * of the level's width at 1/4^k of the pixels (the conv outputs, the skip kept for the decoder,
 * the upsampled tensor and the concatenation), plus the uint8/float input and output. Measured
 * for the edge preset (16-32-64): ~500 B/px of peak RSS over the loaded model; this gives 736.
 */
export function activationBytesPerPixel(shape: UNetShape): number {
  const perLevel = shape.widths.reduce((acc, w, k) => acc + w / 4 ** k, 0);
  return Math.ceil(4 * 6 * perLevel) + 64;
}

/** Default pixel budget per engine call: activations ≈ 1 GiB. */
export function defaultMaxPixelsPerCall(shape: UNetShape): number {
  return Math.max(64 * 64, Math.floor(2 ** 30 / activationBytesPerPixel(shape)));
}

/**
 * Pixels per call up to which a CPU groups frames. Bigger calls are slower per pixel on a CPU
 * (their activations leave the caches): measured with the edge f_A, 2 threads (bench/RESULTS.md),
 * 320×240 frames took 17.5–19.8 ms each in calls of ≤ 0.31 Mpx against 29.6 ms in calls of 1.4 Mpx
 * (the memory budget), 640×480 frames 76 ms alone against 124 ms four at a time, 148×112 frames
 * 4.1 ms in calls of 0.31 Mpx against 6.1 ms in calls of 1.4 Mpx. A GPU wants the big calls.
 */
export function cpuBatchPixelsPerCall(shape: UNetShape): number {
  return Math.max(64 * 64, Math.floor(2 ** 28 / activationBytesPerPixel(shape)));
}

/** The memory budget setting, MiB: the default keeps a process within 2 GiB (bench:pipeline measured
 *  ≤ 1.42 GiB of peak RSS at every working size with the calls it gives). */
export const MEMORY_BUDGET_MIB = { default: 2048, min: 1280, max: 65536 } as const;

/**
 * What a process holds besides f_A's activations, MiB: Node, libtorch, the model, the decoded and
 * encoded frames. Measured with `spact anonymize` (edge f_A, 320×240 input) at calls of 0.18 Mpx:
 * 0.73 GiB of peak RSS at working size 1080, 0.86 GiB at 2160.
 */
export const MEMORY_RESERVE_MIB = 1024;

/**
 * Per-call pixel budgets from a memory budget: what the reserve leaves goes to one f_A call's
 * activations, which caps both tiling and grouping; a CPU groups at most cpuBatchPixelsPerCall
 * (speed), a GPU up to that cap. The default budget (2048 MiB) gives exactly
 * defaultMaxPixelsPerCall; a smaller one gives smaller calls (the minimum: cpuBatchPixelsPerCall).
 */
export function callBudgetsFor(
  memoryBudgetMiB: number,
  shape: UNetShape,
  onCpu: boolean,
): { maxPixelsPerCall: number; batchPixelsPerCall: number } {
  if (!(
    Number.isInteger(memoryBudgetMiB) &&
    memoryBudgetMiB >= MEMORY_BUDGET_MIB.min &&
    memoryBudgetMiB <= MEMORY_BUDGET_MIB.max
  ))
    throw new RangeError(
      `the memory budget must be an integer ${MEMORY_BUDGET_MIB.min}–${MEMORY_BUDGET_MIB.max} MiB, got ${memoryBudgetMiB}`,
    );
  const activations = (memoryBudgetMiB - MEMORY_RESERVE_MIB) * 2 ** 20;
  const maxPixelsPerCall = Math.max(64 * 64, Math.floor(activations / activationBytesPerPixel(shape)));
  const batchPixelsPerCall = onCpu ? Math.min(maxPixelsPerCall, cpuBatchPixelsPerCall(shape)) : maxPixelsPerCall;
  return { maxPixelsPerCall, batchPixelsPerCall };
}

export interface Tile {
  /** The core this tile writes back: [y0, y1) × [x0, x1). */
  y0: number;
  y1: number;
  x0: number;
  x1: number;
  /** The region sent to f_A (the core plus the margin, clipped to the frame). */
  ty0: number;
  ty1: number;
  tx0: number;
  tx1: number;
}

/**
 * Tiles covering an h×w frame so that a tile (core + margin on every side) holds at most
 * `maxPixels` pixels where possible: cores about square (bands when one side is short), of about
 * equal size, multiples of the UNet's divisor (at least one divisor: a budget below
 * (div + 2·margin)² is exceeded by that much). One tile, the whole frame, when it fits.
 */
export function planTiles(h: number, w: number, maxPixels: number, margin: number, div: number): Tile[] {
  if (h * w <= maxPixels) return [{ y0: 0, y1: h, x0: 0, x1: w, ty0: 0, ty1: h, tx0: 0, tx1: w }];
  // The largest core c (multiple of div) with (c + 2·margin)² ≤ maxPixels, or a band when one side is short.
  let ch = Math.max(div, Math.floor((Math.sqrt(maxPixels) - 2 * margin) / div) * div);
  let cw = ch;
  if (h <= ch + 2 * margin) {
    ch = h; // a horizontal band: the whole height, as wide as the budget allows
    cw = Math.max(div, Math.floor((maxPixels / h - 2 * margin) / div) * div);
  } else if (w <= cw + 2 * margin) {
    cw = w;
    ch = Math.max(div, Math.floor((maxPixels / w - 2 * margin) / div) * div);
  }
  // Balance the cores (no thin leftover tile): n tiles of about h/n each, rounded up to the grid.
  const balance = (len: number, core: number) => {
    const n = Math.ceil(len / core);
    return n === 1 ? len : Math.ceil(Math.ceil(len / n) / div) * div;
  };
  ch = balance(h, ch);
  cw = balance(w, cw);
  const tiles: Tile[] = [];
  for (let y0 = 0; y0 < h; y0 += ch) {
    for (let x0 = 0; x0 < w; x0 += cw) {
      const y1 = Math.min(h, y0 + ch);
      const x1 = Math.min(w, x0 + cw);
      tiles.push({
        y0,
        y1,
        x0,
        x1,
        ty0: Math.max(0, y0 - margin),
        ty1: Math.min(h, y1 + margin),
        tx0: Math.max(0, x0 - margin),
        tx1: Math.min(w, x1 + margin),
      });
    }
  }
  return tiles;
}

type RunFrames = (frames: Uint8Array, n: number, h: number, w: number) => Promise<Uint8Array>;

/**
 * Runs `run` (one engine call on [n, h, w, 3]) over frames of any size within a pixel budget per
 * call: frames grouped when small, tiled and stitched when large. Output has the input's shape.
 */
export async function anonymizeWithinBudget(
  run: RunFrames,
  frames: Uint8Array,
  n: number,
  h: number,
  w: number,
  plan: { maxPixelsPerCall: number; batchPixelsPerCall?: number; margin: number; divisor: number },
): Promise<Uint8Array> {
  const frameBytes = h * w * 3;
  // Malformed shapes go to the engine as they are: it reports them with its own one-line error.
  const wellFormed = [n, h, w].every((x) => Number.isInteger(x) && x > 0) && frames.length === n * frameBytes;
  if (!wellFormed) return run(frames, n, h, w);
  const tiles = planTiles(h, w, plan.maxPixelsPerCall, plan.margin, plan.divisor);
  // Memory decides whether a frame is tiled; speed may group fewer frames (or tiles) per call.
  const batchPixels = Math.min(plan.maxPixelsPerCall, plan.batchPixelsPerCall ?? plan.maxPixelsPerCall);
  if (tiles.length === 1) {
    const per = Math.max(1, Math.floor(batchPixels / (h * w)));
    if (per >= n) return run(frames, n, h, w);
    const out = new Uint8Array(frames.length);
    for (let i = 0; i < n; i += per) {
      const k = Math.min(per, n - i);
      out.set(await run(frames.subarray(i * frameBytes, (i + k) * frameBytes), k, h, w), i * frameBytes);
    }
    return out;
  }
  const out = new Uint8Array(frames.length);
  for (const t of tiles) {
    const th = t.ty1 - t.ty0;
    const tw = t.tx1 - t.tx0;
    const tileBytes = th * tw * 3;
    const per = Math.max(1, Math.min(n, Math.floor(batchPixels / (th * tw))));
    const buf = new Uint8Array(per * tileBytes);
    for (let i = 0; i < n; i += per) {
      const k = Math.min(per, n - i);
      // Cut the tile out of k frames.
      for (let f = 0; f < k; f++) {
        const src = (i + f) * frameBytes;
        for (let y = 0; y < th; y++) {
          const row = src + ((t.ty0 + y) * w + t.tx0) * 3;
          buf.set(frames.subarray(row, row + tw * 3), (f * th + y) * tw * 3);
        }
      }
      const res = await run(buf.subarray(0, k * tileBytes), k, th, tw);
      // Stitch the core back.
      const cw = (t.x1 - t.x0) * 3;
      for (let f = 0; f < k; f++) {
        const dst = (i + f) * frameBytes;
        for (let y = t.y0; y < t.y1; y++) {
          const from = (f * th + (y - t.ty0)) * tw * 3 + (t.x0 - t.tx0) * 3;
          out.set(res.subarray(from, from + cw), dst + (y * w + t.x0) * 3);
        }
      }
    }
  }
  return out;
}

/** A call on an Anonymizer after close() (e.g. evicted from the model cache): the app's fault, not the input's. */
export class AnonymizerClosedError extends EngineError {
  constructor(checkpoint: string) {
    super(
      'internal',
      `the anonymizer of ${checkpoint} was closed (evicted from the model cache); load the model again`,
    );
    this.name = 'AnonymizerClosedError';
  }
}

export class Anonymizer {
  /** Pixels (frames × height × width) one engine call holds at most (see AnonymizerOptions). */
  readonly maxPixelsPerCall: number;
  /** Pixels up to which frames are grouped into one call (see AnonymizerOptions). */
  readonly batchPixelsPerCall: number;
  /** Tile overlap in pixels (f_A's receptive field, on the UNet's grid). */
  readonly margin: number;
  readonly divisor: number;
  /** The device f_A runs on (auto resolved: cpu, cuda:0, …). */
  readonly device: string;
  /** The threads f_A was asked for (0 in the settings: all cores, as engineConfigOf). */
  readonly threads: number;

  private constructor(
    private readonly net: NativeAnonymizerNet,
    readonly checkpoint: string,
    readonly meta: CheckpointMeta,
    readonly sha256: string,
    opts: AnonymizerOptions,
    threads: number,
  ) {
    const shape = meta.config.model.fA;
    this.divisor = unetDivisor(shape);
    this.margin = tileMargin(shape);
    this.device = net.describe().device;
    this.threads = threads;
    const onCpu = this.device.startsWith('cpu');
    const fromBudget = opts.memoryBudgetMiB === undefined ? null : callBudgetsFor(opts.memoryBudgetMiB, shape, onCpu);
    const { maxPixelsPerCall, batchPixelsPerCall } = opts;
    this.maxPixelsPerCall = maxPixelsPerCall ?? fromBudget?.maxPixelsPerCall ?? defaultMaxPixelsPerCall(shape);
    if (!(Number.isInteger(this.maxPixelsPerCall) && this.maxPixelsPerCall >= 1))
      throw new Error(`maxPixelsPerCall must be a positive integer, got ${maxPixelsPerCall}`);
    this.batchPixelsPerCall = Math.min(
      this.maxPixelsPerCall,
      batchPixelsPerCall ??
        fromBudget?.batchPixelsPerCall ??
        (onCpu ? cpuBatchPixelsPerCall(shape) : this.maxPixelsPerCall),
    );
    if (!(Number.isInteger(this.batchPixelsPerCall) && this.batchPixelsPerCall >= 1))
      throw new Error(`batchPixelsPerCall must be a positive integer, got ${batchPixelsPerCall}`);
  }

  static async load(modelPath: string, opts: AnonymizerOptions = {}): Promise<Anonymizer> {
    const file = resolveCheckpointPath(modelPath);
    const meta = readCheckpointMeta(file);
    const config = structuredClone(meta.config);
    if (opts.device) config.device = opts.device;
    if (opts.threads !== undefined) config.threads = opts.threads;
    if (opts.memoryBudgetMiB !== undefined) callBudgetsFor(opts.memoryBudgetMiB, meta.config.model.fA, true); // checked before f_A is built
    checkDevice(config.device);
    const threads = config.threads > 0 ? config.threads : os.availableParallelism();
    let net: NativeAnonymizerNet;
    try {
      net = new (loadNative().AnonymizerNet)({ fA: config.model.fA, device: config.device, threads });
    } catch (err) {
      throw mapNativeError(err);
    }
    try {
      await net.load(file);
    } catch (err) {
      net.dispose(); // f_A was built (on the device): freed now, not when the collector finds it
      throw mapNativeError(err);
    }
    try {
      return new Anonymizer(net, file, meta, fileSha256(file), opts, threads);
    } catch (err) {
      net.dispose();
      throw err;
    }
  }

  private queue: Promise<unknown> = Promise.resolve();
  private closed: Promise<void> | undefined;

  /** Whether close() was called: every later call is refused. */
  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  /**
   * Frees f_A: calls already queued finish first, later ones are refused (AnonymizerClosedError).
   * Idempotent; resolves once the native model is disposed.
   */
  close(): Promise<void> {
    this.closed ??= this.queue.then(() => this.net.dispose());
    return this.closed;
  }

  /**
   * Frames uint8 RGB [n, h, w, 3] of any size → anonymized frames of the same shape, in engine
   * calls of at most `maxPixelsPerCall` pixels (tiled when one frame is larger). Calls from several
   * users (an export job and a live preview) are queued, not rejected as busy.
   */
  anonymize(frames: Uint8Array, n: number, h: number, w: number): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new AnonymizerClosedError(this.checkpoint));
    const call = async (f: Uint8Array, k: number, fh: number, fw: number) => {
      try {
        return await this.net.anonymize(f, k, fh, fw);
      } catch (err) {
        throw mapNativeError(err);
      }
    };
    const run = this.queue.then(() =>
      anonymizeWithinBudget(call, frames, n, h, w, {
        maxPixelsPerCall: this.maxPixelsPerCall,
        batchPixelsPerCall: this.batchPixelsPerCall,
        margin: this.margin,
        divisor: this.divisor,
      }),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Sum of |w| of f_A: the training engine's fingerprint().fA for the same weights. */
  fingerprint(): number {
    if (this.closed) throw new AnonymizerClosedError(this.checkpoint);
    return this.net.fingerprint().fA;
  }
}
