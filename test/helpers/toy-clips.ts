// A tiny labelled video set for engine tests: a coloured square moving in one of four directions
// (the action) over a random background; the square's colour is the "privacy" attribute.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ClipDatasetWriter, mulberry32, type Split } from '../../native-models/ts/index.js';

export const TOY_ACTIONS = ['move-right', 'move-left', 'move-down', 'move-up'];
export const TOY_PRIVACY = ['square-red', 'square-green', 'square-blue'];

export function toyClip(rand: () => number, action: number, colour: number, size: number, frames: number): Uint8Array {
  const out = new Uint8Array(frames * size * size * 3);
  const bg = [rand() * 200, rand() * 200, rand() * 200];
  const fg = [0, 0, 0];
  fg[colour] = 255;
  const sq = Math.max(3, Math.floor(size / 5));
  const dirs = [
    [1, 0],
    [-1, 0],
    [0, 1],
    [0, -1],
  ];
  const [dx, dy] = dirs[action] as [number, number];
  const speed = 1 + Math.floor(rand() * 2);
  let x = Math.floor(size / 2 - sq / 2 - (dx * speed * frames) / 2);
  let y = Math.floor(size / 2 - sq / 2 - (dy * speed * frames) / 2);
  for (let f = 0; f < frames; f++) {
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        const inside = j >= x && j < x + sq && i >= y && i < y + sq;
        const o = ((f * size + i) * size + j) * 3;
        const c = inside ? fg : bg;
        out[o] = c[0]!;
        out[o + 1] = c[1]!;
        out[o + 2] = c[2]!;
      }
    }
    x += dx * speed;
    y += dy * speed;
  }
  return out;
}

/** Writes a toy dataset and returns its folder. */
export function makeToyDataset(
  opts: {
    train?: number;
    val?: number;
    test?: number;
    size?: number;
    frames?: number;
    seed?: number;
    dir?: string;
  } = {},
): string {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'spact-toy-'));
  const size = opts.size ?? 32;
  const frames = opts.frames ?? 16;
  const rand = mulberry32(opts.seed ?? 1);
  const w = new ClipDatasetWriter(
    dir,
    { frames, height: size, width: size },
    { actions: TOY_ACTIONS, privacyAttributes: TOY_PRIVACY },
  );
  const counts: Record<Split, number> = { train: opts.train ?? 32, val: opts.val ?? 8, test: opts.test ?? 0 };
  for (const split of ['train', 'val', 'test'] as Split[]) {
    for (let i = 0; i < counts[split]; i++) {
      const action = i % TOY_ACTIONS.length;
      const colour = Math.floor(rand() * 3);
      const privacy = [0, 0, 0];
      privacy[colour] = 1;
      w.add(split, toyClip(rand, action, colour, size, frames), action, privacy);
    }
  }
  w.finish({ generator: 'toy-clips (tests)' });
  return dir;
}

export function tmpDir(prefix = 'spact-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
