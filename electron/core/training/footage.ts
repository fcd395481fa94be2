// Turns hours of a room's footage into a training set for fine-tuning, in bounded memory: every
// file is decoded once at the model's size, cut into fixed-length windows, and a uniform random
// sample of windows is kept by reservoir sampling in a slot file on disk (never in memory).
import fs from 'node:fs';
import path from 'node:path';

import {
  ClipDatasetWriter,
  mulberry32,
  RecordFile,
  shuffled,
  type Manifest,
  type RecordCipher,
} from '../../../native-models/ts/index.js';
import { SpactError } from '../errors.js';
import { decodeFrames, probeVideo, VIDEO_EXTENSIONS } from '../media/video.js';

export { VIDEO_EXTENSIONS } from '../media/video.js';

/** Files given directly, or every video file in given folders (sorted, for determinism). */
export function expandFootage(inputs: string[]): string[] {
  const out: string[] = [];
  for (const input of inputs) {
    if (!fs.existsSync(input)) throw new SpactError('not-found', `${input}: no such file or folder`);
    if (fs.statSync(input).isDirectory()) {
      const files = fs
        .readdirSync(input)
        .filter((f) => VIDEO_EXTENSIONS.includes(path.extname(f).toLowerCase()))
        .sort()
        .map((f) => path.join(input, f));
      if (files.length === 0) throw new SpactError('bad-input', `${input}: holds no video files`);
      out.push(...files);
    } else out.push(input);
  }
  if (out.length === 0) throw new SpactError('bad-input', 'no footage given');
  return out;
}

/** Operator tags: time ranges of footage files labelled with an action name. */
export interface ActionTag {
  file: string; // base name or path of the footage file
  start: number; // seconds
  end: number;
  action: string;
}

export interface SampleOptions {
  /** Frame size f_A was trained at (clips are scaled to size×size). */
  size: number;
  /** Frames per clip and the rate they are taken at. */
  frames: number;
  fps: number;
  /** How many clips to keep (uniformly over all footage). */
  clips: number;
  /** Share of clips held out for validation. */
  valFraction: number;
  seed: number;
  actions: string[];
  tags?: ActionTag[];
  /** Seals the cached frames (reservoir and dataset) with the data folder's key. */
  cipher?: RecordCipher | null;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

export interface SampleResult {
  dir: string;
  manifest: Manifest;
  windowsSeen: number;
  files: number;
  tagged: number;
}

export async function sampleFootage(files: string[], outDir: string, opts: SampleOptions): Promise<SampleResult> {
  const clipBytes = opts.frames * opts.size * opts.size * 3;
  fs.mkdirSync(outDir, { recursive: true });
  const slotsFile = path.join(outDir, 'reservoir.tmp');
  const slots = new RecordFile(slotsFile, clipBytes, 'w+', opts.cipher ?? null);
  const slotAction: number[] = [];
  const rand = mulberry32(opts.seed);
  const tagIndex = (file: string, t: number) => {
    const tag = opts.tags?.find(
      (g) => (g.file === file || g.file === path.basename(file)) && t >= g.start && t < g.end,
    );
    if (!tag) return -1;
    const i = opts.actions.indexOf(tag.action);
    if (i < 0)
      throw new SpactError(
        'bad-input',
        `tag action "${tag.action}" is not one of the model's actions (${opts.actions.join(', ')})`,
      );
    return i;
  };
  let seen = 0;
  try {
    for (const file of files) {
      await probeVideo(file); // one-line error for unreadable files before any decoding
      opts.onProgress?.(`sampling ${path.basename(file)}…`);
      let window = 0;
      for await (const batch of decodeFrames(file, {
        width: opts.size,
        height: opts.size,
        fps: opts.fps,
        batch: opts.frames,
      })) {
        if (opts.signal?.aborted) throw new SpactError('cancelled', 'cancelled');
        if (batch.n < opts.frames) break; // a short tail is not a clip
        const action = tagIndex(file, (window * opts.frames) / opts.fps);
        window++;
        // Reservoir sampling (Algorithm R): every window is kept with probability clips/seen.
        let slot = -1;
        if (seen < opts.clips) slot = seen;
        else {
          const j = Math.floor(rand() * (seen + 1));
          if (j < opts.clips) slot = j;
        }
        seen++;
        if (slot >= 0) {
          slots.write(slot, batch.frames.subarray(0, clipBytes));
          slotAction[slot] = action;
        }
      }
    }
    const kept = Math.min(seen, opts.clips);
    if (kept < 4) {
      throw new SpactError(
        'bad-input',
        `the footage yields only ${kept} clip(s) of ${opts.frames} frames at ${opts.fps} fps; at least 4 are needed`,
      );
    }
    const writer = new ClipDatasetWriter(
      outDir,
      { frames: opts.frames, height: opts.size, width: opts.size },
      { actions: opts.actions },
      opts.cipher ?? null,
    );
    const order = shuffled(
      Array.from({ length: kept }, (_, i) => i),
      rand,
    );
    const nVal = Math.max(2, Math.round(kept * opts.valFraction));
    const buf = new Uint8Array(clipBytes);
    order.forEach((slot, i) => {
      slots.read(slot, buf);
      writer.add(i < nVal && kept - nVal >= 2 ? 'val' : 'train', buf, slotAction[slot] ?? -1);
    });
    const manifest = writer.finish({ generator: 'footage', files: files.length, windowsSeen: seen, fps: opts.fps });
    return {
      dir: outDir,
      manifest,
      windowsSeen: seen,
      files: files.length,
      tagged: slotAction.filter((a) => a >= 0).length,
    };
  } finally {
    slots.close();
    fs.rmSync(slotsFile, { force: true });
  }
}
