// A WebM as MediaRecorder writes it (the Live screen's recordings): VP8 streamed to a pipe, so
// the muxer cannot go back and its header states no duration.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

import { ffmpegPath } from '../../electron/core/media/ffmpeg.js';

export function makeStreamedWebm(file: string, opts: { seconds: number; fps?: number }): string {
  const fps = opts.fps ?? 10;
  const r = spawnSync(
    ffmpegPath(),
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      `testsrc=size=160x120:rate=${fps}:duration=${opts.seconds}`,
      '-c:v',
      'libvpx',
      '-b:v',
      '200k',
      '-f',
      'webm',
      'pipe:1',
    ],
    { maxBuffer: 64 << 20 },
  );
  if (r.status !== 0) throw new Error(`making ${file} failed: ${String(r.stderr)}`);
  fs.writeFileSync(file, r.stdout);
  return file;
}
