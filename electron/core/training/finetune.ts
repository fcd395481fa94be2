// Room adaptation from unlabeled footage: sample clips from the room's videos (bounded memory),
// then fine-tune the base model on them — f_B learns the room with the SSL loss, f_A maximizes it,
// and utility is kept by distillation from the frozen base action model (no labels needed;
// operator-tagged clips add a supervised term).
import fs from 'node:fs';
import path from 'node:path';

import {
  deepMerge,
  readCheckpointMeta,
  resolveCheckpointPath,
  train,
  type DistillTeacher,
  type TrainConfigOverrides,
  type TrainProgress,
  type TrainResult,
} from '../../../native-models/ts/index.js';
import { SpactError } from '../errors.js';
import { expandFootage, sampleFootage, type ActionTag } from './footage.js';

export interface FinetuneOptions {
  footage: string[];
  base: string; // run folder or checkpoint
  out: string;
  steps?: number;
  /** Clips to sample from the footage. */
  clips?: number;
  fps?: number;
  tags?: ActionTag[];
  /** What the distillation teacher sees (default: DEFAULT_DISTILL_TEACHER). */
  teacher?: DistillTeacher;
  overrides?: TrainConfigOverrides;
  resume?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
  onWarning?: (m: string) => void;
  onStatus?: (m: string) => void;
}

export const FOOTAGE_DATA_DIR = 'footage-data';

/** The fine-tune settings `npm run bench:adapt` selected on the new room's validation split
 *  (bench/RESULTS.md, "Room adaptation"): the teacher sees the clips through the frozen base f_A
 *  (a raw teacher pulls f_A back to the input), f_T keeps learning the teacher's soft labels (f_A
 *  fooled a frozen f_T), and f_A moves at 1e-3 (at 1e-4 the privacy term never caught up with f_B). */
export const DEFAULT_DISTILL_TEACHER: DistillTeacher = 'anonymized';
const FINETUNE_DEFAULTS = { distill: { adaptT: true }, minimax: { lrA: 1e-3 } };

/** Reads an operator tag file: {"tags": [{"file", "start", "end", "action"}]}. */
export function readTags(file: string): ActionTag[] {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SpactError('bad-input', `${file}: not a readable JSON tag file (${(err as Error).message})`);
  }
  const tags = (raw as { tags?: unknown }).tags;
  if (!Array.isArray(tags))
    throw new SpactError('bad-input', `${file}: expected {"tags": [{"file", "start", "end", "action"}]}`);
  return tags.map((t, i) => {
    const g = t as Partial<ActionTag>;
    if (
      typeof g.file !== 'string' ||
      typeof g.action !== 'string' ||
      typeof g.start !== 'number' ||
      typeof g.end !== 'number' ||
      g.end <= g.start
    ) {
      throw new SpactError('bad-input', `${file}: tag ${i} needs file, action, and start < end in seconds`);
    }
    return g as ActionTag;
  });
}

export async function finetune(opts: FinetuneOptions): Promise<TrainResult> {
  const dataDir = path.join(path.resolve(opts.out), FOOTAGE_DATA_DIR);
  if (opts.resume) {
    return train({
      data: dataDir,
      out: opts.out,
      resume: true,
      ...(opts.steps !== undefined ? { overrides: { minimax: { steps: opts.steps } } } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
    });
  }
  if (fs.existsSync(path.join(opts.out, 'checkpoint.pt'))) {
    throw new SpactError('conflict', `${opts.out} already holds a run; use --resume or another --out`);
  }
  const baseFile = resolveCheckpointPath(opts.base);
  const base = readCheckpointMeta(baseFile);
  const shape = (base.extra?.dataShape as { frames: number; height: number } | undefined) ?? { frames: 16, height: 64 };
  const files = expandFootage(opts.footage);
  opts.onStatus?.(`sampling clips from ${files.length} footage file(s)…`);
  const sample = await sampleFootage(files, dataDir, {
    size: shape.height,
    frames: shape.frames,
    fps: opts.fps ?? 10,
    clips: opts.clips ?? 512,
    valFraction: 0.1,
    seed: base.config.seed,
    actions: base.labels.actions,
    ...(opts.tags ? { tags: opts.tags } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onStatus ? { onProgress: opts.onStatus } : {}),
  });
  const steps = opts.steps ?? 200;
  // Little footage: smaller batches rather than a refusal (the contrastive loss needs ≥ 2 clips).
  const trainClips = sample.manifest.splits.train?.clips ?? 0;
  const batchSize = Math.max(2, Math.min(base.config.data.batchSize, trainClips));
  return train({
    data: dataDir,
    out: opts.out,
    base: baseFile,
    // Deep merge: an override of one minimax or init key must not drop the step budget.
    overrides: deepMerge(
      {
        data: { batchSize },
        distill: { ...FINETUNE_DEFAULTS.distill, teacher: opts.teacher ?? DEFAULT_DISTILL_TEACHER },
        minimax: { ...FINETUNE_DEFAULTS.minimax, steps },
        // f_B first learns the room (its own SSL init), bounded by a step cap.
        init: { maxStepsTB: Math.max(10, Math.round(steps / 2)) },
        checkpoint: { every: Math.max(5, Math.round(steps / 10)), snapshotEvery: 0 },
        eval: { every: Math.max(5, Math.round(steps / 10)), batches: 2 },
      },
      opts.overrides ?? {},
    ),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
  });
}
