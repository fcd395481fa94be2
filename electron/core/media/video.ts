// Probe, decode and encode video in bounded memory: frames stream through ffmpeg's pipes a batch at
// a time, never a whole file in memory.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { systemRootOf } from '../destinations.js';
import { SpactError } from '../errors.js';
import { mediaInput } from '../vault/raw-feed.js';
import { SealedReader, isSealedFile } from '../vault/sealed-file.js';
import { vaultById } from '../vault/vault.js';
import { ffmpegPath, ffmpegReason, ffprobePath } from './ffmpeg.js';

/** File name extensions taken as video (a folder of footage, a clip's stored name). */
export const VIDEO_EXTENSIONS = ['.mp4', '.mkv', '.avi', '.mov', '.webm', '.m4v', '.mpg', '.mpeg', '.ts'];

/** Largest frame accepted (8K UHD): beyond this a single frame no longer fits the budget. */
export const MAX_WIDTH = 7680;
export const MAX_HEIGHT = 4320;

export interface VideoInfo {
  file: string;
  width: number;
  height: number;
  fps: number; // average frame rate
  durationS: number;
  frames: number | null; // as the container states it (may be absent)
  variableFrameRate: boolean;
  hasAudio: boolean;
  codec: string;
  sizeBytes: number;
}

function parseRate(r: string | undefined): number {
  if (!r) return 0;
  const [a, b] = r.split('/').map(Number);
  return b ? (a ?? 0) / b : (a ?? 0);
}

/** ffmpeg's input for raw RGB24 frames of `width`×`height` at `fps` on its stdin. */
export function rawRgbInputArgs(width: number, height: number, fps: number): string[] {
  return ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', 'pipe:0'];
}

/**
 * The H.264 every written clip uses: yuv420p (Chromium plays 4:2:0 only, so an odd side is padded
 * with a black line), veryfast, quality `crf`; `scale` is an optional filter placed before the pad.
 */
export function h264OutputArgs(crf: number, scale = ''): string[] {
  return [
    '-vf',
    `${scale}pad=ceil(iw/2)*2:ceil(ih/2)*2`,
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-crf',
    String(crf),
    '-pix_fmt',
    'yuv420p',
  ];
}

/** Nice value of the ffmpeg processes of jobs (decoding, encoding): the thread that answers the
 *  window comes first on a busy machine. The live preview's decoder keeps normal priority. */
const JOB_FFMPEG_NICE = 10;

function lowerPriority(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    os.setPriority(child.pid, JOB_FFMPEG_NICE);
  } catch {
    // gone already, or not allowed here: it runs at normal priority
  }
}

function run(bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) =>
      reject(new SpactError('unavailable', `${path.basename(bin)} could not start: ${err.message}`)),
    );
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * A video stream's duration from its packets (first timestamp to the end of the last packet) and
 * its frame count, for containers whose header states none. Demuxes only, nothing is decoded.
 */
export async function packetDuration(input: string): Promise<{ durationS: number; frames: number } | null> {
  const r = await run(ffprobePath(), [
    '-v',
    'error',
    '-select_streams',
    'v:0',
    '-show_entries',
    'packet=pts_time,duration_time',
    '-of',
    'csv=p=0',
    input,
  ]);
  if (r.code !== 0) return null;
  let first = Infinity;
  let end = -Infinity;
  let frames = 0;
  for (const line of r.stdout.split('\n')) {
    const [ptsText, durText] = line.trim().split(',');
    const pts = ptsText ? Number(ptsText) : NaN;
    const dur = durText ? Number(durText) : NaN;
    if (!Number.isFinite(pts)) continue;
    frames++;
    first = Math.min(first, pts);
    end = Math.max(end, pts + (Number.isFinite(dur) ? dur : 0));
  }
  return frames > 0 ? { durationS: Math.max(0, end - first), frames } : null;
}

