// The real-room recipe's data and engine steps on a synthetic room: people are coloured bars
// walking across a textured floor, with boxes, keypoints and tracks as the judges would give them.
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  BODY_PARTS,
  EngineError,
  mulberry32,
  resolveConfig,
  RoomDataset,
  RoomDatasetWriter,
  ROOM_HEATMAPS,
  SpactEngine,
  type RoomPerson,
} from '../../native-models/ts/index.js';
import { tmpDir } from '../helpers/toy-clips.js';

const W = 192;
const H = 128;
const PEOPLE = 4;
const FRAMES = 24;

/** Person p at frame f: a w×h bar moving right, its colour its identity. */
function personAt(p: number, f: number) {
  const h = 60 + 8 * p;
  const w = 20;
  const x = 10 + ((p * 41 + f * (2 + p)) % (W - w - 20));
  const y = 20 + 10 * (p % 2);
  return { x, y, w, h };
}

function makeRoom(dir: string): void {
  const rand = mulberry32(5);
  const floor = Uint8Array.from({ length: W * H * 3 }, () => 90 + Math.floor(rand() * 40));
  const colours = [
    [220, 40, 40],
    [40, 200, 60],
    [40, 60, 220],
    [230, 220, 40],
  ];
  const writer = new RoomDatasetWriter(dir, W, H);
  const people: RoomPerson[][] = [];
  for (let f = 0; f < FRAMES; f++) {
    const frame = new Uint8Array(floor);
    const list: RoomPerson[] = [];
    for (let p = 0; p < PEOPLE; p++) {
      const b = personAt(p, f);
      for (let y = b.y; y < b.y + b.h; y++)
        for (let x = b.x; x < b.x + b.w; x++) frame.set(colours[p]!, (y * W + x) * 3);
      // Keypoints down the bar's middle, left parts a little left of right parts.
      const keypoints = BODY_PARTS.map((part, k): [number, number, number] => [
        (b.x + b.w / 2 + (part.startsWith('left') ? -4 : part.startsWith('right') ? 4 : 0)) / W,
        (b.y + ((k + 1) * b.h) / (BODY_PARTS.length + 1)) / H,
        0.9,
      ]);
      list.push({ box: [b.x / W, b.y / H, b.w / W, b.h / H], score: 0.9, track: p, keypoints });
    }
    writer.add(frame);
    people.push(list);
  }
  writer.finish({
    fps: 10,
    sources: [{ file: 'synthetic', startS: 0, endS: FRAMES / 10, first: 0, count: FRAMES }],
    people,
    splits: {
      train: Array.from({ length: 18 }, (_, i) => i),
      val: Array.from({ length: 6 }, (_, i) => 18 + i),
    },
    labeller: { synthetic: true },
  });
}

const dir = path.join(tmpDir('spact-room-'), 'room');
makeRoom(dir);
const CROP = 96;
const open = () => RoomDataset.open(dir, { cropSize: CROP, jitter: 0.1, minGapS: 1 });

function engine(overrides: Record<string, unknown> = {}) {
  const config = resolveConfig({
    overrides: {
      room: { enabled: true, cropSize: CROP, studentWidths: [8, 16, 16], ...overrides },
      model: {
        fB: { widths: [8, 16, 32, 32], blocks: [1, 1, 1, 1], bottleneck: false, imagenetStem: false, projDim: 32 },
      },
      optim: { lrA: 1e-3, lrT: 3e-3, lrB: 3e-3 },
      threads: 2,
      seed: 1,
    },
  });
  return new SpactEngine(config, { actions: ['none'], multiLabelActions: false, privacyAttributes: [] });
}

