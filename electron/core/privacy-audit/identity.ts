// Whole-body identity attackers on person tracks (who is this person, and can the footage follow
// them over time?). Identities are tracks on the raw video; each track's first half of crops is
// the gallery, its second half the probes. Four attackers, each scored as rank-1 per track
// (macro-averaged over tracks, so long tracks do not dominate; chance = 1 / tracks):
//   appearance  — a hand-made whole-body descriptor (striped HSV histograms), nearest gallery track;
//   cnn         — a small CNN classifier fitted on the gallery crops;
//   colour-mlp  — an MLP on colour histograms fitted on the gallery crops (the strongest attacker
//                 on colour in the SynthRoom protocol);
// each either holding raw pictures of the people (gallery = raw crops: re-identification) or only
// the anonymized footage (gallery = anonymized crops: linkage, SPAct's own protocol). The static
// background is masked in every crop, so a person's place in the scene does not give them away.
import { checkDevice } from '../../../native-models/ts/engine.js';
import { loadNative } from '../../../native-models/ts/native.js';
import type { Box } from './judges.js';
import type { Track } from './tracks.js';
import { iou } from './tracks.js';

/** An RGB video held in memory (frames uint8 [h, w, 3] each). */
export interface FrameSet {
  width: number;
  height: number;
  frames: Uint8Array[];
}

export const CROP_W = 48;
export const CROP_H = 96;
const MASK_GREY = 128;
/** Dark enough to stand out from pavement, grass and walls (the attackers find people in a
 *  video by its own foreground), and apart from the masked background's grey. */
export const SILHOUETTE_GREY = 64;

/** Per-pixel median over up to `maxFrames` evenly spaced frames: the static scene. */
export function backgroundMedian(video: FrameSet, maxFrames = 41): Uint8Array {
  const n = video.frames.length;
  const picks = Array.from({ length: Math.min(n, maxFrames) }, (_, i) =>
    Math.round((i * (n - 1)) / Math.max(1, Math.min(n, maxFrames) - 1)),
  );
  const size = video.width * video.height * 3;
  const out = new Uint8Array(size);
  const vals = new Uint8Array(picks.length);
  for (let p = 0; p < size; p++) {
    for (let k = 0; k < picks.length; k++) vals[k] = video.frames[picks[k]!]![p]!;
    vals.sort();
    out[p] = vals[vals.length >> 1]!;
  }
  return out;
}

/** Pixels that differ from the background (max channel difference > threshold), dilated by 1. */
export function foregroundMask(
  frame: Uint8Array,
  background: Uint8Array,
  width: number,
  height: number,
  threshold = 28,
): Uint8Array {
  const raw = new Uint8Array(width * height);
  for (let i = 0, p = 0; i < raw.length; i++, p += 3) {
    const d = Math.max(
      Math.abs(frame[p]! - background[p]!),
      Math.abs(frame[p + 1]! - background[p + 1]!),
      Math.abs(frame[p + 2]! - background[p + 2]!),
    );
    raw[i] = d > threshold ? 1 : 0;
  }
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let on = 0;
      for (let dy = -1; dy <= 1 && !on; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx >= 0 && xx < width && raw[yy * width + xx]) {
            on = 1;
            break;
          }
        }
      }
      out[y * width + x] = on;
    }
  }
  return out;
}

/** Where a person crop comes from: the box (with a small margin) and its foreground mask. */
export interface CropSpec {
  frame: number;
  x0: number;
  y0: number;
  w: number;
  h: number;
  /** CROP_W × CROP_H: 1 where the person is (foreground), 0 where the background is masked. */
  mask: Uint8Array;
}

