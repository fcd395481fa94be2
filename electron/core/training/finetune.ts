// Room adaptation from unlabeled footage. Two recipes:
//   room (default, real cameras): the judges' pseudo-labels on the raw footage (people, poses,
//     who is who over time) — a student f_U must still find people and poses on f_A's output
//     while an identity budget f_Bid tries to link each person across time; working size = the
//     room's; the model is chosen on held-out footage by the privacy audit's own figures;
//   synthroom (SynthRoom-style rooms): sampled clips, f_B learns the room with the SSL loss, f_A
//     maximizes it, utility by distillation from the frozen base action model (operator-tagged
//     clips add a supervised term).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  CHECKPOINT_FILE,
  copyCheckpoint,
  deepMerge,
  PRESETS,
  readCheckpointMeta,
  recordRunTimings,
  resolveCheckpointPath,
  SELECTED_FILE,
  train,
  TRAIN_PHASES,
  type DistillTeacher,
  type PresetName,
  type TrainConfigOverrides,
  type TrainPhaseSeconds,
  type TrainProgress,
  type TrainResult,
  type RecordCipher,
} from '../../../native-models/ts/index.js';
import { SpactError } from '../errors.js';
import { probeVideo } from '../media/video.js';
import { estimatePersonHeightFraction, resolveWorkingSize, type WorkingSizeSetting } from '../media/working-size.js';
import type { Judges } from '../privacy-audit/judges.js';
import { expandFootage, sampleFootage, type ActionTag } from './footage.js';
import { buildRoomDataset, type FootagePart } from './room-footage.js';
import { selectOnFootage, type RoomSelection } from './room-selection.js';

export type FinetuneRecipe = 'room' | 'synthroom';
export const DEFAULT_RECIPE: FinetuneRecipe = 'room';

export interface FinetuneOptions {
  footage: string[];
  /** Run folder or checkpoint to start from; room recipe: '' trains a new model from `preset`. */
  base: string;
  preset?: PresetName;
  out: string;
  /** room (default): real cameras; synthroom: SynthRoom-style rooms with the distillation recipe. */
  recipe?: FinetuneRecipe;
  steps?: number;
  /** synthroom: clips to sample from the footage. */
  clips?: number;
  fps?: number;
  tags?: ActionTag[];
  /** synthroom: what the distillation teacher sees (default: DEFAULT_DISTILL_TEACHER). */
  teacher?: DistillTeacher;
  /** room: the working size (short side, px) — the room's setting; 'auto' measures the people. */
  size?: WorkingSizeSetting;
  /** room: footage held out to choose the model (default: the tail of the longest footage file). */
  selection?: FootagePart | null;
  /** room: the judges (loaded once by the caller) and where their findings are cached. */
  judges?: Judges;
  cacheDir?: string;
  overrides?: TrainConfigOverrides;
  /** Where training and the held-out selection compute (the app's settings); also on resume. */
  engine?: { device?: string; threads?: number };
  /** Seals the cached raw frames with the data folder's key (the app always passes it). */
  cipher?: RecordCipher | null;
  resume?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
  onWarning?: (m: string) => void;
  onStatus?: (m: string) => void;
}

/**
 * Wall time of one finetune() call by phase, seconds: its train() call's phases (TrainPhaseSeconds)
 * and the fine-tune's own. They do not overlap: they sum to at most `wallSeconds`.
 */
export interface FinetunePhaseSeconds extends TrainPhaseSeconds {
  /** Checks, loading the judges, measuring the people for an 'auto' working size. */
  prepare: number;
  /** Decoding the footage and writing the training frames (synthroom: sampling the clips). */
  sample: number;
  /** room: the pseudo-label pass of the judges (people, tracks, poses); 0 when cached. */
  label: number;
  /** room: choosing the checkpoint on held-out footage (the privacy audit of each snapshot). */
  select: number;
}
/** The phases in the order a fine-tune runs them. */
export const FINETUNE_PHASES = ['prepare', 'sample', 'label', ...TRAIN_PHASES, 'select'] as const;

export interface FinetuneResult extends TrainResult {
  /** room recipe: the audit of the held-out footage before (base) and after (candidates, chosen). */
  selection?: RoomSelection | null;
  workingSize?: number;
  phaseSeconds: FinetunePhaseSeconds;
}

/** Times the fine-tune's own phases around its train() call, and records the whole in the run's
 *  timings file (in place of the record its train() call wrote). */