describe('room dataset', () => {
  it('pairs each person with themself at another time, with targets where the judges saw them', () => {
    const ds = open();
    expect(ds.tracks('train')).toBe(PEOPLE);
    const b = ds.readBatch('train', [0, 1, 2, 3], 7);
    expect(b.n).toBe(2 * PEOPLE);
    expect(b.frames.length).toBe(b.n * CROP * CROP * 3);
    expect(b.heatmaps.length).toBe(b.n * ROOM_HEATMAPS * (CROP / 4) ** 2);
    // Crop i and crop i+B show the same person: the pixel at the middle of its box has its colour.
    const centreColour = (i: number) => {
      const [x0, y0, x1, y1] = Array.from(b.boxes.subarray(i * 4, i * 4 + 4));
      const x = Math.floor(((x0! + x1!) / 2) * CROP);
      const y = Math.floor(((y0! + y1!) / 2) * CROP);
      return Array.from(b.frames.subarray(((i * CROP + y) * CROP + x) * 3, ((i * CROP + y) * CROP + x) * 3 + 3));
    };
    for (let i = 0; i < PEOPLE; i++) {
      const a = centreColour(i);
      const p = centreColour(i + PEOPLE);
      // Jitter changes brightness a little; the hue (largest channel) stays the person's.
      expect(a.indexOf(Math.max(...a))).toBe(p.indexOf(Math.max(...p)));
    }
    // Every crop's person channel peaks inside its box.
    const cells = CROP / 4;
    for (let i = 0; i < b.n; i++) {
      const plane = b.heatmaps.subarray(
        i * ROOM_HEATMAPS * cells * cells,
        i * ROOM_HEATMAPS * cells * cells + cells * cells,
      );
      expect(Math.max(...plane)).toBeGreaterThan(0.8);
    }
    // Deterministic: the same indices and seed give the same batch; another seed another one.
    expect(Buffer.from(ds.readBatch('train', [0, 1, 2, 3], 7).frames).equals(Buffer.from(b.frames))).toBe(true);
    expect(Buffer.from(ds.readBatch('train', [0, 1, 2, 3], 8).frames).equals(Buffer.from(b.frames))).toBe(false);
    ds.close();
  });

  it('never puts one person twice in a batch, and refuses an incomplete dataset', () => {
    const ds = open();
    const b = ds.readBatch('val', [0, 0, 0, 0, 0, 0], 1); // six draws of one sample: four people at most
    expect(b.n).toBe(2 * PEOPLE);
    ds.close();
    const broken = path.join(tmpDir('spact-room-'), 'broken');
    fs.cpSync(dir, broken, { recursive: true });
    fs.truncateSync(path.join(broken, 'frames.u8'), 1000);
    expect(() => RoomDataset.open(broken, { cropSize: CROP, jitter: 0, minGapS: 1 })).toThrow(/incomplete/);
  });
});

describe('engine room mode', () => {
  const ds = open();
  const batch = ds.readBatch('train', [0, 1, 2, 3], 3);

  it('the student learns the targets on raw frames; the identity budget learns to link people', async () => {
    const e = engine();
    const before = await e.evaluate(batch);
    for (let i = 0; i < 30; i++)
      await e.initTB(ds.readBatch('train', [i, i + 1, i + 2, i + 3], i), { updateT: true, updateB: true });
    const after = await e.evaluate(batch);
    expect(after.loss_U_raw!).toBeLessThan(before.loss_U_raw! * 0.8);
    expect(after.loss_B!).toBeLessThan(Math.log(2 * PEOPLE - 1)); // better than chance at linking
  }, 120_000);

  it('step 1 changes only f_A, step 2 only the identity budget (the student stays frozen)', async () => {
    const e = engine({ structureWeight: 1 });
    await e.initTB(batch, { updateT: true, updateB: true });
    const f0 = e.fingerprint() as Record<string, number>;
    const s1 = await e.stepA(batch);
    expect(s1).toHaveProperty('structure');
    const f1 = e.fingerprint() as Record<string, number>;
    expect(f1.fA).not.toBe(f0.fA);
    expect([f1.fU, f1.fBid]).toEqual([f0.fU, f0.fBid]);
    await e.stepTB(batch);
    const f2 = e.fingerprint() as Record<string, number>;
    expect(f2.fBid).not.toBe(f1.fBid);
    expect([f2.fA, f2.fU]).toEqual([f1.fA, f1.fU]);
    // An adapting student learns in step 2 as SPAct's f_T does.
    const adapting = engine({ adaptStudent: true });
    const g0 = adapting.fingerprint() as Record<string, number>;
    await adapting.stepTB(batch);
    expect((adapting.fingerprint() as Record<string, number>).fU).not.toBe(g0.fU);
  }, 120_000);

  it('refuses batches without pseudo-labels with a clear error', async () => {
    const e = engine();
    const { heatmaps: _h, ...noTargets } = batch;
    await expect(e.stepA(noTargets)).rejects.toThrow(EngineError);
    await expect(e.stepA({ ...batch, boxes: new Float32Array(4) })).rejects.toThrow(/boxes/);
  });
});
