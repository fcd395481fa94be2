// Test videos made with the bundled ffmpeg (testsrc pattern), and a tiny trained model.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { ffmpegPath } from '../../electron/core/media/ffmpeg.js';
import { train } from '../../native-models/ts/index.js';
import { makeToyDataset, tmpDir } from './toy-clips.js';

export function makeVideo(
  file: string,
  opts: { width?: number; height?: number; fps?: number; seconds?: number; audio?: boolean; vfr?: boolean } = {},
): string {
  const w = opts.width ?? 160;
  const h = opts.height ?? 120;
  const fps = opts.fps ?? 10;
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'lavfi',
    '-i',
    `testsrc=size=${w}x${h}:rate=${fps}:duration=${opts.seconds ?? 2}`,
  ];
  if (opts.audio)
    args.push('-f', 'lavfi', '-i', `sine=frequency=440:duration=${opts.seconds ?? 2}`, '-c:a', 'aac', '-shortest');
  // Variable frame rate: drop every third frame and keep the original timestamps.
  if (opts.vfr) args.push('-vf', "select='not(eq(mod(n,3),2))'", '-vsync', 'vfr');
  // Odd sizes cannot be 4:2:0; 4:4:4 keeps them (as some cameras do).
  const pixFmt = w % 2 || h % 2 ? 'yuv444p' : 'yuv420p';
  args.push('-c:v', 'libx264', '-pix_fmt', pixFmt, '-y', file);
  const r = spawnSync(ffmpegPath(), args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`making ${file} failed: ${r.stderr}`);
  return file;
}

let tinyModelRun: Promise<string> | null = null;

/** A run folder with a briefly trained f_A (identity init only): enough for pipeline tests. */
export function tinyModel(): Promise<string> {
  tinyModelRun ??= (async () => {
    const out = path.join(tmpDir('spact-model-'), 'run');
    await train({
      data: makeToyDataset({ train: 8, val: 4, size: 32, frames: 16 }),
      out,
      overrides: {
        data: { batchSize: 4, clipFrames: 8, frameStride: 2 },
        init: { maxStepsA: 5, maxStepsTB: 1 },
        minimax: { steps: 1 },
        eval: { every: 5, batches: 1 },
        threads: 2,
      },
    });
    return out;
  })();
  return tinyModelRun;
}
