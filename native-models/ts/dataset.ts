// The engine's dataset format ("spact-clips" v1): a folder with manifest.json and one raw file per
// split holding fixed-size clips (frames × height × width × RGB, uint8, clip after clip). Reading
// is by clip offset, so memory stays bounded whatever the dataset size. SynthRoom writes this
// format; any tool can (see README, "Dataset format").
import fs from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { formatIssues } from './config.js';
import type { NativeBatch } from './native.js';
import { recordCipherFor, RecordFile, type RecordCipher } from './record-file.js';
import { mulberry32, shuffled } from './rng.js';

export const SPLITS = ['train', 'val', 'test'] as const;
export type Split = (typeof SPLITS)[number];

const SplitLabels = z
  .object({
    // Class index per clip (-1: untagged footage), or a multi-hot list when multiLabel.
    actions: z.array(z.union([z.number().int().min(-1), z.array(z.number().min(0).max(1))])),
    privacy: z.array(z.array(z.number().min(0).max(1))).optional(),
  })
  .strict();

export const ManifestSchema = z
  .object({
    format: z.literal('spact-clips'),
    version: z.literal(1),
    frames: z.number().int().min(1),
    height: z.number().int().min(8),
    width: z.number().int().min(8),
    actions: z.array(z.string()).min(1),
    multiLabel: z.boolean().default(false),
    privacyAttributes: z.array(z.string()).default([]),
    splits: z.partialRecord(z.enum(SPLITS), z.object({ file: z.string(), clips: z.number().int().min(0) }).strict()),
    labels: z.partialRecord(z.enum(SPLITS), SplitLabels),
    // Free-form provenance (generator, seed, attribute groups, …); not read by the engine.
    meta: z.record(z.string(), z.unknown()).optional(),
    // The key that seals each clip (see record-file.ts): cached raw footage of the app's runs.
    sealedBy: z.string().optional(),
  })
  .strict();
export type Manifest = z.infer<typeof ManifestSchema>;

export class DatasetError extends Error {
  readonly kind = 'bad-input' as const;
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

/** A batch as the engine takes it: frames uint8 [n, t, h, w, 3] plus labels. */
export type ClipBatch = NativeBatch;

export class ClipDataset {
  private readonly files = new Map<Split, RecordFile>();

  private constructor(
    readonly dir: string,
    readonly manifest: Manifest,
    private readonly cipher: RecordCipher | null,
  ) {}

  static open(dir: string): ClipDataset {
    const manifestPath = path.join(dir, 'manifest.json');
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
      throw new DatasetError(`dataset folder ${dir} does not exist`);
    if (!fs.existsSync(manifestPath)) {
      throw new DatasetError(`${dir} is not a SPAct dataset: manifest.json is missing (see README, "Dataset format")`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
    } catch (err) {
      throw new DatasetError(`${manifestPath} is not valid JSON: ${(err as Error).message}`);
    }
    const parsed = ManifestSchema.safeParse(raw);
    if (!parsed.success) throw new DatasetError(`${manifestPath}: ${formatIssues(parsed.error)}`);
    const m = parsed.data;
    const ds = new ClipDataset(dir, m, recordCipherFor(m.sealedBy, `the dataset ${dir}`));
    for (const [split, info] of Object.entries(m.splits) as [Split, { file: string; clips: number }][]) {
      const file = path.join(dir, info.file);
      if (path.relative(dir, file).startsWith('..'))
        throw new DatasetError(`${manifestPath}: split file escapes the dataset folder`);
      if (!fs.existsSync(file)) throw new DatasetError(`${file} is missing (split "${split}")`);
      const stride = RecordFile.stride(ds.clipBytes, ds.cipher);
      const expected = info.clips * stride;
      const actual = fs.statSync(file).size;
      if (actual !== expected) {
        throw new DatasetError(
          `${file} holds ${actual} bytes, expected ${info.clips} clips × ${stride} bytes = ${expected}; the dataset is truncated or corrupt`,
        );
      }
      const labels = m.labels[split];
      if (!labels || labels.actions.length !== info.clips) {
        throw new DatasetError(`${manifestPath}: split "${split}" needs ${info.clips} action labels`);
      }
      for (const a of labels.actions) {
        if (
          m.multiLabel
            ? !Array.isArray(a) || a.length !== m.actions.length
            : typeof a !== 'number' || a >= m.actions.length
        ) {
          throw new DatasetError(
            `${manifestPath}: split "${split}" has an action label that does not fit ${m.actions.length} actions`,
          );
        }
      }
      if (
        labels.privacy &&
        (labels.privacy.length !== info.clips || labels.privacy.some((p) => p.length !== m.privacyAttributes.length))
      ) {
        throw new DatasetError(
          `${manifestPath}: split "${split}" privacy labels must be ${info.clips} × ${m.privacyAttributes.length}`,
        );
      }
    }
    if (!m.splits.train || m.splits.train.clips < 2)
      throw new DatasetError(`${manifestPath}: a "train" split with at least 2 clips is required`);
    return ds;
  }

  get clipBytes(): number {
    return this.manifest.frames * this.manifest.height * this.manifest.width * 3;
  }

  count(split: Split): number {
    return this.manifest.splits[split]?.clips ?? 0;
  }

  hasPrivacyLabels(split: Split): boolean {
    return Boolean(this.manifest.labels[split]?.privacy);
  }

  private file(split: Split): RecordFile {
    let f = this.files.get(split);
    if (f === undefined) {
      const info = this.manifest.splits[split];
      if (!info) throw new DatasetError(`the dataset has no "${split}" split`);
      f = new RecordFile(path.join(this.dir, info.file), this.clipBytes, 'r', this.cipher);
      this.files.set(split, f);
    }
    return f;
  }

  /** Reads clips by index into one batch (frames copied; nothing else is held in memory). */
  readBatch(split: Split, indices: number[], opts: { privacy?: boolean; privacyColumns?: number[] } = {}): ClipBatch {
    const m = this.manifest;
    const file = this.file(split);
    const frames = new Uint8Array(indices.length * this.clipBytes);
    indices.forEach((clip, i) => {
      if (clip < 0 || clip >= this.count(split))
        throw new DatasetError(`clip ${clip} is out of range for split "${split}"`);
      if (!file.read(clip, frames.subarray(i * this.clipBytes, (i + 1) * this.clipBytes)))
        throw new DatasetError(`short read of clip ${clip} in split "${split}"`);
    });
    const labels = m.labels[split]!;
    let actions: Int32Array | Float32Array;
    if (m.multiLabel) {
      actions = new Float32Array(indices.length * m.actions.length);
      indices.forEach((clip, i) => actions.set(labels.actions[clip] as number[], i * m.actions.length));
    } else {
      actions = Int32Array.from(indices, (clip) => labels.actions[clip] as number);
    }
    const batch: ClipBatch = { frames, n: indices.length, t: m.frames, h: m.height, w: m.width, actions };
    if (opts.privacy) {
      if (!labels.privacy)
        throw new DatasetError(`split "${split}" has no privacy labels (needed by the supervised budget mode)`);
      const cols = opts.privacyColumns ?? m.privacyAttributes.map((_, c) => c);
      const p = new Float32Array(indices.length * cols.length);
      indices.forEach((clip, i) => {
        const row = labels.privacy![clip]!;
        cols.forEach((c, j) => (p[i * cols.length + j] = row[c]!));
      });
      batch.privacy = p;
    }
    return batch;
  }

  close(): void {
    for (const f of this.files.values()) f.close();
    this.files.clear();
  }
}

/**
 * Deterministic batch order: batch k of a stream is a function of (seed, k) only, so a resumed run
 * sees exactly the batches an uninterrupted run would have seen.
 */
export class BatchSampler {
  private cachedEpoch = -1;
  private order: number[] = [];

