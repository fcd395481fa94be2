// The training data of a real room (the engine's room mode): frames of the room's footage at the
// working size, and what pretrained judges saw on them — people's boxes, their body keypoints, and
// which person is which over time (tracks). No human labels. Batches are crops at the working
// scale around people: B different people, each at two times (the identity budget's positives),
// with heatmap targets for the utility student and each person's box.
//
// Folder format (`spact-room-v1`): room.json (below) and frames.u8 (frames × height × width × 3).
import fs from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { formatIssues } from './config.js';
import { DatasetError, type Split } from './dataset.js';
import type { NativeBatch } from './native.js';
import { recordCipherFor, RecordFile, type RecordCipher } from './record-file.js';
import { mulberry32 } from './rng.js';

/** MoveNet's 17 body keypoints, in order; heatmap channel k+1 is part k (channel 0: people). */
export const BODY_PARTS = [
  'nose',
  'leftEye',
  'rightEye',
  'leftEar',
  'rightEar',
  'leftShoulder',
  'rightShoulder',
  'leftElbow',
  'rightElbow',
  'leftWrist',
  'rightWrist',
  'leftHip',
  'rightHip',
  'leftKnee',
  'rightKnee',
  'leftAnkle',
  'rightAnkle',
] as const;
export const ROOM_HEATMAPS = 1 + BODY_PARTS.length;
/** Heatmap channel of each part after a horizontal flip (left ↔ right). */
const FLIPPED = [
  0,
  ...BODY_PARTS.map((p) => {
    const mirror = p.startsWith('left')
      ? p.replace('left', 'right')
      : p.startsWith('right')
        ? p.replace('right', 'left')
        : p;
    return 1 + BODY_PARTS.indexOf(mirror as (typeof BODY_PARTS)[number]);
  }),
];

const PersonSchema = z.object({
  /** Box [x, y, w, h], normalised to the frame. */
  box: z.tuple([z.number(), z.number(), z.number(), z.number()]),
  score: z.number(),
  /** Track id (one person over time) or null when the person was not followed. */
  track: z.number().int().nullable(),
  /** [x, y, score] per BODY_PARTS entry, normalised to the frame; null when not judged. */
  keypoints: z
    .array(z.tuple([z.number(), z.number(), z.number()]))
    .length(BODY_PARTS.length)
    .nullable(),
});
export type RoomPerson = z.infer<typeof PersonSchema>;

export const RoomManifestSchema = z.object({
  format: z.literal('spact-room-v1'),
  width: z.number().int().min(8),
  height: z.number().int().min(8),
  fps: z.number().positive(),
  frames: z.number().int().min(1),
  /** Where the frames come from (file, seconds, frame range in frames.u8) — for the run's record. */
  sources: z.array(
    z.object({
      file: z.string(),
      startS: z.number(),
      endS: z.number(),
      first: z.number().int(),
      count: z.number().int(),
    }),
  ),
  people: z.array(z.array(PersonSchema)),
  /** Frame indices of each split (validation: a part of the footage training never sees). */
  splits: z.object({ train: z.array(z.number().int()), val: z.array(z.number().int()) }),
  /** The key that seals each frame (see record-file.ts); absent: frames stored as they are. */
  sealedBy: z.string().optional(),
  /** What labelled the people (judges and their settings), for the model card. */
  labeller: z.record(z.string(), z.unknown()),
});
export type RoomManifest = z.infer<typeof RoomManifestSchema>;

export const ROOM_MANIFEST = 'room.json';
export const ROOM_FRAMES = 'frames.u8';

export function isRoomDataset(dir: string): boolean {
  return fs.existsSync(path.join(dir, ROOM_MANIFEST));
}

export interface RoomCropOptions {
  /** Side of the square training crops, at the working scale (px). */
  cropSize: number;
  /** Photometric jitter of training crops (brightness/contrast ±). */
  jitter: number;
  /** The two times of one person are preferably at least this far apart (seconds). */
  minGapS: number;
}

interface Sample {
  frame: number;
  person: number;
  track: number;
}

/** Reads room batches. Deterministic: a batch depends only on (split, indices, seed). */
export class RoomDataset {
  private readonly frameFile: RecordFile;
  private readonly frameBytes: number;
  private readonly samples: Record<'train' | 'val', Sample[]>;
  private readonly byTrack: Record<'train' | 'val', Map<number, Sample[]>>;

