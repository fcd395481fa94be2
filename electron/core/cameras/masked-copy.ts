// The stored copy of a clip of a camera with privacy masks: decoded, masked, encoded to H.264 and
// sealed as it comes out of the encoder. ffmpeg writes fragmented MP4 to a pipe (no seeking back to
// write an index, so no file), the pipe goes straight into a SealedWriter: no unmasked and no
// unencrypted byte of it ever touches the disk. Chromium plays fragmented MP4; ffmpeg reads it.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';

import { SpactError } from '../errors.js';
import { ffmpegPath, ffmpegReason } from '../media/ffmpeg.js';
import { decodeFrames, h264OutputArgs, rawRgbInputArgs, type VideoInfo } from '../media/video.js';
import { SealedWriter, type SealingKey } from '../vault/sealed-file.js';
import { FrameMasker, type MaskPolygon } from './masks.js';

/** Decoded frames held at once: a batch of at most this many bytes. */
const BATCH_BYTES = 16 * 1024 * 1024;

/**
 * Writes `target` as the sealed, masked H.264 copy of `source` (a plain or sealed video) at its own
 * size and frame rate (variable rates become constant), without audio. Returns the sha256 of the
 * sealed plaintext (the stored clip's content hash).
 */
export async function maskedSealedCopy(
  source: string,
  target: string,
  sealing: SealingKey,
  info: Pick<VideoInfo, 'width' | 'height' | 'fps'>,
  masks: MaskPolygon[],
): Promise<{ sha256: string; frames: number }> {
  const { width, height, fps } = info;
  const masker = new FrameMasker(masks);
  const frameBytes = width * height * 3;
  const batch = Math.max(1, Math.floor(BATCH_BYTES / frameBytes));
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    ...rawRgbInputArgs(width, height, fps),
    '-an',
    ...h264OutputArgs(18),
    '-f',
    'mp4',
    '-movflags',
    'frag_keyframe+empty_moov+default_base_moof',
    'pipe:1',
  ];
  const writer = new SealedWriter(target, sealing);
  const hash = createHash('sha256');
  const child = spawn(ffmpegPath(), args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let failed: Error | null = null;
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  child.stdin.on('error', (err) => (failed ??= err));
  child.stdout.on('data', (d: Buffer) => {
    try {
      writer.write(d);
      hash.update(d);
    } catch (err) {
      failed ??= err as Error;
      child.kill('SIGKILL');
    }
  });
  const exited = new Promise<number>((resolve) => {
    child.on('error', (err) => {
      failed ??= err;
      resolve(-1);
    });
    child.on('close', (code) => resolve(code ?? -1));
  });
  let frames = 0;
  try {
    for await (const b of decodeFrames(source, { width, height, fps, batch })) {
      masker.apply(b.frames, b.n, height, width);
      frames += b.n;
      if (failed) break;
      if (!child.stdin.write(Buffer.from(b.frames.buffer, b.frames.byteOffset, b.frames.byteLength)))
        await new Promise<void>((resolve) => {
          const done = () => {
            child.stdin.off('drain', done);
            child.stdin.off('close', done);
            resolve();
          };
          child.stdin.on('drain', done);
          child.stdin.on('close', done);
        });
    }
    child.stdin.end();
    const code = await exited;
    if (failed || code !== 0)
      throw new SpactError(
        'unavailable',
        `encoding the masked copy failed: ${ffmpegReason(stderr) || (failed as Error | null)?.message || `ffmpeg exited ${code}`}`,
      );
    if (frames === 0) throw new SpactError('bad-input', 'the video has no frames to mask');
    writer.finish();
    return { sha256: hash.digest('hex'), frames };
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    writer.abort();
    throw err;
  }
}
