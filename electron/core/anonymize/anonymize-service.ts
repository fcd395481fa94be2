// Anonymization of whole videos: decode → f_A in batches → encode, streamed (bounded memory at any
// working size: a decoded batch holds at most BATCH_BYTES of frames, and the Anonymizer tiles
// frames so one engine call stays within its pixel budget), written to a temporary file and
// renamed; library outputs are recorded with their sha256, the model that made them and the
// resolved working size. Raw frames never leave this pipeline except as f_A's output.
import fs from 'node:fs';
import path from 'node:path';

import { Anonymizer, MEMORY_BUDGET_MIB } from '../../../native-models/ts/anonymizer.js';
import { ModelCache, modelCacheSizeFromEnv } from '../../../native-models/ts/model-cache.js';
import type { MemoryBudgetLimits } from '../../contract.js';
import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';
import { SpactError } from '../errors.js';
import type { LibraryService, ModelRecord, Room } from '../library/library-service.js';
import { sha256File } from '../library/library-service.js';
import { mediaInput } from '../vault/raw-feed.js';
import { decodeFrames, Mp4Writer, probeVideo, workingSize } from '../media/video.js';
import {
  estimatePersonHeightFraction,
  parseOutputSize,
  parseWorkingSize,
  resolveWorkingSize,
  type OutputSizeMode,
  type PersonHeightEstimate,
  type WorkingSizeSetting,
} from '../media/working-size.js';
import { Judges } from '../privacy-audit/judges.js';

export interface AnonymizeSettings {
  /**
   * Working size: the short side (pixels) f_A works at, or 'auto' (follows the people in the
   * video). Absent: a library clip uses its room's setting (the app setting without a room);
   * anonymizeFile uses 'auto'.
   */
  size?: WorkingSizeSetting;
  /** The encoded video at the working size, or scaled back up to the source's size. Absent: as `size`. */
  outputSize?: OutputSizeMode;
  /** Frames per decoded batch, at most (fewer for large frames: see BATCH_BYTES). */
  batch: number;
  /** Keep the audio track (off by default: speech identifies people). */
  keepAudio: boolean;
}

export const DEFAULT_SETTINGS: AnonymizeSettings = { batch: 16, keepAudio: false };

/** A decoded batch holds at most this many bytes of frames (at least one frame): 16 frames at
 *  576 px, 2 at 2160 px. Decoder, f_A and encoder hold about three batches between them. */
export const BATCH_BYTES = 64 * 2 ** 20;

/** The settings an output was made with, as recorded in the library and in export manifests. */
export interface RecordedSettings {
  /** The resolved working size (short side, pixels). */
  size: number;
  /** What was asked for: a number or 'auto'. */
  sizeSetting: WorkingSizeSetting;
  outputSize: OutputSizeMode;
  batch: number;
  keepAudio: boolean;
  /** Frame size f_A worked at. */
  width: number;
  height: number;
  /** Frame size of the encoded video (the working size, or the source's with outputSize 'source'). */
  outputWidth: number;
  outputHeight: number;
  /** The person height 'auto' followed (fraction of the frame height), null when none. */
  personHeightFraction: number | null;
}

export interface AnonymizeFileResult {
  input: string;
  output: string;
  frames: number;
  /** Throughput of the whole pipeline, frames per second. */
  fps: number;
  sha256: string;
  /** Frame size f_A worked at. */
  width: number;
  height: number;
  /** Frame size of the encoded video. */
  outputWidth: number;
  outputHeight: number;
  settings: RecordedSettings;
  videoFps: number;
  durationS: number;
  seconds: number;
}

/** Checks settings given by a caller (CLI, job payload): one-line errors. */
export function validateSettings(settings: Partial<AnonymizeSettings>): void {
  if (settings.size !== undefined) parseWorkingSize(settings.size, 'size');
  if (settings.outputSize !== undefined) parseOutputSize(settings.outputSize, 'output size');
  if (settings.batch !== undefined && (!Number.isInteger(settings.batch) || settings.batch < 1 || settings.batch > 512))
    throw new SpactError('validation', `batch must be an integer 1–512, got ${settings.batch}`);
}

