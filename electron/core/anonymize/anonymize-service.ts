// Anonymization of whole videos: decode → f_A in batches → encode, streamed (bounded memory),
// written to a temporary file and renamed; library outputs are recorded with their sha256 and the
// model that made them. Raw frames never leave this pipeline except as f_A's output.
import fs from 'node:fs';
import path from 'node:path';

import { Anonymizer } from '../../../native-models/ts/anonymizer.js';
import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';
import { SpactError } from '../errors.js';
import type { LibraryService, ModelRecord } from '../library/library-service.js';
import { sha256File } from '../library/library-service.js';
import { decodeFrames, Mp4Writer, probeVideo, workingSize } from '../media/video.js';

export interface AnonymizeSettings {
  /** Short side of the frames f_A works on (and of the output video). */
  size: number;
  /** Frames per f_A call. */
  batch: number;
  /** Keep the audio track (off by default: speech identifies people). */
  keepAudio: boolean;
}

export const DEFAULT_SETTINGS: AnonymizeSettings = { size: 112, batch: 16, keepAudio: false };

export interface AnonymizeFileResult {
  input: string;
  output: string;
  frames: number;
  /** Throughput of the whole pipeline, frames per second. */
  fps: number;
  sha256: string;
  width: number;
  height: number;
  videoFps: number;
  durationS: number;
  seconds: number;
}

/** Anonymizes one video file into an MP4. Cancellable; a failure leaves no partial output. */
export async function anonymizeFile(
  anonymizer: Anonymizer,
  input: string,
  output: string,
  settings: AnonymizeSettings,
  opts: { signal?: AbortSignal; onProgress?: (done: number, total: number | null) => void } = {},
): Promise<AnonymizeFileResult> {
  const t0 = performance.now();
  const info = await probeVideo(input);
  if (!Number.isInteger(settings.size) || settings.size < 8 || settings.size > 2160) {
    throw new SpactError('validation', `size must be an integer between 8 and 2160, got ${settings.size}`);
  }
  const { width, height } = workingSize(info, settings.size);
  // Variable frame rate input is resampled to its average rate: the output is constant-rate.
  const videoFps = Math.round(info.fps * 1000) / 1000;
  const expected = info.durationS > 0 ? Math.round(info.durationS * videoFps) : null;
  const writer = new Mp4Writer(output, {
    width,
    height,
    fps: videoFps,
    ...(settings.keepAudio && info.hasAudio ? { audioFrom: input } : {}),
  });
  let frames = 0;
  try {
    for await (const batch of decodeFrames(input, { width, height, fps: videoFps, batch: settings.batch })) {
      if (opts.signal?.aborted) throw new SpactError('cancelled', `anonymizing ${input} was cancelled`);
      const anon = await anonymizer.anonymize(batch.frames, batch.n, height, width);
      await writer.write(anon);
      frames += batch.n;
      opts.onProgress?.(frames, expected);
    }
    if (frames === 0) throw new SpactError('bad-input', `${input}: no frame could be decoded`);
    await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    input,
    output,
    frames,
    fps: frames / seconds,
    sha256: await sha256File(output),
    width,
    height,
    videoFps,
    durationS: frames / videoFps,
    seconds,
  };
}

export interface OutputRecord {
  id: number;
  clipId: number;
  modelId: number;
  path: string;
  sha256: string;
  settings: AnonymizeSettings & { width: number; height: number };
  frames: number;
  fps: number;
  durationS: number;
  createdAt: string;
}

interface OutputRow {
  id: number;
  clip_id: number;
  model_id: number;
  path: string;
  sha256: string;
  settings: string;
  frames: number;
  fps: number;
  duration_s: number;
  created_at: string;
}

const toOutput = (r: OutputRow): OutputRecord => ({
  id: r.id,
  clipId: r.clip_id,
  modelId: r.model_id,
  path: r.path,
  sha256: r.sha256,
  settings: JSON.parse(r.settings),
  frames: r.frames,
  fps: r.fps,
  durationS: r.duration_s,
  createdAt: r.created_at,
});