class FinetuneClock {
  private readonly t0 = performance.now();
  private readonly startedAt = new Date().toISOString();
  private mark = performance.now();
  readonly own = { prepare: 0, sample: 0, label: 0, select: 0 };
  /** Adds the time since the last lap to `phase`. */
  lap(phase: keyof FinetuneClock['own'] | null): void {
    const now = performance.now();
    if (phase) this.own[phase] += (now - this.mark) / 1000;
    this.mark = now;
  }
  finish<R extends TrainResult>(result: R, out: string, resumed: boolean): R & { phaseSeconds: FinetunePhaseSeconds } {
    const wallSeconds = (performance.now() - this.t0) / 1000;
    const { prepare, sample, label, select } = this.own;
    // In FINETUNE_PHASES order: train()'s phases sit between the labelling and the selection.
    const phaseSeconds: FinetunePhaseSeconds = { prepare, sample, label, ...result.phaseSeconds, select };
    recordRunTimings(
      out,
      { by: 'finetune', resumed, startedAt: this.startedAt, wallSeconds, phaseSeconds: { ...phaseSeconds } },
      { replaceLast: true },
    );
    return { ...result, phaseSeconds, wallSeconds };
  }
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

/** The engine settings as training config overrides (absent ones leave the base's). */
function engineOverrides(opts: FinetuneOptions): TrainConfigOverrides {
  return {
    ...(opts.engine?.device !== undefined ? { device: opts.engine.device } : {}),
    ...(opts.engine?.threads !== undefined ? { threads: opts.engine.threads } : {}),
  };
}

/** A resumed run may change its step budget and where it computes, nothing else. */
function resumeOverrides(opts: FinetuneOptions): TrainConfigOverrides {
  return { ...(opts.steps !== undefined ? { minimax: { steps: opts.steps } } : {}), ...engineOverrides(opts) };
}

async function finetuneSynthRoom(opts: FinetuneOptions): Promise<FinetuneResult> {
  const clock = new FinetuneClock();
  const out = path.resolve(opts.out);
  const dataDir = path.join(out, FOOTAGE_DATA_DIR);
  if (opts.resume) {
    clock.lap('prepare');
    const result = await train({
      data: dataDir,
      out: opts.out,
      resume: true,
      overrides: resumeOverrides(opts),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
    });
    return clock.finish(result, out, true);
  }
  if (fs.existsSync(path.join(opts.out, 'checkpoint.pt'))) {
    throw new SpactError('conflict', `${opts.out} already holds a run; use --resume or another --out`);
  }
  const baseFile = resolveCheckpointPath(opts.base);
  const base = readCheckpointMeta(baseFile);
  const shape = (base.extra?.dataShape as { frames: number; height: number } | undefined) ?? { frames: 16, height: 64 };
  const files = expandFootage(opts.footage);
  opts.onStatus?.(`sampling clips from ${files.length} footage file(s)…`);
  clock.lap('prepare');
  const sample = await sampleFootage(files, dataDir, {
    size: shape.height,
    frames: shape.frames,
    fps: opts.fps ?? 10,
    clips: opts.clips ?? 512,
    valFraction: 0.1,
    seed: base.config.seed,
    actions: base.labels.actions,
    ...(opts.tags ? { tags: opts.tags } : {}),
    ...(opts.cipher ? { cipher: opts.cipher } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onStatus ? { onProgress: opts.onStatus } : {}),
  });
  const steps = opts.steps ?? 200;
  // Little footage: smaller batches rather than a refusal (the contrastive loss needs ≥ 2 clips).
  const trainClips = sample.manifest.splits.train?.clips ?? 0;
  const batchSize = Math.max(2, Math.min(base.config.data.batchSize, trainClips));
  clock.lap('sample');
  const result = await train({
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
        ...engineOverrides(opts),
      },
      opts.overrides ?? {},
    ),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
  });
  return clock.finish(result, out, false);
}

/** The room recipe's defaults, sized for ~15 minutes on a 2-core CPU (bench/RESULTS.md, "Real
 *  footage"): labelling ≤ ROOM_MAX_FRAMES frames, f_U and f_Bid initialised, then the minimax. */
