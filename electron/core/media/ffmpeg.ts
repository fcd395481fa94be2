// Video I/O through the static ffmpeg/ffprobe binaries shipped inside their npm packages
// (@ffmpeg-installer/ffmpeg, @ffprobe-installer/ffprobe): no system ffmpeg and no download needed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { SpactError } from '../errors.js';

const require = createRequire(import.meta.url);

function binary(pkg: '@ffmpeg-installer/ffmpeg' | '@ffprobe-installer/ffprobe', env: string): string {
  const override = process.env[env];
  if (override) return override;
  try {
    const p = (require(pkg) as { path: string }).path;
    // Inside a packaged app the binary lives outside the asar archive.
    return p.replace(`app.asar${path.sep}`, `app.asar.unpacked${path.sep}`);
  } catch (err) {
    throw new SpactError('unavailable', `${pkg} is not installed (${(err as Error).message}); run npm ci`);
  }
}

export const ffmpegPath = () => binary('@ffmpeg-installer/ffmpeg', 'SPACT_FFMPEG');
export const ffprobePath = () => binary('@ffprobe-installer/ffprobe', 'SPACT_FFPROBE');

/** The first line of ffmpeg's error output that says something, for one-line messages. */
export function ffmpegReason(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(
      (l) =>
        l &&
        !l.startsWith('ffmpeg version') &&
        !l.startsWith('built with') &&
        !l.startsWith('configuration:') &&
        !/^lib\w+\s/.test(l),
    );
  const interesting = lines.find((l) => /error|invalid|no such|denied|not found|unsupported|space/i.test(l));
  return (interesting ?? lines.at(-1) ?? 'ffmpeg failed').slice(0, 300);
}

export interface EncodeOptions {
  frames: number;
  width: number;
  height: number;
  fps: number;
  crf?: number;
}

/**
 * Encodes RGB frames [frames, height, width, 3] to H.264/yuv420p MP4 (faststart), written to a
 * temporary file and renamed, so a failed encode never leaves a partial file behind.
 */
export async function encodeRgbToMp4(file: string, rgb: Uint8Array, opts: EncodeOptions): Promise<void> {
  const expected = opts.frames * opts.width * opts.height * 3;
  if (rgb.length !== expected)
    throw new SpactError('bad-input', `encode: got ${rgb.length} bytes of RGB, expected ${expected}`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}.mp4`);
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    '-s',
    `${opts.width}x${opts.height}`,
    '-r',
    String(opts.fps),
    '-i',
    'pipe:0',
    // yuv420p needs even sizes: pad odd ones by one pixel.
    '-vf',
    'pad=ceil(iw/2)*2:ceil(ih/2)*2',
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-crf',
    String(opts.crf ?? 20),
    '-pix_fmt',
    'yuv420p',
    '-movflags',
    '+faststart',
    '-an',
    '-y',
    tmp,
  ];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(ffmpegPath(), args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => reject(new SpactError('unavailable', `ffmpeg could not start: ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new SpactError('bad-input', `encoding ${file} failed: ${ffmpegReason(stderr)}`));
    });
    child.stdin.on('error', () => undefined); // reported through the exit code
    child.stdin.end(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength));
  }).catch((err: unknown) => {
    fs.rmSync(tmp, { force: true });
    throw err;
  });
  fs.renameSync(tmp, file);
}