/** Reads a file's video properties; one-line errors name the file and the cause. */
export async function probeVideo(file: string): Promise<VideoInfo> {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new SpactError('not-found', `${file}: no such file`);
  }
  if (!st.isFile()) throw new SpactError('bad-input', `${file}: not a file`);
  if (st.size === 0) throw new SpactError('bad-input', `${file}: the file is empty (0 bytes)`);
  // Sealed raw footage: its plaintext size, read through the loopback feed.
  const sizeBytes = isSealedFile(file) ? new SealedReader(file, vaultById).plainSize : st.size;
  const src = await mediaInput(file);
  let r: { code: number; stdout: string; stderr: string };
  let parsed: { streams?: Record<string, string | number>[]; format?: Record<string, string> } = {};
  let counted: { durationS: number; frames: number } | null = null;
  try {
    r = await run(ffprobePath(), ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', src.input]);
    try {
      parsed = JSON.parse(r.stdout || '{}');
    } catch {
      // handled below
    }
    // A WebM recorded by MediaRecorder (the Live screen's recordings) states no duration: its
    // packets' timestamps give it.
    const video = parsed.streams?.find((s) => s.codec_type === 'video');
    const stated = Number(video?.duration ?? parsed.format?.duration);
    if (video && !(stated > 0)) counted = await packetDuration(src.input);
  } finally {
    src.release();
  }
  const streams = parsed.streams ?? [];
  const v =
    streams.find((s) => s.codec_type === 'video' && s.disposition === undefined) ??
    streams.find((s) => s.codec_type === 'video');
  if (r.code !== 0 && !v)
    throw new SpactError('bad-input', `${file}: not a readable video (${ffmpegReason(r.stderr)})`);
  if (!v) throw new SpactError('bad-input', `${file}: contains no video stream`);
  const width = Number(v.width);
  const height = Number(v.height);
  if (!(width > 0 && height > 0)) throw new SpactError('bad-input', `${file}: the video stream has no frame size`);
  if (width > MAX_WIDTH || height > MAX_HEIGHT) {
    throw new SpactError(
      'bad-input',
      `${file}: frame size ${width}×${height} exceeds the supported ${MAX_WIDTH}×${MAX_HEIGHT}`,
    );
  }
  const avg = parseRate(String(v.avg_frame_rate ?? ''));
  const real = parseRate(String(v.r_frame_rate ?? ''));
  // Without an average rate (no duration stated), the counted packets give it.
  const counts = counted && counted.durationS > 0 ? counted.frames / counted.durationS : 0;
  const fps = avg > 0 ? avg : counts > 0 ? counts : real;
  if (!(fps > 0 && fps < 1000)) throw new SpactError('bad-input', `${file}: unknown frame rate`);
  const stated = Number(v.duration ?? parsed.format?.duration ?? 0);
  const durationS = counted?.durationS ?? (Number.isFinite(stated) ? stated : 0);
  return {
    file,
    width,
    height,
    fps,
    durationS,
    frames: v.nb_frames ? Number(v.nb_frames) : (counted?.frames ?? null),
    // r_frame_rate is the container's base rate; an average that differs means variable timing.
    variableFrameRate: avg > 0 && real > 0 && Math.abs(avg - real) / real > 0.01,
    hasAudio: streams.some((s) => s.codec_type === 'audio'),
    codec: String(v.codec_name ?? 'unknown'),
    sizeBytes,
  };
}

/** Frame size at a working size (the short side, see working-size.ts): aspect kept, both sides even. */
export function workingSize(info: { width: number; height: number }, size: number): { width: number; height: number } {
  const scale = size / Math.min(info.width, info.height);
  const even = (x: number) => Math.max(2, 2 * Math.round(x / 2));
  return { width: even(info.width * scale), height: even(info.height * scale) };
}

export interface DecodeOptions {
  width: number;
  height: number;
  /** Output frame rate (constant): variable-rate input is resampled to it. */
  fps: number;
  /** Frames per yielded batch. */
  batch: number;
  /** Read the input at its native rate (live preview of a file). */
  realtime?: boolean;
  /** Decode only from this time (seconds) … */
  startS?: number;
  /** … for this long (seconds). */
  durationS?: number;
}

/**
 * Decodes to RGB frames at width×height and a constant frame rate, yielding batches of up to
 * `batch` frames [n, h, w, 3]. Back-pressure keeps at most ~2 batches in memory.
 */
export async function* decodeFrames(
  file: string,
  opts: DecodeOptions,
): AsyncGenerator<{ frames: Uint8Array; n: number }> {
  const frameBytes = opts.width * opts.height * 3;
  const src = await mediaInput(file);
  const args = [
    '-hide_banner',
    '-loglevel',
    'error',
    ...(opts.realtime ? ['-re'] : []),
    ...(/^rtsps?:\/\//.test(file) ? ['-rtsp_transport', 'tcp'] : []),
    ...(opts.startS ? ['-ss', String(opts.startS)] : []),
    ...(opts.durationS !== undefined ? ['-t', String(opts.durationS)] : []),
    '-i',
    src.input,
    '-map',
    '0:v:0',
    '-vf',
    `scale=${opts.width}:${opts.height}:flags=area,fps=${opts.fps}`,
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    'pipe:1',
  ];
  const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (!opts.realtime) lowerPriority(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  const batchBytes = frameBytes * opts.batch;
  let buf = new Uint8Array(batchBytes);
  let fill = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      let off = 0;
      while (off < chunk.length) {
        const take = Math.min(chunk.length - off, batchBytes - fill);
        buf.set(chunk.subarray(off, off + take), fill);
        fill += take;
        off += take;
        if (fill === batchBytes) {
          yield { frames: buf, n: opts.batch };
          buf = new Uint8Array(batchBytes);
          fill = 0;
        }
      }
    }
    const code = await exited;
    const whole = Math.floor(fill / frameBytes);
    if (code !== 0) throw new SpactError('bad-input', `${file}: decoding failed (${ffmpegReason(stderr)})`);
    if (whole > 0) yield { frames: buf.subarray(0, whole * frameBytes), n: whole };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    src.release();
  }
}

