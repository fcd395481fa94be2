// Video I/O through the static ffmpeg/ffprobe binaries shipped inside their npm packages
// (@ffmpeg-installer/ffmpeg, @ffprobe-installer/ffprobe): no system ffmpeg and no download needed.
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

/**
 * Encodes RGB frames [frames, height, width, 3] to H.264/yuv420p MP4 (faststart), written to a
 * temporary file and renamed, so a failed encode never leaves a partial file behind.
 */
export async function encodeRgbToMp4(
  file: string,
  rgb: Uint8Array,
  opts: { frames: number; width: number; height: number; fps: number },
): Promise<void> {
  const expected = opts.frames * opts.width * opts.height * 3;
  if (rgb.length !== expected)
    throw new SpactError('bad-input', `encode: got ${rgb.length} bytes of RGB, expected ${expected}`);
  // Imported here: video.ts builds on this module's binary paths.
  const { Mp4Writer } = await import('./video.js');
  const writer = new Mp4Writer(file, { width: opts.width, height: opts.height, fps: opts.fps });
  try {
    await writer.write(rgb);
    await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}