/** Library-level anonymization: clip + model → recorded output. Anonymizers are cached per model. */
export class AnonymizeService {
  private readonly loaded = new Map<string, Promise<Anonymizer>>();

  constructor(
    private readonly db: Db,
    private readonly library: LibraryService,
    private readonly dataDir: string,
    private readonly engineOptions: { device?: string; threads?: number } = {},
  ) {}

  get outputsDir(): string {
    return path.join(this.dataDir, 'outputs');
  }

  anonymizerFor(model: ModelRecord): Promise<Anonymizer> {
    let p = this.loaded.get(model.sha256);
    if (!p) {
      p = Anonymizer.load(model.checkpoint, this.engineOptions);
      p.catch(() => this.loaded.delete(model.sha256));
      this.loaded.set(model.sha256, p);
    }
    return p;
  }

  async anonymizeClip(
    clipId: number,
    modelId: number,
    settings: AnonymizeSettings = DEFAULT_SETTINGS,
    opts: { signal?: AbortSignal; onProgress?: (fraction: number) => void } = {},
  ): Promise<OutputRecord> {
    const clip = this.library.clip(clipId);
    const model = this.library.model(modelId);
    if (!fs.existsSync(clip.path))
      throw new SpactError('not-found', `clip ${clipId}: its file ${clip.path} is missing`);
    const anonymizer = await this.anonymizerFor(model);
    const file = path.join(
      this.outputsDir,
      // A new file per run: an earlier output (perhaps already exported) is never overwritten.
      `clip${clip.id}-${model.sha256.slice(0, 10)}-${settings.size}${settings.keepAudio ? '-audio' : ''}-${Date.now().toString(36)}.mp4`,
    );
    const r = await anonymizeFile(anonymizer, clip.path, file, settings, {
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (done, total) => opts.onProgress?.(total ? Math.min(0.99, done / total) : 0),
    });
    try {
      const info = this.db
        .prepare(
          `INSERT INTO outputs (clip_id, model_id, path, sha256, settings, frames, fps, duration_s, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          clip.id,
          model.id,
          file,
          r.sha256,
          JSON.stringify({ ...settings, width: r.width, height: r.height }),
          r.frames,
          r.videoFps,
          r.durationS,
          nowIso(),
        );
      return this.output(Number(info.lastInsertRowid));
    } catch (err) {
      fs.rmSync(file, { force: true }); // no output file without its row
      throw err;
    }
  }

  outputs(opts: { clipId?: number } = {}): OutputRecord[] {
    const rows =
      opts.clipId === undefined
        ? (this.db.prepare(`SELECT * FROM outputs ORDER BY id`).all() as OutputRow[])
        : (this.db.prepare(`SELECT * FROM outputs WHERE clip_id = ? ORDER BY id`).all(opts.clipId) as OutputRow[]);
    return rows.map(toOutput);
  }

  output(id: number): OutputRecord {
    const r = this.db.prepare(`SELECT * FROM outputs WHERE id = ?`).get(id) as OutputRow | undefined;
    if (!r) throw new SpactError('not-found', `output ${id} does not exist`);
    return toOutput(r);
  }

  /** The newest output of a clip (optionally by one model), or null. */
  latestOutput(clipId: number, modelId?: number): OutputRecord | null {
    const r = (
      modelId === undefined
        ? this.db.prepare(`SELECT * FROM outputs WHERE clip_id = ? ORDER BY id DESC LIMIT 1`).get(clipId)
        : this.db
            .prepare(`SELECT * FROM outputs WHERE clip_id = ? AND model_id = ? ORDER BY id DESC LIMIT 1`)
            .get(clipId, modelId)
    ) as OutputRow | undefined;
    return r ? toOutput(r) : null;
  }
}
