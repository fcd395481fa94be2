// Checkpoints: one file holding weights, optimizer state and a JSON meta (resolved config, label
// space, loop state, metrics). Written to a temporary file and renamed, so a crash or a full disk
// never leaves a half-written file in place of a good one.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { formatIssues, TrainConfigSchema } from './config.js';
import { mapNativeError, NonFiniteLossError, SpactEngine } from './engine.js';
import { loadNative } from './native.js';

export const CHECKPOINT_FILE = 'checkpoint.pt';

export const PHASES = ['init-A', 'init-TB', 'minimax', 'done'] as const;
export type Phase = (typeof PHASES)[number];

export const CheckpointMetaSchema = z.object({
  format: z.literal('spact-run-v1'),
  kind: z.enum(['train', 'finetune']).default('train'),
  config: TrainConfigSchema,
  labels: z.object({
    actions: z.array(z.string()).min(1),
    multiLabelActions: z.boolean(),
    privacyAttributes: z.array(z.string()),
  }),
  state: z.object({
    phase: z.enum(PHASES),
    step: z.number().int().min(0), // engine updates so far, all phases
    phaseStep: z.number().int().min(0),
    minimaxStep: z.number().int().min(0),
    cursor: z.number().int().min(0), // training batches consumed (deterministic data order)
    doneT: z.boolean(),
    doneB: z.boolean(),
  }),
  metrics: z.record(z.string(), z.number()),
  createdAt: z.string(),
  // Free-form extras (e.g. fine-tuning provenance: base model hash).
  extra: z.record(z.string(), z.unknown()).optional(),
});
export type CheckpointMeta = z.infer<typeof CheckpointMetaSchema>;

export class CheckpointError extends Error {
  constructor(
    readonly kind: 'not-found' | 'bad-input',
    message: string,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** Reads and validates the meta of a checkpoint without building any network. */
export function readCheckpointMeta(file: string): CheckpointMeta {
  if (!fs.existsSync(file)) throw new CheckpointError('not-found', `checkpoint ${file} does not exist`);
  let text: string;
  try {
    text = loadNative().readCheckpointMeta(file);
  } catch (err) {
    const e = mapNativeError(err);
    throw new CheckpointError(
      'bad-input',
      `checkpoint ${file} is corrupt or not a SPAct checkpoint (${e.message.split('\n')[0]})`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CheckpointError('bad-input', `checkpoint ${file} has an unreadable meta record`);
  }
  const parsed = CheckpointMetaSchema.safeParse(raw);
  if (!parsed.success)
    throw new CheckpointError(
      'bad-input',
      `checkpoint ${file} has an invalid meta record: ${formatIssues(parsed.error)}`,
    );
  return parsed.data;
}

/** Saves atomically: temp file in the same folder, fsync, rename over the target. */
export async function saveCheckpoint(
  engine: SpactEngine,
  file: string,
  meta: CheckpointMeta,
  opts: { weightsOnly?: boolean } = {},
): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await engine.save(tmp, JSON.stringify(meta), opts.weightsOnly ?? false);
    const fd = fs.openSync(tmp, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    if (err instanceof NonFiniteLossError) throw err;
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new CheckpointError('bad-input', `could not write checkpoint ${file}: ${reason}`);
  }
}

/** Copies a finished checkpoint atomically (used for snapshots kept for model selection). */
export function copyCheckpoint(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  const tmp = `${to}.tmp-${process.pid}`;
  fs.copyFileSync(from, tmp);
  fs.renameSync(tmp, to);
}

/**
 * sha256 of a file, streamed 1 MiB at a time (never the whole file in memory): the one helper for
 * it. Of a checkpoint, the model's identity in the library and in export manifests.
 */
export function fileSha256(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * Writes a weights-only copy of a checkpoint (no optimizer state: a third of the size), for
 * shipping a model or using it as a fine-tuning base. It cannot be resumed as a training run.
 */
export async function exportWeightsOnly(from: string, to: string, extra: Record<string, unknown> = {}): Promise<void> {
  const meta = readCheckpointMeta(from);
  const engine = new SpactEngine({ ...meta.config, device: 'cpu' }, meta.labels);
  await engine.load(from, true);
  await saveCheckpoint(
    engine,
    to,
    { ...meta, extra: { ...meta.extra, ...extra, weightsOnly: true } },
    { weightsOnly: true },
  );
}

/** A run's chosen model when it differs from its last state: the checkpoint its selection on
 *  held-out footage picked (room fine-tunes). `checkpoint.pt` stays the resumable last state. */
export const SELECTED_FILE = 'selected.pt';

/** Accepts a run folder (its selected model, else its checkpoint.pt) or a checkpoint file. */
export function resolveCheckpointPath(modelPath: string): string {
  if (!fs.existsSync(modelPath)) throw new CheckpointError('not-found', `model ${modelPath} does not exist`);
  if (fs.statSync(modelPath).isDirectory()) {
    const selected = path.join(modelPath, SELECTED_FILE);
    if (fs.existsSync(selected)) return selected;
    const file = path.join(modelPath, CHECKPOINT_FILE);
    if (!fs.existsSync(file))
      throw new CheckpointError('not-found', `${modelPath} holds no ${CHECKPOINT_FILE}: not a training run`);
    return file;
  }
  return modelPath;
}