/** The mask of a crop (CROP_W × CROP_H) sampled from a foreground map of the whole frame. */
export function cropMask(spec: Omit<CropSpec, 'mask'>, fg: Uint8Array, width: number, height: number): Uint8Array {
  const mask = new Uint8Array(CROP_W * CROP_H);
  for (let cy = 0; cy < CROP_H; cy++) {
    const sy = Math.min(height - 1, Math.floor(spec.y0 + ((cy + 0.5) * spec.h) / CROP_H));
    for (let cx = 0; cx < CROP_W; cx++) {
      const sx = Math.min(width - 1, Math.floor(spec.x0 + ((cx + 0.5) * spec.w) / CROP_W));
      mask[cy * CROP_W + cx] = fg[sy * width + sx]!;
    }
  }
  return mask;
}

export function cropSpec(frame: number, box: Box, fg: Uint8Array, width: number, height: number): CropSpec {
  const mx = box.w * 0.08;
  const my = box.h * 0.04;
  const x0 = Math.max(0, (box.x - mx) * width);
  const y0 = Math.max(0, (box.y - my) * height);
  const x1 = Math.min(width, (box.x + box.w + mx) * width);
  const y1 = Math.min(height, (box.y + box.h + my) * height);
  const geometry = { frame, x0, y0, w: Math.max(1, x1 - x0), h: Math.max(1, y1 - y0) };
  return { ...geometry, mask: cropMask(geometry, fg, width, height) };
}