  constructor(
    readonly count: number,
    readonly batchSize: number,
    readonly seed: number,
  ) {
    if (count < batchSize) {
      throw new DatasetError(
        `the split has ${count} clips, fewer than one batch of ${batchSize}; lower data.batchSize`,
      );
    }
  }

  /** Clip indices of batch number k (epochs reshuffle; a batch never straddles two epochs). */
  indices(k: number): number[] {
    const perEpoch = Math.floor(this.count / this.batchSize);
    const epoch = Math.floor(k / perEpoch);
    if (epoch !== this.cachedEpoch) {
      this.order = shuffled(
        Array.from({ length: this.count }, (_, i) => i),
        mulberry32(this.seed * 7919 + epoch),
      );
      this.cachedEpoch = epoch;
    }
    const start = (k % perEpoch) * this.batchSize;
    return this.order.slice(start, start + this.batchSize);
  }
}

/** Streams clips into the dataset format; the manifest is written (atomically) by finish(). */
export class ClipDatasetWriter {
  private readonly streams = new Map<Split, { file: RecordFile; clips: number }>();
  private readonly labels: Partial<Record<Split, { actions: (number | number[])[]; privacy: number[][] }>> = {};
  readonly clipBytes: number;

  constructor(
    readonly dir: string,
    readonly shape: { frames: number; height: number; width: number },
    readonly labelSpace: { actions: string[]; multiLabel?: boolean; privacyAttributes?: string[] },
    /** Seals each clip (raw footage cached by the app); null: stored as is. */
    private readonly cipher: RecordCipher | null = null,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    this.clipBytes = shape.frames * shape.height * shape.width * 3;
  }

  add(split: Split, frames: Uint8Array, action: number | number[], privacy?: number[]): void {
    if (frames.length !== this.clipBytes)
      throw new DatasetError(`a clip must hold ${this.clipBytes} bytes, got ${frames.length}`);
    let s = this.streams.get(split);
    if (!s) {
      s = { file: new RecordFile(path.join(this.dir, `${split}.u8.tmp`), this.clipBytes, 'w', this.cipher), clips: 0 };
      this.streams.set(split, s);
    }
    s.file.write(s.clips, frames);
    s.clips++;
    const l = (this.labels[split] ??= { actions: [], privacy: [] });
    l.actions.push(action);
    if (privacy) l.privacy.push(privacy);
  }

  finish(meta?: Record<string, unknown>): Manifest {
    const splits: Manifest['splits'] = {};
    const labels: Manifest['labels'] = {};
    for (const [split, s] of this.streams) {
      s.file.sync();
      s.file.close();
      fs.renameSync(path.join(this.dir, `${split}.u8.tmp`), path.join(this.dir, `${split}.u8`));
      splits[split] = { file: `${split}.u8`, clips: s.clips };
      const l = this.labels[split]!;
      labels[split] =
        l.privacy.length === s.clips ? { actions: l.actions, privacy: l.privacy } : { actions: l.actions };
    }
    const manifest: Manifest = {
      format: 'spact-clips',
      version: 1,
      ...this.shape,
      actions: this.labelSpace.actions,
      multiLabel: this.labelSpace.multiLabel ?? false,
      privacyAttributes: this.labelSpace.privacyAttributes ?? [],
      splits,
      labels,
      ...(meta ? { meta } : {}),
      ...(this.cipher ? { sealedBy: this.cipher.id } : {}),
    };
    const tmp = path.join(this.dir, 'manifest.json.tmp');
    fs.writeFileSync(tmp, JSON.stringify(manifest));
    fs.renameSync(tmp, path.join(this.dir, 'manifest.json'));
    return manifest;
  }
}