  private constructor(
    readonly dir: string,
    readonly manifest: RoomManifest,
    readonly crop: RoomCropOptions,
  ) {
    this.frameBytes = manifest.width * manifest.height * 3;
    this.frameFile = new RecordFile(
      path.join(dir, ROOM_FRAMES),
      this.frameBytes,
      'r',
      recordCipherFor(manifest.sealedBy, `the room dataset ${dir}`),
    );
    const build = (frames: number[]) => {
      const samples: Sample[] = [];
      const byTrack = new Map<number, Sample[]>();
      for (const frame of frames) {
        manifest.people[frame]!.forEach((p, person) => {
          if (p.track === null) return;
          const s = { frame, person, track: p.track };
          samples.push(s);
          if (!byTrack.has(p.track)) byTrack.set(p.track, []);
          byTrack.get(p.track)!.push(s);
        });
      }
      // A person seen once cannot be a positive pair: leave them out.
      for (const [t, list] of byTrack) if (list.length < 2) byTrack.delete(t);
      return { samples: samples.filter((s) => byTrack.has(s.track)), byTrack };
    };
    const train = build(manifest.splits.train);
    const val = build(manifest.splits.val);
    this.samples = { train: train.samples, val: val.samples };
    this.byTrack = { train: train.byTrack, val: val.byTrack };
  }