export const ROOM_MAX_FRAMES = 240;
export const ROOM_DEFAULT_STEPS = 300;
const ROOM_DEFAULTS = (steps: number, baseHasStudent: boolean): TrainConfigOverrides => ({
  room: { enabled: true },
  data: { batchSize: 8 },
  optim: { lrT: 1e-3, lrB: 1e-3 },
  // f_A at 3e-4: on a real room the trade-off moves within ~100–200 steps; the held-out audit
  // chooses among snapshots every tenth of the budget. No th_Bmax stop: its noisy validation
  // estimate stopped a run before its first snapshot.
  minimax: { steps, lrA: 3e-4, thBMax: null },
  // The student and the identity budget learn the room first: a base trained with this recipe
  // brings a student that only adapts (half the minimax budget, ≤ 150 steps); any other base (or a
  // new model) needs one trained from scratch — an under-trained student scored a white frame
  // almost as well as the raw one and f_A blanked the frame (bench/RESULTS.md): 4× longer.
  init: {
    maxStepsA: 400,
    maxStepsTB: Math.max(4, Math.round(Math.min(150, steps / 2) * (baseHasStudent ? 1 : 4))),
    thT0: 0.05,
    thB0: 0.3,
  },
  checkpoint: { every: Math.max(5, Math.round(steps / 10)), snapshotEvery: Math.max(5, Math.round(steps / 10)) },
  eval: { every: Math.max(5, Math.round(steps / 10)), batches: 2 },
});
export const SELECTION_FILE = 'selection.json';

export async function finetune(opts: FinetuneOptions): Promise<FinetuneResult> {
  const recipe = opts.recipe ?? (opts.resume ? recipeOf(opts.out) : DEFAULT_RECIPE);
  return recipe === 'room' ? finetuneRoom(opts) : finetuneSynthRoom(opts);
}

function recipeOf(out: string): FinetuneRecipe {
  const file = path.join(out, CHECKPOINT_FILE);
  if (!fs.existsSync(file)) throw new SpactError('not-found', `${out} holds no run to resume`);
  return readCheckpointMeta(file).config.room?.enabled ? 'room' : 'synthroom';
}

/** The held-out part: the last fifth of the longest footage file, 3–10 s (none if too short). */
async function defaultSelectionPart(files: string[]): Promise<FootagePart | null> {
  let best: { file: string; d: number } | null = null;
  for (const file of files) {
    const d = (await probeVideo(file)).durationS;
    if (!best || d > best.d) best = { file, d };
  }
  if (!best || best.d < 12) return null;
  const len = Math.min(10, Math.max(3, best.d / 5));
  return { file: best.file, startS: best.d - len, endS: best.d };
}