/** The crop of `spec` from a frame (bilinear), background pixels set to flat grey. */
export function cropPixels(frame: Uint8Array, width: number, height: number, spec: CropSpec): Uint8Array {
  const out = new Uint8Array(CROP_W * CROP_H * 3);
  for (let cy = 0; cy < CROP_H; cy++) {
    const fy = Math.min(height - 1, Math.max(0, spec.y0 + ((cy + 0.5) * spec.h) / CROP_H - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(height - 1, y0 + 1);
    const ay = fy - y0;
    for (let cx = 0; cx < CROP_W; cx++) {
      const o = (cy * CROP_W + cx) * 3;
      if (!spec.mask[cy * CROP_W + cx]) {
        out[o] = out[o + 1] = out[o + 2] = MASK_GREY;
        continue;
      }
      const fx = Math.min(width - 1, Math.max(0, spec.x0 + ((cx + 0.5) * spec.w) / CROP_W - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(width - 1, x0 + 1);
      const ax = fx - x0;
      for (let c = 0; c < 3; c++) {
        const v00 = frame[(y0 * width + x0) * 3 + c]!;
        const v01 = frame[(y0 * width + x1) * 3 + c]!;
        const v10 = frame[(y1 * width + x0) * 3 + c]!;
        const v11 = frame[(y1 * width + x1) * 3 + c]!;
        out[o + c] = Math.round((v00 * (1 - ax) + v01 * ax) * (1 - ay) + (v10 * (1 - ax) + v11 * ax) * ay);
      }
    }
  }
  return out;
}

/** A person crop of the audit: which track, gallery or probe, and where it comes from. */
export interface PersonSample {
  track: number;
  role: 'gallery' | 'probe';
  spec: CropSpec;
}

/**
 * Gallery and probe crops of every usable track: points that overlap another person are left
 * out (their crop shows two people), crops with almost no foreground too; a track needs at least
 * `minPerHalf` crops in each half. Track indices are renumbered 0..K-1.
 */
export function personSamples(
  tracks: Track[],
  foreground: (frame: number) => Uint8Array,
  width: number,
  height: number,
  minPerHalf = 3,
): { samples: PersonSample[]; tracks: number } {
  const samples: PersonSample[] = [];
  let k = 0;
  for (const t of tracks) {
    const specs: CropSpec[] = [];
    for (const p of t.points) {
      if (p.occluded) continue;
      const spec = cropSpec(p.frame, p.box, foreground(p.frame), width, height);
      const on = spec.mask.reduce((a, v) => a + v, 0);
      if (on >= 0.12 * spec.mask.length) specs.push(spec);
    }
    const half = Math.floor(specs.length / 2);
    if (half < minPerHalf) continue;
    specs.forEach((spec, i) => samples.push({ track: k, role: i < half ? 'gallery' : 'probe', spec }));
    k++;
  }
  return { samples, tracks: k };
}

// ---------------------------------------------------------------- the appearance descriptor

const STRIPES = 6;
const HB = 8;
const SB = 3;
const VB = 4;

/** Striped HSV histograms of the foreground (square-rooted, L2-normalised): a classic whole-body
 *  re-ID descriptor that needs no training. */
export function appearanceDescriptor(crop: Uint8Array, mask: Uint8Array): Float32Array {
  const bins = HB * SB * VB;
  const d = new Float32Array(STRIPES * bins);
  const counts = new Float32Array(STRIPES);
  for (let y = 0; y < CROP_H; y++) {
    const s = Math.min(STRIPES - 1, Math.floor((y * STRIPES) / CROP_H));
    for (let x = 0; x < CROP_W; x++) {
      const i = y * CROP_W + x;
      if (!mask[i]) continue;
      const r = crop[i * 3]! / 255;
      const g = crop[i * 3 + 1]! / 255;
      const b = crop[i * 3 + 2]! / 255;
      const mx = Math.max(r, g, b);
      const mn = Math.min(r, g, b);
      const c = mx - mn;
      let h = 0;
      if (c > 1e-6) {
        if (mx === r) h = ((g - b) / c + 6) % 6;
        else if (mx === g) h = (b - r) / c + 2;
        else h = (r - g) / c + 4;
      }
      const sat = mx > 0 ? c / mx : 0;
      const hb = Math.min(HB - 1, Math.floor((h / 6) * HB));
      const sb = Math.min(SB - 1, Math.floor(sat * SB));
      const vb = Math.min(VB - 1, Math.floor(mx * VB));
      d[s * bins + (hb * SB + sb) * VB + vb]! += 1;
      counts[s]! += 1;
    }
  }
  let norm = 0;
  for (let s = 0; s < STRIPES; s++) {
    for (let j = 0; j < bins; j++) {
      const v = counts[s]! > 0 ? Math.sqrt(d[s * bins + j]! / counts[s]!) : 0;
      d[s * bins + j] = v;
      norm += v * v;
    }
  }
  norm = Math.sqrt(norm) || 1;
  for (let j = 0; j < d.length; j++) d[j]! /= norm;
  return d;
}

const dot = (a: Float32Array, b: Float32Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** Macro rank-1: mean over tracks of the share of a track's probes scored as that track. A probe
 *  whose best score is shared by several tracks counts 1/(number tied) when its own is among them. */
function macroRank1(scores: Float32Array[], truth: number[], tracks: number): number {
  const hit = new Float64Array(tracks);
  const seen = new Float64Array(tracks);
  scores.forEach((s, i) => {
    const t = truth[i]!;
    let best = -Infinity;
    for (const v of s) best = Math.max(best, v);
    let tied = 0;
    for (const v of s) if (v >= best - 1e-6 * Math.max(1, Math.abs(best))) tied++;
    const own = s[t]! >= best - 1e-6 * Math.max(1, Math.abs(best));
    hit[t]! += own ? 1 / tied : 0;
    seen[t]! += 1;
  });
  let sum = 0;
  let k = 0;
  for (let t = 0; t < tracks; t++) {
    if (seen[t]! === 0) continue;
    sum += hit[t]! / seen[t]!;
    k++;
  }
  return k ? sum / k : 0;
}

/** Nearest gallery track by the appearance descriptor (gallery = mean descriptor per track). */
export function appearanceRank1(
  gallery: { track: number; crop: Uint8Array; mask: Uint8Array }[],
  probes: { track: number; crop: Uint8Array; mask: Uint8Array }[],
  tracks: number,
): number {
  const dim = STRIPES * HB * SB * VB;
  const means = Array.from({ length: tracks }, () => new Float32Array(dim));
  for (const g of gallery) {
    const d = appearanceDescriptor(g.crop, g.mask);
    const m = means[g.track]!;
    for (let j = 0; j < dim; j++) m[j]! += d[j]!;
  }
  for (const m of means) {
    const n = Math.sqrt(dot(m, m)) || 1;
    for (let j = 0; j < dim; j++) m[j]! /= n;
  }
  const scores = probes.map((p) => {
    const d = appearanceDescriptor(p.crop, p.mask);
    return Float32Array.from(means, (m) => dot(d, m));
  });
  return macroRank1(
    scores,
    probes.map((p) => p.track),
    tracks,
  );
}

// ---------------------------------------------------------------- trained attackers

interface ProbeHandle {
  train(b: {
    frames: Uint8Array;
    n: number;
    t: number;
    h: number;
    w: number;
    targets: Int32Array;
  }): Promise<{ loss: number }>;
  predict(b: { frames: Uint8Array; n: number; t: number; h: number; w: number }): Promise<Float32Array>;
}

export type ClassifierKind = 'cnn' | 'colour-mlp';

export interface ClassifierBudget {
  epochs: number;
  batchSize: number;
  threads: number;
  /** auto | cpu | cuda | cuda:N (the app's setting). */
  device: string;
  seed: number;
}

export const DEFAULT_CLASSIFIER_BUDGET: ClassifierBudget = {
  epochs: 30,
  batchSize: 32,
  threads: 0,
  device: 'auto',
  seed: 7,
};

/** Variants an attacker holding raw pictures trains on, to be robust to what anonymizers do:
 *  greyscale, blur, brightness/contrast changes. */
export function robustVariants(crop: Uint8Array, mask: Uint8Array, seed: number): Uint8Array[] {
  const grey = new Uint8Array(crop.length);
  const blur = new Uint8Array(crop.length);
  const jitter = new Uint8Array(crop.length);
  const gain = 0.6 + 0.8 * (((seed * 2654435761) >>> 0) / 4294967296);
  const bias = 40 * (((seed * 40503 + 17) % 1000) / 1000 - 0.5);
  for (let i = 0; i < CROP_W * CROP_H; i++) {
    const o = i * 3;
    const y = Math.round(0.299 * crop[o]! + 0.587 * crop[o + 1]! + 0.114 * crop[o + 2]!);
    grey[o] = grey[o + 1] = grey[o + 2] = y;
    for (let c = 0; c < 3; c++) {
      jitter[o + c] = mask[i]
        ? Math.max(0, Math.min(255, Math.round((crop[o + c]! - 128) * gain + 128 + bias)))
        : MASK_GREY;
    }
  }
  // 5×5 box blur inside the foreground (the background stays masked).
  for (let y = 0; y < CROP_H; y++) {
    for (let x = 0; x < CROP_W; x++) {
      const i = y * CROP_W + x;
      for (let c = 0; c < 3; c++) {
        if (!mask[i]) {
          blur[i * 3 + c] = MASK_GREY;
          continue;
        }
        let s = 0;
        let n = 0;
        for (let dy = -2; dy <= 2; dy++) {
          for (let dx = -2; dx <= 2; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy < 0 || yy >= CROP_H || xx < 0 || xx >= CROP_W || !mask[yy * CROP_W + xx]) continue;
            s += crop[(yy * CROP_W + xx) * 3 + c]!;
            n++;
          }
        }
        blur[i * 3 + c] = Math.round(s / Math.max(1, n));
      }
    }
  }
  return [grey, blur, jitter];
}

/** Greyscale with the foreground's luminance standardised (mean 128, spread 40): what a person
 *  looks like independent of colour remaps, exposure and contrast. An attacker holding raw
 *  pictures compares people this way when the anonymized colours cannot be trusted. */
export function normalizedGrey(crop: Uint8Array, mask: Uint8Array): Uint8Array {
  const n = CROP_W * CROP_H;
  const y = new Float32Array(n);
  let sum = 0;
  let sq = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    y[i] = 0.299 * crop[i * 3]! + 0.587 * crop[i * 3 + 1]! + 0.114 * crop[i * 3 + 2]!;
    if (!mask[i]) continue;
    sum += y[i]!;
    sq += y[i]! * y[i]!;
    count++;
  }
  const mean = count ? sum / count : 128;
  const std = count ? Math.sqrt(Math.max(0, sq / count - mean * mean)) : 0;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const v = mask[i] ? Math.max(0, Math.min(255, Math.round(128 + (40 * (y[i]! - mean)) / (std + 4)))) : MASK_GREY;
    out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = v;
  }
  return out;
}

/** Trains a fresh classifier (track = class) on the gallery crops; returns a scorer of crops. */
export async function trainClassifier(
  kind: ClassifierKind,
  gallery: { track: number; crop: Uint8Array }[],
  tracks: number,
  budget: ClassifierBudget = DEFAULT_CLASSIFIER_BUDGET,
): Promise<(crops: Uint8Array[]) => Promise<Float32Array[]>> {
  const { Probe } = loadNative() as unknown as { Probe: new (c: Record<string, unknown>) => ProbeHandle };
  checkDevice(budget.device); // an absent CUDA device: kind 'unavailable', one line
  const probe = new Probe({
    kind: kind === 'cnn' ? 'resnet2d' : 'hist-mlp',
    numOutputs: tracks,
    widths: [16, 32, 64, 128],
    blocks: [1, 1, 1, 1],
    histBins: 8,
    lr: 1e-3,
    augment: true,
    device: budget.device,
    threads: budget.threads,
    seed: budget.seed,
  });
  const px = CROP_W * CROP_H * 3;
  // A fixed shuffle per epoch from the seed: the same inputs give the same attacker.
  let state = budget.seed * 7919 + 1;
  const rand = () => (state = (state * 1103515245 + 12345) >>> 0) / 4294967296;
  const order = gallery.map((_, i) => i);
  const bs = Math.min(budget.batchSize, gallery.length);
  for (let e = 0; e < budget.epochs; e++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let s = 0; s + bs <= order.length; s += bs) {
      const frames = new Uint8Array(bs * px);
      const targets = new Int32Array(bs);
      for (let k = 0; k < bs; k++) {
        const g = gallery[order[s + k]!]!;
        frames.set(g.crop, k * px);
        targets[k] = g.track;
      }
      await probe.train({ frames, n: bs, t: 1, h: CROP_H, w: CROP_W, targets });
    }
  }
  return async (crops) => {
    const out: Float32Array[] = [];
    for (let s = 0; s < crops.length; s += 64) {
      const part = crops.slice(s, s + 64);
      const frames = new Uint8Array(part.length * px);
      part.forEach((c, k) => frames.set(c, k * px));
      const logits = await probe.predict({ frames, n: part.length, t: 1, h: CROP_H, w: CROP_W });
      for (let k = 0; k < part.length; k++) out.push(logits.slice(k * tracks, (k + 1) * tracks));
    }
    return out;
  };
}

export async function classifierRank1(
  score: (crops: Uint8Array[]) => Promise<Float32Array[]>,
  probes: { track: number; crop: Uint8Array }[],
  tracks: number,
): Promise<number> {
  const s = await score(probes.map((p) => p.crop));
  return macroRank1(
    s,
    probes.map((p) => p.track),
    tracks,
  );
}

/** Flat grey silhouettes of the people on the static scene: shape and place only, the reference
 *  for "nothing beyond shape leaks". People = foreground pixels inside any person box. */
export function silhouetteFrame(
  background: Uint8Array,
  fg: Uint8Array,
  boxes: Box[],
  width: number,
  height: number,
  grey = SILHOUETTE_GREY,
): Uint8Array {
  const out = new Uint8Array(background);
  for (const b of boxes) {
    const x0 = Math.max(0, Math.floor(b.x * width));
    const y0 = Math.max(0, Math.floor(b.y * height));
    const x1 = Math.min(width, Math.ceil((b.x + b.w) * width));
    const y1 = Math.min(height, Math.ceil((b.y + b.h) * height));
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const i = y * width + x;
        if (fg[i]) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = grey;
      }
    }
  }
  return out;
}

export { iou };