  static open(dir: string, crop: RoomCropOptions): RoomDataset {
    const file = path.join(dir, ROOM_MANIFEST);
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new DatasetError(`${file} is not a readable room dataset: ${(err as Error).message}`);
    }
    const parsed = RoomManifestSchema.safeParse(raw);
    if (!parsed.success) throw new DatasetError(`${file}: ${formatIssues(parsed.error)}`);
    const m = parsed.data;
    if (m.people.length !== m.frames)
      throw new DatasetError(`${file}: people are listed for ${m.people.length} of ${m.frames} frames`);
    const framesFile = path.join(dir, ROOM_FRAMES);
    const expected =
      m.frames * RecordFile.stride(m.width * m.height * 3, recordCipherFor(m.sealedBy, `the room dataset ${dir}`));
    if (!fs.existsSync(framesFile) || fs.statSync(framesFile).size !== expected) {
      throw new DatasetError(`${framesFile} is missing or not ${expected} bytes; the room dataset is incomplete`);
    }
    if (crop.cropSize > Math.min(m.width, m.height)) {
      throw new DatasetError(`room.cropSize ${crop.cropSize} is larger than the footage (${m.width}×${m.height})`);
    }
    const ds = new RoomDataset(dir, m, crop);
    if (ds.tracks('train') < 2) {
      ds.close();
      throw new DatasetError(
        'the footage shows fewer than 2 people that could be followed over time: nothing to learn identity from',
      );
    }
    return ds;
  }

  /** Samples (person at a time) in a split: the unit BatchSampler draws from. */
  count(split: Split): number {
    return split === 'test' ? 0 : this.samples[split].length;
  }

  /** People (tracks) with at least two sightings in a split: the most pairs a batch can hold. */
  tracks(split: 'train' | 'val'): number {
    return this.byTrack[split].size;
  }

  hasPrivacyLabels(): boolean {
    return false;
  }

  /**
   * B = indices.length people (duplicate people replaced by others, at most `tracks(split)`), each
   * at two times → 2B crops: frames [2B, 1, S, S, 3], heatmaps [2B, K, S/4, S/4], boxes [2B, 4].
   */
  readBatch(
    split: Split,
    indices: number[],
    seed: number,
  ): NativeBatch & { heatmaps: Float32Array; boxes: Float32Array } {
    if (split === 'test') throw new DatasetError('room datasets have no test split');
    const pool = this.samples[split];
    const rand = mulberry32((seed * 2654435761 + indices.reduce((a, i) => (a * 31 + i) >>> 0, 17)) >>> 0);
    const used = new Set<number>();
    const anchors: Sample[] = [];
    for (const i of indices) {
      if (used.size >= this.tracks(split)) break;
      let k = ((i % pool.length) + pool.length) % pool.length;
      // Another person for a duplicate: two crops of one person must not be each other's negatives.
      while (used.has(pool[k]!.track)) k = (k + 1 + Math.floor(rand() * 7)) % pool.length;
      used.add(pool[k]!.track);
      anchors.push(pool[k]!);
    }
    const pairs = anchors.map((a) => [a, this.partner(split, a, rand)] as const);
    const views = [...pairs.map((p) => p[0]), ...pairs.map((p) => p[1])];
    const S = this.crop.cropSize;
    const cells = S / 4;
    const frames = new Uint8Array(views.length * S * S * 3);
    const heatmaps = new Float32Array(views.length * ROOM_HEATMAPS * cells * cells);
    const boxes = new Float32Array(views.length * 4);
    const frameBuf = new Uint8Array(this.frameBytes);
    views.forEach((v, i) => {
      const augment = split === 'train';
      const g = this.window(v, augment ? rand : () => 0.5, augment);
      if (!this.frameFile.read(v.frame, frameBuf)) throw new DatasetError(`short read of frame ${v.frame}`);
      this.cropPixels(frameBuf, g, frames.subarray(i * S * S * 3, (i + 1) * S * S * 3), augment ? rand : null);
      this.drawHeatmaps(
        v.frame,
        g,
        heatmaps.subarray(i * ROOM_HEATMAPS * cells * cells, (i + 1) * ROOM_HEATMAPS * cells * cells),
      );
      const p = this.manifest.people[v.frame]![v.person]!;
      const b = this.toCrop(g, p.box[0], p.box[1]);
      const e = this.toCrop(g, p.box[0] + p.box[2], p.box[1] + p.box[3]);
      const [x0, x1] = g.flip ? [1 - e[0], 1 - b[0]] : [b[0], e[0]];
      boxes.set([clamp01(x0), clamp01(b[1]), clamp01(x1), clamp01(e[1])], i * 4);
    });
    return { frames, n: views.length, t: 1, h: S, w: S, heatmaps, boxes };
  }

  close(): void {
    this.frameFile.close();
  }

  /** The same person at another time, preferably at least minGapFrames away. */
  private partner(split: 'train' | 'val', a: Sample, rand: () => number): Sample {
    const list = this.byTrack[split].get(a.track)!.filter((s) => s.frame !== a.frame);
    const gap = this.crop.minGapS * this.manifest.fps;
    const far = list.filter((s) => Math.abs(s.frame - a.frame) >= gap);
    const from = far.length ? far : list;
    return from[Math.floor(rand() * from.length)]!;
  }

  /** The crop window (in frame pixels) around a person: jittered position and scale in training;
   *  people taller than 80% of the crop are seen through a larger window scaled down. */
  private window(
    v: Sample,
    rand: () => number,
    augment: boolean,
  ): { x0: number; y0: number; side: number; flip: boolean } {
    const m = this.manifest;
    const p = m.people[v.frame]![v.person]!;
    const S = this.crop.cropSize;
    const personH = p.box[3] * m.height;
    let side = Math.max(S, personH / 0.8);
    if (augment) side *= 0.85 + 0.3 * rand();
    side = Math.min(side, m.width, m.height);
    const cx = (p.box[0] + p.box[2] / 2) * m.width + (augment ? (rand() - 0.5) * 0.5 * side : 0);
    const cy = (p.box[1] + p.box[3] / 2) * m.height + (augment ? (rand() - 0.5) * 0.3 * side : 0);
    const x0 = Math.min(m.width - side, Math.max(0, cx - side / 2));
    const y0 = Math.min(m.height - side, Math.max(0, cy - side / 2));
    return { x0, y0, side, flip: augment && rand() < 0.5 };
  }

  /** Frame-normalised point → crop-normalised point (before the flip). */
  private toCrop(g: { x0: number; y0: number; side: number }, x: number, y: number): [number, number] {
    return [(x * this.manifest.width - g.x0) / g.side, (y * this.manifest.height - g.y0) / g.side];
  }

  private cropPixels(
    frame: Uint8Array,
    g: { x0: number; y0: number; side: number; flip: boolean },
    out: Uint8Array,
    rand: (() => number) | null,
  ): void {
    const { width: W, height: H } = this.manifest;
    const S = this.crop.cropSize;
    const scale = g.side / S;
    const gain = rand ? 1 + this.crop.jitter * (2 * rand() - 1) : 1;
    const bias = rand ? 255 * 0.5 * this.crop.jitter * (2 * rand() - 1) : 0;
    for (let y = 0; y < S; y++) {
      const fy = Math.min(H - 1, Math.max(0, g.y0 + (y + 0.5) * scale - 0.5));
      const y0 = Math.floor(fy);
      const y1 = Math.min(H - 1, y0 + 1);
      const ay = fy - y0;
      for (let x = 0; x < S; x++) {
        const sx = g.flip ? S - 1 - x : x;
        const fx = Math.min(W - 1, Math.max(0, g.x0 + (sx + 0.5) * scale - 0.5));
        const x0 = Math.floor(fx);
        const x1 = Math.min(W - 1, x0 + 1);
        const ax = fx - x0;
        const o = (y * S + x) * 3;
        for (let c = 0; c < 3; c++) {
          const v =
            (frame[(y0 * W + x0) * 3 + c]! * (1 - ax) + frame[(y0 * W + x1) * 3 + c]! * ax) * (1 - ay) +
            (frame[(y1 * W + x0) * 3 + c]! * (1 - ax) + frame[(y1 * W + x1) * 3 + c]! * ax) * ay;
          out[o + c] = Math.max(0, Math.min(255, Math.round((v - 128) * gain + 128 + bias)));
        }
      }
    }
  }

  /** Soft targets: channel 0 an elliptical blob per person (σ = a quarter of its box), channels
   *  1..17 a Gaussian per confident keypoint (σ = 4% of the person's height, at least one cell). */
  private drawHeatmaps(
    frame: number,
    g: { x0: number; y0: number; side: number; flip: boolean },
    out: Float32Array,
  ): void {
    const cells = this.crop.cropSize / 4;
    const plane = cells * cells;
    const toCell = (x: number, y: number): [number, number] => {
      const [u, v] = this.toCrop(g, x, y);
      return [(g.flip ? 1 - u : u) * cells - 0.5, v * cells - 0.5];
    };
    const splat = (channel: number, cx: number, cy: number, sx: number, sy: number) => {
      const r = 3;
      const xa = Math.max(0, Math.floor(cx - r * sx));
      const xb = Math.min(cells - 1, Math.ceil(cx + r * sx));
      const ya = Math.max(0, Math.floor(cy - r * sy));
      const yb = Math.min(cells - 1, Math.ceil(cy + r * sy));
      for (let y = ya; y <= yb; y++) {
        for (let x = xa; x <= xb; x++) {
          const v = Math.exp(-0.5 * (((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2));
          const i = channel * plane + y * cells + x;
          if (v > out[i]!) out[i] = v;
        }
      }
    };
    const cellPx = g.side / cells; // frame pixels per heatmap cell
    for (const p of this.manifest.people[frame]!) {
      if (p.score < 0.4) continue;
      const [cx, cy] = toCell(p.box[0] + p.box[2] / 2, p.box[1] + p.box[3] / 2);
      const wCells = (p.box[2] * this.manifest.width) / cellPx;
      const hCells = (p.box[3] * this.manifest.height) / cellPx;
      splat(0, cx, cy, Math.max(0.75, wCells / 4), Math.max(0.75, hCells / 4));
      if (!p.keypoints) continue;
      const sigma = Math.max(1, 0.04 * hCells);
      p.keypoints.forEach(([x, y, s], k) => {
        if (s < 0.3) return;
        const [kx, ky] = toCell(x, y);
        splat(g.flip ? FLIPPED[k + 1]! : k + 1, kx, ky, sigma, sigma);
      });
    }
  }
}

const clamp01 = (v: number) => Math.max(0, Math.min(1, v));

/** Writes a room dataset: frames are appended as they are decoded; room.json is written last,
 *  atomically — a folder without it is an unfinished dataset. */
export class RoomDatasetWriter {
  private readonly frameFile: RecordFile;
  private count = 0;

  constructor(
    readonly dir: string,
    readonly width: number,
    readonly height: number,
    /** Seals each frame (raw footage cached by the app); null: stored as is. */
    private readonly cipher: RecordCipher | null = null,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    fs.rmSync(path.join(dir, ROOM_MANIFEST), { force: true });
    this.frameFile = new RecordFile(path.join(dir, ROOM_FRAMES), width * height * 3, 'w+', cipher);
  }

  /** Frames written so far. */
  get frames(): number {
    return this.count;
  }

  /** Reads back a frame already written (the labeller looks at people after tracking them). */
  readFrame(index: number, into: Uint8Array): Uint8Array {
    const bytes = this.width * this.height * 3;
    if (index < 0 || index >= this.count || into.length !== bytes)
      throw new DatasetError(`no frame ${index} to read back`);
    if (!this.frameFile.read(index, into)) throw new DatasetError(`short read of frame ${index}`);
    return into;
  }

  add(frame: Uint8Array): number {
    if (frame.length !== this.width * this.height * 3)
      throw new DatasetError('frame size does not match the room dataset');
    this.frameFile.write(this.count, frame);
    return this.count++;
  }

  finish(manifest: Omit<RoomManifest, 'format' | 'width' | 'height' | 'frames' | 'sealedBy'>): RoomManifest {
    this.frameFile.close();
    const full: RoomManifest = {
      format: 'spact-room-v1',
      width: this.width,
      height: this.height,
      frames: this.count,
      ...manifest,
      ...(this.cipher ? { sealedBy: this.cipher.id } : {}),
    };
    const parsed = RoomManifestSchema.safeParse(full);
    if (!parsed.success) throw new DatasetError(`room dataset: ${formatIssues(parsed.error)}`);
    const file = path.join(this.dir, ROOM_MANIFEST);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(full));
    fs.renameSync(`${file}.tmp`, file);
    return full;
  }

  abort(): void {
    this.frameFile.close();
  }
}