async function finetuneRoom(opts: FinetuneOptions): Promise<FinetuneResult> {
  const clock = new FinetuneClock();
  const out = path.resolve(opts.out);
  const dataDir = path.join(out, FOOTAGE_DATA_DIR);
  const status = opts.onStatus ?? (() => undefined);
  const cacheDir = opts.cacheDir ?? path.join(os.tmpdir(), 'spact-judges-cache');
  const loadJudges = async () => {
    if (opts.judges) return opts.judges;
    status('loading the person and pose judges…');
    const { Judges: J } = await import('../privacy-audit/judges.js');
    return J.load();
  };
  const trainOpts = {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
  };
  let result: TrainResult;
  let plan: { base: string | null; size: number; selection: FootagePart | null };
  const planFile = path.join(out, 'room-plan.json');
  if (opts.resume) {
    if (!fs.existsSync(planFile)) throw new SpactError('not-found', `${out} holds no room fine-tune to resume`);
    plan = JSON.parse(fs.readFileSync(planFile, 'utf8')) as typeof plan;
    clock.lap('prepare');
    result = await train({
      data: dataDir,
      out,
      resume: true,
      overrides: resumeOverrides(opts),
      ...trainOpts,
    });
  } else {
    if (fs.existsSync(path.join(out, CHECKPOINT_FILE))) {
      throw new SpactError('conflict', `${opts.out} already holds a run; use --resume or another --out`);
    }
    // No base: a new model from the preset (the shipped default is trained this way).
    const baseFile = opts.base ? resolveCheckpointPath(opts.base) : null;
    if (baseFile) readCheckpointMeta(baseFile); // a clear error for a bad base before the slow part
    const files = expandFootage(opts.footage);
    const judges = await loadJudges();
    let size: number;
    if (typeof opts.size === 'number') size = opts.size;
    else {
      status('measuring how tall people are in the footage…');
      const estimate = await estimatePersonHeightFraction(files, judges, opts.signal ? { signal: opts.signal } : {});
      size = resolveWorkingSize('auto', await probeVideo(files[0]!), estimate.fraction);
    }
    const selection = opts.selection === undefined ? await defaultSelectionPart(files) : opts.selection;
    // The held-out part never reaches training.
    const parts: FootagePart[] = files.flatMap((file) => {
      if (!selection || path.resolve(selection.file) !== path.resolve(file)) return [{ file }];
      const before = selection.startS ?? 0;
      return before > 1 ? [{ file, startS: 0, endS: before }] : [];
    });
    if (parts.length === 0)
      throw new SpactError('bad-input', 'no footage is left for training once the held-out part is set aside');
    fs.mkdirSync(out, { recursive: true });
    plan = { base: baseFile, size, selection };
    fs.writeFileSync(planFile, `${JSON.stringify(plan, null, 2)}\n`);
    status(`labelling the footage at ${size} px (people, poses, tracks)…`);
    clock.lap('prepare');
    const built = await buildRoomDataset(parts, dataDir, {
      size,
      fps: opts.fps ?? 10,
      maxFrames: ROOM_MAX_FRAMES,
      segmentS: 10,
      valFraction: 0.1,
      judges,
      cacheDir: path.join(cacheDir, 'pseudo-labels'),
      ...(opts.cipher ? { cipher: opts.cipher } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: status,
    });
    clock.lap(null);
    clock.own.sample += built.seconds.sample;
    clock.own.label += built.seconds.label;
    status(
      `${built.manifest.frames} frames at ${built.manifest.width}×${built.manifest.height}` +
        (built.cachedFrames ? ` (${built.cachedFrames} labelled before, from the cache)` : ''),
    );
    const steps = opts.steps ?? ROOM_DEFAULT_STEPS;
    // Training crops at the working scale: 160 px (a person and their surroundings), smaller
    // when the footage itself is smaller.
    const side = Math.min(built.manifest.width, built.manifest.height);
    const widths = (baseFile ? readCheckpointMeta(baseFile).config : PRESETS[opts.preset ?? 'edge']).model.fA.widths;
    const step = Math.max(8, 2 ** (widths.length - 1)); // ÷ 4 (heatmaps) and f_A's divisor
    const cropSize = Math.min(160, Math.floor(side / step) * step);
    clock.lap('prepare');
    result = await train({
      data: dataDir,
      out,
      ...(baseFile ? { base: baseFile } : { preset: opts.preset ?? 'edge' }),
      overrides: deepMerge(
        deepMerge(ROOM_DEFAULTS(steps, Boolean(baseFile && readCheckpointMeta(baseFile).config.room?.enabled)), {
          room: { cropSize },
          ...engineOverrides(opts),
        }),
        opts.overrides ?? {},
      ),
      ...trainOpts,
    });
  }
  clock.lap(null); // train() timed itself
  const resumed = Boolean(opts.resume);
  if (result.stopReason === 'cancelled') return { ...clock.finish(result, out, resumed), workingSize: plan.size };

  // ---- choose the model on held-out footage, by the audit's own figures ----
  let selection: RoomSelection | null = null;
  if (plan.selection) {
    const judges = await loadJudges();
    const snaps = path.join(out, 'snapshots');
    const candidates = [
      ...(fs.existsSync(snaps)
        ? fs
            .readdirSync(snaps)
            .filter((f) => /^step-\d+\.pt$/.test(f))
            .sort()
            .map((f) => path.join(snaps, f))
        : []),
    ];
    const finalStep = readCheckpointMeta(result.checkpoint).state.minimaxStep;
    if (!candidates.some((c) => readCheckpointMeta(c).state.minimaxStep === finalStep))
      candidates.push(result.checkpoint);
    status(`choosing the model on held-out footage (${candidates.length} checkpoint(s) and the base model)…`);
    selection = await selectOnFootage(candidates, plan.base, plan.selection, plan.size, judges, {
      cacheDir: path.join(cacheDir, 'audit'),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.engine ? { engine: opts.engine } : {}),
      onProgress: status,
    });
    for (const w of selection.warnings) opts.onWarning?.(w);
    copyCheckpoint(selection.chosen, path.join(out, SELECTED_FILE));
    const tmp = path.join(out, `${SELECTION_FILE}.tmp`);
    fs.writeFileSync(tmp, `${JSON.stringify(selection, null, 2)}\n`);
    fs.renameSync(tmp, path.join(out, SELECTION_FILE));
    clock.lap('select');
  } else {
    opts.onWarning?.(
      'the footage is too short to hold a part out for choosing the model (that needs 12 s or more): the run keeps its last checkpoint, not checked on unseen footage',
    );
  }
  return {
    ...clock.finish(result, out, resumed),
    checkpoint: selection ? path.join(out, SELECTED_FILE) : result.checkpoint,
    selection,
    workingSize: plan.size,
  };
}