export interface EncoderOptions {
  /** Size of the frames written. */
  width: number;
  height: number;
  /** Size of the encoded video when it differs (frames scaled with bicubic filtering), e.g. the
   *  source's size for anonymized frames made at a smaller working size. */
  outputWidth?: number;
  outputHeight?: number;
  fps: number;
  /** Copy the audio of this file (opt-in: speech identifies people). */
  audioFrom?: string;
  crf?: number;
}

/**
 * Streams RGB frames into an H.264/yuv420p MP4 with faststart. Writes to a temporary file in the
 * destination folder; finish() renames it into place, abort() removes it.
 */
export class Mp4Writer {
  private readonly child: ChildProcess;
  private stderr = '';
  private readonly exited: Promise<number>;
  readonly tmp: string;
  private failed: Error | null = null;
  frames = 0;

  constructor(
    readonly file: string,
    readonly opts: EncoderOptions,
  ) {
    const dir = path.dirname(file);
    // A last guard (by name, no file system call): mkdir never returns on some system file
    // systems. Callers check destinations fully beforehand (destinations.ts).
    const systemFs = systemRootOf(path.resolve(dir));
    if (systemFs)
      throw new SpactError('validation', `${dir} is on a system file system (${systemFs}); choose another folder`);
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.accessSync(dir, fs.constants.W_OK);
    } catch {
      throw new SpactError('unavailable', `${dir}: the destination folder is not writable`);
    }
    this.tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}.mp4`);
    const ow = opts.outputWidth ?? opts.width;
    const oh = opts.outputHeight ?? opts.height;
    if (!(Number.isInteger(ow) && Number.isInteger(oh) && ow > 0 && oh > 0 && ow <= MAX_WIDTH && oh <= MAX_HEIGHT))
      throw new SpactError(
        'validation',
        `output size ${ow}×${oh} is not a frame size up to ${MAX_WIDTH}×${MAX_HEIGHT}`,
      );
    const scale = ow !== opts.width || oh !== opts.height ? `scale=${ow}:${oh}:flags=bicubic,` : '';
    const args = [
      '-hide_banner',
      '-loglevel',
      'error',
      ...rawRgbInputArgs(opts.width, opts.height, opts.fps),
      ...(opts.audioFrom
        ? ['-i', opts.audioFrom, '-map', '0:v:0', '-map', '1:a:0?', '-c:a', 'aac', '-shortest']
        : ['-an']),
      ...h264OutputArgs(opts.crf ?? 20, scale),
      '-movflags',
      '+faststart',
      '-f',
      'mp4',
      '-y',
      this.tmp,
    ];
    this.child = spawn(ffmpegPath(), args, { stdio: ['pipe', 'ignore', 'pipe'] });
    lowerPriority(this.child);
    this.child.stderr!.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    this.child.stdin!.on('error', (err) => (this.failed ??= err));
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.failed ??= err;
        resolve(-1);
      });
      this.child.on('close', (code) => resolve(code ?? -1));
    });
  }

  /** Writes frames [n, h, w, 3]; resolves when ffmpeg has taken them (back-pressure). */
  async write(frames: Uint8Array): Promise<void> {
    if (this.failed) throw this.error();
    const stdin = this.child.stdin!;
    const ok = stdin.write(Buffer.from(frames.buffer, frames.byteOffset, frames.byteLength));
    this.frames += frames.length / (this.opts.width * this.opts.height * 3);
    if (!ok) {
      await new Promise<void>((resolve) => {
        const done = () => {
          stdin.off('drain', done);
          stdin.off('close', done);
          resolve();
        };
        stdin.on('drain', done);
        stdin.on('close', done);
      });
    }
    if (this.failed) throw this.error();
  }

  private error(): SpactError {
    const reason = ffmpegReason(this.stderr) || (this.failed ? this.failed.message : 'encoder failed');
    const full = /no space left/i.test(reason) || /ENOSPC/.test(String(this.failed)) ? 'the disk is full' : reason;
    return new SpactError('unavailable', `writing ${this.file} failed: ${full}`);
  }

  async finish(): Promise<void> {
    this.child.stdin!.end();
    const code = await this.exited;
    if (code !== 0 || this.failed) {
      const err = this.error();
      fs.rmSync(this.tmp, { force: true });
      throw err;
    }
    fs.renameSync(this.tmp, this.file);
  }

  async abort(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
    fs.rmSync(this.tmp, { force: true });
  }
}