/** Anonymizes one video file into an MP4. Cancellable; a failure leaves no partial output. */
export async function anonymizeFile(
  anonymizer: Anonymizer,
  input: string,
  output: string,
  settings: AnonymizeSettings,
  opts: {
    signal?: AbortSignal;
    onProgress?: (done: number, total: number | null) => void;
    /** The people's height 'auto' follows (see resolveWorkingSize); absent or null: none known. */
    personHeightFraction?: number | null;
  } = {},
): Promise<AnonymizeFileResult> {
  const t0 = performance.now();
  validateSettings(settings);
  const info = await probeVideo(input);
  const sizeSetting = settings.size ?? 'auto';
  const outputSize = settings.outputSize ?? 'working';
  const personHeightFraction = sizeSetting === 'auto' ? (opts.personHeightFraction ?? null) : null;
  const size = resolveWorkingSize(sizeSetting, info, personHeightFraction);
  const { width, height } = workingSize(info, size);
  const out = outputSize === 'source' ? { width: info.width, height: info.height } : { width, height };
  // Variable frame rate input is resampled to its average rate: the output is constant-rate.
  const videoFps = Math.round(info.fps * 1000) / 1000;
  const expected = info.durationS > 0 ? Math.round(info.durationS * videoFps) : null;
  const batch = Math.max(1, Math.min(settings.batch, Math.floor(BATCH_BYTES / (width * height * 3))));
  // Sealed raw footage reaches the encoder's audio input through the loopback feed, like the decoder.
  const audio = settings.keepAudio && info.hasAudio ? await mediaInput(input) : null;
  const writer = new Mp4Writer(output, {
    width,
    height,
    ...(outputSize === 'source' ? { outputWidth: out.width, outputHeight: out.height } : {}),
    fps: videoFps,
    ...(audio ? { audioFrom: audio.input } : {}),
  });
  let frames = 0;
  try {
    for await (const b of decodeFrames(input, { width, height, fps: videoFps, batch })) {
      if (opts.signal?.aborted) throw new SpactError('cancelled', `anonymizing ${input} was cancelled`);
      const anon = await anonymizer.anonymize(b.frames, b.n, height, width);
      await writer.write(anon);
      frames += b.n;
      opts.onProgress?.(frames, expected);
    }
    if (frames === 0) throw new SpactError('bad-input', `${input}: no frame could be decoded`);
    await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  } finally {
    audio?.release();
  }
  const seconds = (performance.now() - t0) / 1000;
  // The encoder pads odd sizes to even (yuv420p).
  const even = (x: number) => x + (x % 2);
  const recorded: RecordedSettings = {
    size,
    sizeSetting,
    outputSize,
    batch: settings.batch,
    keepAudio: settings.keepAudio,
    width,
    height,
    outputWidth: even(out.width),
    outputHeight: even(out.height),
    personHeightFraction,
  };
  return {
    input,
    output,
    frames,
    fps: frames / seconds,
    sha256: await sha256File(output),
    width,
    height,
    outputWidth: recorded.outputWidth,
    outputHeight: recorded.outputHeight,
    settings: recorded,
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
  settings: RecordedSettings;
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

/** Settings of outputs recorded before working sizes were resolved per room lack the newer fields. */
function recordedSettings(text: string): RecordedSettings {
  const s = JSON.parse(text) as Partial<RecordedSettings> & { width: number; height: number; size: number };
  return {
    ...s,
    size: s.size,
    sizeSetting: s.sizeSetting ?? s.size,
    outputSize: s.outputSize ?? 'working',
    batch: s.batch ?? DEFAULT_SETTINGS.batch,
    keepAudio: s.keepAudio ?? false,
    outputWidth: s.outputWidth ?? s.width,
    outputHeight: s.outputHeight ?? s.height,
    personHeightFraction: s.personHeightFraction ?? null,
  };
}

const toOutput = (r: OutputRow): OutputRecord => ({
  id: r.id,
  clipId: r.clip_id,
  modelId: r.model_id,
  path: r.path,
  sha256: r.sha256,
  settings: recordedSettings(r.settings),
  frames: r.frames,
  fps: r.fps,
  durationS: r.duration_s,
  createdAt: r.created_at,
});

/** The app-wide sizes for clips without a room (settings keys inputSize and outputSize). */
export const APP_SIZE_DEFAULTS: { inputSize: WorkingSizeSetting; outputSize: OutputSizeMode } = {
  inputSize: 'auto',
  outputSize: 'working',
};

/** Reads the app-wide sizes; a number stored by an older version is kept, brought within the limits. */
export function readAppSizeSettings(db: Db): { inputSize: WorkingSizeSetting; outputSize: OutputSizeMode } {
  const rows = db.prepare(`SELECT key, value FROM settings WHERE key IN ('inputSize', 'outputSize')`).all() as {
    key: string;
    value: string;
  }[];
  const out = { ...APP_SIZE_DEFAULTS };
  for (const r of rows) {
    let v: unknown;
    try {
      v = JSON.parse(r.value);
    } catch {
      continue;
    }
    if (r.key === 'inputSize')
      out.inputSize = v === 'auto' || typeof v !== 'number' ? 'auto' : resolveWorkingSize(v, { width: 1, height: 1 });
    if (r.key === 'outputSize' && (v === 'working' || v === 'source')) out.outputSize = v;
  }
  return out;
}

/** Where and how f_A computes (settings keys device, threads, memoryBudgetMiB). */
export interface EngineSettings {
  /** auto (CUDA when present) | cpu | cuda | cuda:N */
  device: string;
  /** libtorch threads; 0: all cores. */
  threads: number;
  /** Memory the anonymization may use, MiB: sets the pixels of one f_A call (callBudgetsFor). */
  memoryBudgetMiB: number;
}

// The contract repeats these limits (it stays free of Node imports): the typecheck fails if they differ.
const BUDGET_LIMITS: MemoryBudgetLimits = MEMORY_BUDGET_MIB;

export const ENGINE_DEFAULTS: EngineSettings = { device: 'auto', threads: 0, memoryBudgetMiB: BUDGET_LIMITS.default };

/** What a job's engine ran with, as its result reports it. */
export interface EngineUsed {
  /** The device the engine runs on ('auto' resolved). */
  device: string;
  threads: number;
  memoryBudgetMiB: number;
  /** Pixels grouped into one f_A call, and the most one call holds (larger frames are tiled). */
  batchPixelsPerCall: number;
  maxPixelsPerCall: number;
}

/** Reads the engine settings; a value that is missing or out of range is the default. */
export function readEngineSettings(db: Db): EngineSettings {
  const rows = db
    .prepare(`SELECT key, value FROM settings WHERE key IN ('device', 'threads', 'memoryBudgetMiB')`)
    .all() as { key: string; value: string }[];
  const out = { ...ENGINE_DEFAULTS };
  for (const r of rows) {
    let v: unknown;
    try {
      v = JSON.parse(r.value);
    } catch {
      continue;
    }
    if (r.key === 'device' && typeof v === 'string' && /^(auto|cpu|cuda(:\d+)?)$/.test(v)) out.device = v;
    if (r.key === 'threads' && Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 256)
      out.threads = v as number;
    if (
      r.key === 'memoryBudgetMiB' &&
      Number.isInteger(v) &&
      (v as number) >= MEMORY_BUDGET_MIB.min &&
      (v as number) <= MEMORY_BUDGET_MIB.max
    )
      out.memoryBudgetMiB = v as number;
  }
  return out;
}

type PersonDetector = Pick<Judges, 'persons'>;

/** What an anonymizer loaded with `engine` runs with. */
export function engineUsed(anonymizer: Anonymizer, engine: EngineSettings): EngineUsed {
  return {
    device: anonymizer.device,
    threads: anonymizer.threads,
    memoryBudgetMiB: engine.memoryBudgetMiB,
    batchPixelsPerCall: anonymizer.batchPixelsPerCall,
    maxPixelsPerCall: anonymizer.maxPixelsPerCall,
  };
}

/** Library-level anonymization: clip + model → recorded output. Anonymizers are cached per model
 *  and engine settings. */
export class AnonymizeService {
  /** Loaded anonymizers, per model and engine settings: at most SPACT_MODEL_CACHE_SIZE (default 2). */
  private readonly loaded: ModelCache<Anonymizer>;
  private detector: Promise<PersonDetector> | undefined;

  constructor(
    private readonly db: Db,
    private readonly library: LibraryService,
    private readonly dataDir: string,
    /** Fixed engine settings (a CLI flag); what is not given comes from the settings table. */
    private readonly engineOverrides: Partial<EngineSettings> = {},
    modelCacheSize: number = modelCacheSizeFromEnv(),
  ) {
    this.loaded = new ModelCache<Anonymizer>(modelCacheSize);
  }

  /** The engine settings a new job or live stream uses: read now, so a change applies to the next one. */
  engineSettings(overrides: Partial<EngineSettings> = {}): EngineSettings {
    return { ...readEngineSettings(this.db), ...this.engineOverrides, ...overrides };
  }

  /**
   * Where person boxes for 'auto' come from: the privacy judges (CenterNet), loaded once on first
   * use. Replaceable: the app shares the audit's judges, tests use a fake.
   */
  loadPersonDetector: () => Promise<PersonDetector> = () => {
    if (!this.detector) {
      this.detector = Judges.load();
      this.detector.catch(() => (this.detector = undefined));
    }
    return this.detector;
  };

  get outputsDir(): string {
    return path.join(this.dataDir, 'outputs');
  }

  /**
   * The model's anonymizer for the current engine settings (or `engine`), cached per model and
   * settings in a bounded LRU cache: after a settings change the next caller gets a new one and the
   * old one is evicted; an evicted anonymizer is closed (its f_A freed) unless a job pinned it
   * (anonymizeClip), then when that job ends — a caller that keeps one without pinning gets
   * AnonymizerClosedError after eviction. A CUDA device this machine lacks fails with kind
   * 'unavailable'.
   */
  anonymizerFor(model: ModelRecord, engine: EngineSettings = this.engineSettings()): Promise<Anonymizer> {
    return this.loaded.get(this.cacheKey(model, engine), () => this.loadAnonymizer(model, engine));
  }

  /** Runs `job` with the model's anonymizer pinned in the cache: never closed under the job. */
  withAnonymizer<R>(model: ModelRecord, engine: EngineSettings, job: (a: Anonymizer) => Promise<R>): Promise<R> {
    return this.loaded.use(this.cacheKey(model, engine), () => this.loadAnonymizer(model, engine), job);
  }

  /** The model's anonymizer pinned until `release()`: a live stream holds it while it runs. */
  leaseAnonymizer(
    model: ModelRecord,
    engine: EngineSettings = this.engineSettings(),
  ): Promise<{ model: Anonymizer; release: () => void }> {
    return this.loaded.acquire(this.cacheKey(model, engine), () => this.loadAnonymizer(model, engine));
  }

  /** Closes every cached anonymizer that no job holds (shutdown, tests). */
  closeAnonymizers(): Promise<void> {
    return this.loaded.clear();
  }

  private cacheKey(model: ModelRecord, engine: EngineSettings): string {
    return `${model.sha256}|${engine.device}|${engine.threads}|${engine.memoryBudgetMiB}`;
  }

  private loadAnonymizer(model: ModelRecord, engine: EngineSettings): Promise<Anonymizer> {
    // Another settings' anonymizer of this model is not used again: evicted now.
    const prefix = `${model.sha256}|`;
    this.loaded.evictWhere((k) => k.startsWith(prefix) && k !== this.cacheKey(model, engine));
    return Anonymizer.load(model.checkpoint, engine);
  }

  /** How tall people are in these videos (see estimatePersonHeightFraction). Seconds. */
  async measurePeople(files: string[], signal?: AbortSignal): Promise<PersonHeightEstimate> {
    const detector = await this.loadPersonDetector();
    return estimatePersonHeightFraction(files, detector, signal ? { signal } : {});
  }

  /** (Re-)measures the people in a room's clips and stores it: what the room's 'auto' follows. */
  async measureRoom(roomId: number, opts: { signal?: AbortSignal } = {}): Promise<Room> {
    const room = this.library.room(roomId);
    const files = this.library
      .clips({ roomId })
      .map((c) => c.path)
      .filter((f) => fs.existsSync(f));
    if (files.length === 0)
      throw new SpactError('conflict', `room "${room.name}" has no clip to measure people on; import one first`);
    return this.library.recordPersonHeight(roomId, await this.measurePeople(files, opts.signal));
  }

  /**
   * The working size, output size and person height a clip is anonymized with: explicit settings
   * first, else its room's (measuring the room's people once, when it is 'auto' and unmeasured),
   * else the app settings (measuring this clip's people when 'auto'). When people cannot be
   * measured (the judges cannot load), 'auto' falls back to its no-person rule.
   */
  async sizesFor(
    clipId: number,
    settings: Partial<AnonymizeSettings> = {},
    opts: { signal?: AbortSignal; onNote?: (note: string) => void } = {},
  ): Promise<{ size: WorkingSizeSetting; outputSize: OutputSizeMode; personHeightFraction: number | null }> {
    validateSettings(settings);
    const clip = this.library.clip(clipId);
    let room = clip.roomId === null ? null : this.library.room(clip.roomId);
    const app = room ? null : readAppSizeSettings(this.db);
    const size = settings.size ?? room?.workingSize ?? app!.inputSize;
    const outputSize = settings.outputSize ?? room?.outputSize ?? app!.outputSize;
    if (size !== 'auto') return { size, outputSize, personHeightFraction: null };
    const fallback = (err: unknown) => {
      if (err instanceof SpactError && err.kind === 'cancelled') throw err;
      opts.onNote?.(
        `people could not be measured (${(err as Error).message}); the working size follows the source's size`,
      );
      return null;
    };
    if (room) {
      if (!room.personHeight) {
        opts.onNote?.(`measuring people in room "${room.name}"`);
        room = await this.measureRoom(room.id, opts.signal ? { signal: opts.signal } : {}).catch(fallback);
      }
      return { size, outputSize, personHeightFraction: room?.personHeight?.fraction ?? null };
    }
    opts.onNote?.(`measuring people in clip ${clip.id}`);
    const m = await this.measurePeople([clip.path], opts.signal).catch(fallback);
    return { size, outputSize, personHeightFraction: m?.fraction ?? null };
  }

  async anonymizeClip(
    clipId: number,
    modelId: number,
    settings: Partial<AnonymizeSettings> = {},
    opts: {
      signal?: AbortSignal;
      onProgress?: (fraction: number) => void;
      onNote?: (note: string) => void;
      /** Engine settings over the app's (e.g. the CLI's --memory-budget). */
      engine?: Partial<EngineSettings>;
    } = {},
  ): Promise<OutputRecord & { engine: EngineUsed }> {
    const clip = this.library.clip(clipId);
    const model = this.library.model(modelId);
    if (!fs.existsSync(clip.path))
      throw new SpactError('not-found', `clip ${clipId}: its file ${clip.path} is missing`);
    // The engine first: a device this machine lacks fails before people are measured.
    const engine = this.engineSettings(opts.engine);
    // Pinned for the whole job: a cache eviction meanwhile closes it only when the job ends.
    return this.withAnonymizer(model, engine, async (anonymizer) => {
      const sizes = await this.sizesFor(clipId, settings, {
        ...(opts.signal ? { signal: opts.signal } : {}),
        onNote: opts.onNote ?? ((note) => process.stderr.write(`clip ${clip.id}: ${note}\n`)),
      });
      const short = resolveWorkingSize(sizes.size, clip, sizes.personHeightFraction);
      const file = path.join(
        this.outputsDir,
        // A new file per run: an earlier output (perhaps already exported) is never overwritten.
        `clip${clip.id}-${model.sha256.slice(0, 10)}-${short}${sizes.outputSize === 'source' ? '-src' : ''}${settings.keepAudio ? '-audio' : ''}-${Date.now().toString(36)}.mp4`,
      );
      // Written under a temporary name and given its own only once its row exists: a process killed
      // in between leaves a temporary file that start-up removes, or — row written, rename not —
      // renames (reconcileFiles), never a finished-looking output without its row.
      const pending = `${file}.tmp-${process.pid}`;
      const r = await anonymizeFile(
        anonymizer,
        clip.path,
        pending,
        {
          batch: settings.batch ?? DEFAULT_SETTINGS.batch,
          keepAudio: settings.keepAudio ?? DEFAULT_SETTINGS.keepAudio,
          size: sizes.size,
          outputSize: sizes.outputSize,
        },
        {
          ...(opts.signal ? { signal: opts.signal } : {}),
          personHeightFraction: sizes.personHeightFraction,
          onProgress: (done, total) => opts.onProgress?.(total ? Math.min(0.99, done / total) : 0),
        },
      );
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
            JSON.stringify(r.settings),
            r.frames,
            r.videoFps,
            r.durationS,
            nowIso(),
          );
        fs.renameSync(pending, file);
        return { ...this.output(Number(info.lastInsertRowid)), engine: engineUsed(anonymizer, engine) };
      } catch (err) {
        fs.rmSync(pending, { force: true }); // no output file without its row
        throw err;
      }
    });
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
