// The SPAct training loop (paper §3.3), top to bottom:
//   config → data → models → phase 1: identity init of f_A (Eq. 6)
//                          → phase 2: init f_T and f_B on f_A's output (Eq. 7–8)
//                          → phase 3: minimax — step 1 updates f_A on L_T − ω·L_B (Eq. 9),
//                                       step 2 updates f_T and f_B on the next batch
//   with evaluation, checkpoints (resumable) and one metrics.jsonl line per logged step.
// Per-step math runs in the native engine on its own thread; this file only sequences it.
import fs from 'node:fs';
import path from 'node:path';

import {
  budgetChanceLevel,
  ConfigError,
  deepMerge,
  resolveConfig,
  validateConfig,
  type LabelSpace,
  type PresetName,
  type TrainConfig,
  type TrainConfigOverrides,
} from './config.js';
import { BatchSampler, ClipDataset, type Split } from './dataset.js';
import { NonFiniteLossError, SpactEngine, type StepStats } from './engine.js';
import type { NativeBatch } from './native.js';
import { isRoomDataset, RoomDataset } from './room-data.js';
import {
  CHECKPOINT_FILE,
  copyCheckpoint,
  fileSha256,
  readCheckpointMeta,
  resolveCheckpointPath,
  saveCheckpoint,
  type CheckpointMeta,
  type Phase,
} from './checkpoint.js';

export interface TrainOptions {
  data: string; // dataset folder (spact-clips format)
  out: string; // run folder: checkpoint.pt, config.json, metrics.jsonl, snapshots/
  preset?: PresetName;
  configFile?: string;
  overrides?: TrainConfigOverrides;
  resume?: boolean;
  /**
   * Fine-tune from this model (run folder or checkpoint) instead of training from scratch: its
   * architecture and weights are the start; f_B adapts to the new data first, then the minimax
   * runs. Utility is kept by distillation from the base f_T: with `distill.adaptT` (the app's
   * fine-tune) a frozen copy teaches and f_T keeps learning on f_A's output, without it f_T itself
   * is the frozen teacher. Real rooms distil pseudo-labels into a student f_U instead.
   */
  base?: string;
  signal?: AbortSignal;
  onProgress?: (p: TrainProgress) => void;
  onWarning?: (message: string) => void;
}

export interface TrainProgress {
  phase: Phase;
  step: number;
  minimaxStep: number;
  minimaxSteps: number;
  stats: StepStats;
  msPerStep: number;
  /** Rough time left: minimax steps left × ms per step (init phases end at thresholds). */
  etaSeconds: number | null;
}

export interface MetricsLine {
  [key: string]: unknown;
  step: number;
  phase: Phase;
  time: string;
  ms: number;
  lr_A: number;
  lr_T: number;
  lr_B: number;
  l1?: number;
  loss_T?: number;
  acc_T?: number;
  loss_B?: number;
  val?: StepStats;
}

export type StopReason = 'budget' | 'thBMax' | 'cancelled';

/**
 * Wall time of one train() call by phase, seconds. The phases do not overlap, so they sum to at
 * most the call's wall time; the rest is logging, progress callbacks and the config.
 */
export interface TrainPhaseSeconds {
  /** Opening the data, building the networks, loading the base or resumed weights. */
  load: number;
  /** Training steps (reading the batch included) of each phase: f_A's identity init (Eq. 6)… */
  initA: number;
  /** … f_T/f_B's init (Eq. 7–8; room runs: the student f_U and the identity budget f_Bid) … */
  initTB: number;
  /** … and the minimax (step 1 + step 2). */
  minimax: number;
  /** Validation evaluations, the final one included. */
  eval: number;
  /** Checkpoints written, snapshots included. */
  checkpoint: number;
}
export const TRAIN_PHASES = ['load', 'initA', 'initTB', 'minimax', 'eval', 'checkpoint'] as const;

export interface TrainResult {
  run: string;
  checkpoint: string;
  steps: number;
  minimaxSteps: number;
  stopReason: StopReason;
  final: { loss_T: number; loss_B: number; l1: number; acc_T: number };
  config: TrainConfig;
  /** Where this call's time went (a resumed run: this call only; the run's total is in TIMINGS_FILE). */
  phaseSeconds: TrainPhaseSeconds;
  /** This call's wall time, seconds. */
  wallSeconds: number;
}

/** A run folder's record of where its wall time went, one session per call (a resume adds one). */
export const TIMINGS_FILE = 'timings.json';
export interface TimingsSession {
  /** train(), or finetune() (whose record holds its own train() call's phases). */
  by: 'train' | 'finetune';
  resumed: boolean;
  startedAt: string;
  wallSeconds: number;
  phaseSeconds: Record<string, number>;
}
export interface RunTimings {
  format: 'spact-timings-v1';
  sessions: TimingsSession[];
  /** Sums over the sessions. */
  total: { wallSeconds: number; phaseSeconds: Record<string, number> };
}

/** The run's TIMINGS_FILE, or null (none, or unreadable: a run of an older version). */
export function readRunTimings(runDir: string): RunTimings | null {
  try {
    const t = JSON.parse(fs.readFileSync(path.join(runDir, TIMINGS_FILE), 'utf8')) as RunTimings;
    return t.format === 'spact-timings-v1' && Array.isArray(t.sessions) ? t : null;
  } catch {
    return null;
  }
}

/**
 * Adds a session to the run's TIMINGS_FILE (`replaceLast`: a finetune() replaces the record of the
 * train() call it made, which its own record includes). Phases are rounded down and the wall time
 * up to the millisecond, so the rounded phases still sum to at most the wall time.
 */
export function recordRunTimings(runDir: string, session: TimingsSession, opts: { replaceLast?: boolean } = {}): void {
  const round = (s: TimingsSession): TimingsSession => ({
    ...s,
    wallSeconds: Math.ceil(s.wallSeconds * 1000) / 1000,
    phaseSeconds: Object.fromEntries(
      Object.entries(s.phaseSeconds).map(([k, v]) => [k, Math.max(0, Math.floor(v * 1000) / 1000)]),
    ),
  });
  const sessions = readRunTimings(runDir)?.sessions ?? [];
  if (opts.replaceLast) sessions.pop();
  sessions.push(round(session));
  const phaseSeconds: Record<string, number> = {};
  for (const s of sessions) {
    for (const [k, v] of Object.entries(s.phaseSeconds)) phaseSeconds[k] = (phaseSeconds[k] ?? 0) + v;
  }
  const r3 = (v: number) => Math.round(v * 1000) / 1000;
  const timings: RunTimings = {
    format: 'spact-timings-v1',
    sessions,
    total: {
      wallSeconds: r3(sessions.reduce((a, s) => a + s.wallSeconds, 0)),
      phaseSeconds: Object.fromEntries(Object.entries(phaseSeconds).map(([k, v]) => [k, r3(v)])),
    },
  };
  const file = path.join(runDir, TIMINGS_FILE);
  fs.writeFileSync(`${file}.tmp-${process.pid}`, `${JSON.stringify(timings, null, 2)}\n`);
  fs.renameSync(`${file}.tmp-${process.pid}`, file);
}

export class RunError extends Error {
  readonly kind = 'bad-input' as const;
  constructor(message: string) {
    super(message);
    this.name = 'RunError';
  }
}

/** Mean of each statistic over several batches. */
function meanStats(all: StepStats[]): StepStats {
  const out: Record<string, number> = {};
  const keys = new Set(all.flatMap((s) => Object.keys(s)));
  for (const k of keys) {
    const vals = all.map((s) => s[k as keyof StepStats]).filter((v): v is number => v !== undefined);
    out[k] = vals.reduce((a, b) => a + b, 0) / vals.length;
  }
  return out;
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const seconds: TrainPhaseSeconds = { load: 0, initA: 0, initTB: 0, minimax: 0, eval: 0, checkpoint: 0 };
  const warn = opts.onWarning ?? (() => undefined);
  const runDir = path.resolve(opts.out);
  const checkpointPath = path.join(runDir, CHECKPOINT_FILE);

  // ---- config: fresh (preset ← file ← flags) or forced from the checkpoint on --resume ----
  let resumed: CheckpointMeta | null = null;
  let baseMeta: CheckpointMeta | null = null;
  let config: TrainConfig;
  if (opts.resume) {
    if (!fs.existsSync(checkpointPath))
      throw new RunError(`--resume: ${runDir} holds no ${CHECKPOINT_FILE} to continue`);
    resumed = readCheckpointMeta(checkpointPath);
    if (resumed.extra?.weightsOnly) {
      throw new RunError(`${checkpointPath} holds weights only (an exported model), not a resumable run`);
    }
    config = structuredClone(resumed.config);
    if (opts.preset || opts.configFile)
      warn('resuming: the architecture and settings come from the checkpoint; --preset/--config are ignored');
    // Only the step budget and where the run computes (device, threads) may change on resume.
    const steps = opts.overrides?.minimax?.steps;
    if (steps !== undefined) config.minimax.steps = steps;
    if (opts.overrides?.device !== undefined) config.device = opts.overrides.device;
    if (opts.overrides?.threads !== undefined) config.threads = opts.overrides.threads;
  } else if (opts.base) {
    if (fs.existsSync(checkpointPath)) {
      throw new RunError(
        `${runDir} already holds a run (${CHECKPOINT_FILE}); pass --resume to continue it or choose another --out`,
      );
    }
    baseMeta = readCheckpointMeta(resolveCheckpointPath(opts.base));
    // Architecture from the base; the fine-tuning settings may change everything else.
    const merged = deepMerge(structuredClone(baseMeta.config) as unknown, opts.overrides ?? {}) as TrainConfig;
    merged.model = structuredClone(baseMeta.config.model);
    // Synthetic-room fine-tunes distil the base f_T; real rooms use pseudo-labels instead.
    merged.distill = { ...merged.distill, enabled: !(merged.room?.enabled ?? false) };
    config = validateConfig(merged, `base ${opts.base} + fine-tuning settings`);
  } else {
    if (fs.existsSync(checkpointPath)) {
      throw new RunError(
        `${runDir} already holds a run (${CHECKPOINT_FILE}); pass --resume to continue it or choose another --out`,
      );
    }
    config = resolveConfig({
      ...(opts.preset ? { preset: opts.preset } : {}),
      ...(opts.configFile ? { configFile: opts.configFile } : {}),
      ...(opts.overrides ? { overrides: opts.overrides } : {}),
    });
  }

  // ---- data: SPAct clips (labelled or footage), or a real room's frames with pseudo-labels ----
  const roomMode = config.room?.enabled ?? false;
  const data = roomMode ? openRoomData(opts.data, config) : openClipData(opts.data, config);
  // The data stays open for the whole run, and is closed whatever fails from here on.
  try {
    const labels: LabelSpace = roomMode
      ? (resumed?.labels ?? baseMeta?.labels ?? { actions: ['none'], multiLabelActions: false, privacyAttributes: [] })
      : data.labels!;
    const expectedLabels = resumed?.labels ?? baseMeta?.labels;
    if (!roomMode && baseMeta && JSON.stringify(baseMeta.labels.actions) !== JSON.stringify(labels.actions)) {
      throw new RunError("the footage dataset must use the base model's action names (untagged clips have action -1)");
    }
    if (baseMeta) labels.privacyAttributes = baseMeta.labels.privacyAttributes;
    if (resumed && expectedLabels && JSON.stringify(expectedLabels.actions) !== JSON.stringify(labels.actions)) {
      throw new RunError(
        `--resume: the dataset's labels differ from the run's (${resumed.labels.actions.length} vs ${labels.actions.length} actions)`,
      );
    }
    // A room batch holds one pair per person: never more pairs than people in the split.
    const pairsPerBatch = (split: Split) =>
      roomMode ? Math.min(config.data.batchSize, data.people!(split)) : config.data.batchSize;
    const trainBatches = new BatchSampler(data.count('train'), pairsPerBatch('train'), config.seed);
    const evalSplit: Split = data.count('val') >= pairsPerBatch('val') && pairsPerBatch('val') >= 2 ? 'val' : 'train';
    if (evalSplit === 'train') warn('the dataset has no usable "val" split: thresholds are checked on training data');
    const evalBatches = new BatchSampler(data.count(evalSplit), pairsPerBatch(evalSplit), config.seed + 1);
    const evalIndices = Array.from({ length: config.eval.batches }, (_, k) => evalBatches.indices(k));

    // ---- models ----
    const engine = new SpactEngine(config, labels);
    // Fine-tuning starts where the base left off: f_A is already an anonymizer and f_T an action
    // model (the teacher, or with distill.adaptT a frozen copy of it is); only f_B (real rooms: f_U
    // and f_Bid) has to learn the new room first.
    const state: CheckpointMeta['state'] = resumed
      ? { ...resumed.state }
      : baseMeta
        ? { phase: 'init-TB', step: 0, phaseStep: 0, minimaxStep: 0, cursor: 0, doneT: !roomMode, doneB: false }
        : { phase: 'init-A', step: 0, phaseStep: 0, minimaxStep: 0, cursor: 0, doneT: false, doneB: false };
    let metrics: Record<string, number> = resumed ? { ...resumed.metrics } : {};
    const kind = resumed?.kind ?? (baseMeta ? 'finetune' : 'train');
    // The data shape travels with the model: fine-tuning samples new footage at the same size.
    const dataShape = data.shape;
    const extra = resumed?.extra ?? {
      dataShape,
      ...(baseMeta ? { base: opts.base, baseSha256: fileSha256(resolveCheckpointPath(opts.base!)) } : {}),
    };
    if (resumed) await engine.load(checkpointPath);
    else if (baseMeta) await engine.load(resolveCheckpointPath(opts.base!), true);
    if (state.phase === 'done' && state.minimaxStep < config.minimax.steps) state.phase = 'minimax';

    fs.mkdirSync(runDir, { recursive: true });
    fs.writeFileSync(path.join(runDir, 'config.json'), `${JSON.stringify({ config, labels }, null, 2)}\n`);
    const metricsPath = path.join(runDir, 'metrics.jsonl');
    // A killed run may have logged steps after its last checkpoint; they are redone, so drop them.
    if (resumed && fs.existsSync(metricsPath)) truncateMetrics(metricsPath, resumed.state.step);
    const metricsLog = fs.openSync(metricsPath, 'a');

    const thBMax =
      config.minimax.thBMax === 'auto'
        ? 0.95 * budgetChanceLevel(config)
        : (config.minimax.thBMax ?? Number.POSITIVE_INFINITY);

    const nextBatch = (): NativeBatch => {
      const k = state.cursor++;
      return data.read('train', trainBatches.indices(k), k);
    };
    const evaluate = async (): Promise<StepStats> => {
      const since = performance.now();
      const all: StepStats[] = [];
      for (const [k, idx] of evalIndices.entries()) all.push(await engine.evaluate(data.read(evalSplit, idx, k)));
      seconds.eval += (performance.now() - since) / 1000;
      return meanStats(all);
    };
    const checkpoint = async () => {
      const since = performance.now();
      const meta: CheckpointMeta = {
        format: 'spact-run-v1',
        kind,
        extra,
        config,
        labels,
        state: { ...state },
        metrics,
        createdAt: new Date().toISOString(),
      };
      await saveCheckpoint(engine, checkpointPath, meta);
      seconds.checkpoint += (performance.now() - since) / 1000;
    };
    const enterPhase = async (phase: Phase) => {
      state.phase = phase;
      state.phaseStep = 0;
      await checkpoint();
    };

    let msPerStep = 0;
    let stopReason: StopReason = 'budget';
    const record = (stats: Record<string, number | undefined>, ms: number, val?: StepStats) => {
      msPerStep = msPerStep === 0 ? ms : 0.9 * msPerStep + 0.1 * ms;
      if (state.step % config.logEvery === 0 || val) {
        const line: MetricsLine = {
          step: state.step,
          phase: state.phase,
          time: new Date().toISOString(),
          ms: Math.round(ms * 10) / 10,
          lr_A: state.phase === 'minimax' ? (config.minimax.lrA ?? config.optim.lrA) : config.optim.lrA,
          lr_T: config.optim.lrT,
          lr_B: config.optim.lrB,
          ...stats,
          ...(val ? { val } : {}),
        };
        fs.writeSync(metricsLog, `${JSON.stringify(line)}\n`);
      }
      const left = Math.max(0, config.minimax.steps - state.minimaxStep);
      opts.onProgress?.({
        phase: state.phase,
        step: state.step,
        minimaxStep: state.minimaxStep,
        minimaxSteps: config.minimax.steps,
        stats,
        msPerStep,
        etaSeconds: state.phase === 'minimax' ? (left * msPerStep) / 1000 : null,
      });
    };
    const timed = async (fn: () => Promise<StepStats>): Promise<[StepStats, number]> => {
      const t0 = performance.now();
      const stats = await fn();
      return [stats, performance.now() - t0];
    };
    const dueEval = () => state.phaseStep % config.eval.every === 0;
    const dueCheckpoint = () => state.step % config.checkpoint.every === 0;

    seconds.load = (performance.now() - t0) / 1000;
    try {
      // ---- phase 1: f_A ← identity, by L1 reconstruction until validation L1 ≤ thA0 (Eq. 6) ----
      while (state.phase === 'init-A') {
        if (opts.signal?.aborted) {
          stopReason = 'cancelled';
          break;
        }
        if (state.phaseStep >= config.init.maxStepsA) {
          warn(`f_A identity init stopped at its step cap (${config.init.maxStepsA}) before L1 ≤ ${config.init.thA0}`);
          await enterPhase('init-TB');
          break;
        }
        const [stats, ms] = await timed(() => engine.initA(nextBatch()));
        seconds.initA += ms / 1000;
        state.step++;
        state.phaseStep++;
        const val = dueEval() ? await evaluate() : undefined;
        record(stats, ms, val);
        if (val) metrics = { ...val };
        if (val?.l1 !== undefined && val.l1 <= config.init.thA0) await enterPhase('init-TB');
        else if (dueCheckpoint()) await checkpoint();
      }

      // ---- phase 2: f_T and f_B on f_A's output until L_T ≤ thT0 and L_B ≤ thB0 (Eq. 7–8) ----
      while (state.phase === 'init-TB' && stopReason !== 'cancelled') {
        if (opts.signal?.aborted) {
          stopReason = 'cancelled';
          break;
        }
        if (state.phaseStep >= config.init.maxStepsTB) {
          // Room runs stop their init at the cap by design (the thresholds are a ceiling, not a plan).
          if ((!state.doneT || !state.doneB) && !roomMode)
            warn(`f_T/f_B init stopped at its step cap (${config.init.maxStepsTB}) before both thresholds`);
          await enterPhase('minimax');
          break;
        }
        const [stats, ms] = await timed(() =>
          engine.initTB(nextBatch(), { updateT: !state.doneT, updateB: !state.doneB }),
        );
        seconds.initTB += ms / 1000;
        state.step++;
        state.phaseStep++;
        const val = dueEval() ? await evaluate() : undefined;
        record(stats, ms, val);
        if (val) {
          metrics = { ...val };
          // Room runs: the student learns on raw frames, so its raw loss says when it has learnt.
          const studentLoss = roomMode ? val.loss_U_raw : val.loss_T;
          if (studentLoss !== undefined && studentLoss <= config.init.thT0) state.doneT = true;
          if (val.loss_B !== undefined && val.loss_B <= config.init.thB0) state.doneB = true;
        }
        if (state.doneT && state.doneB) await enterPhase('minimax');
        else if (dueCheckpoint()) await checkpoint();
      }

      // ---- phase 3: minimax until the step budget or L_B ≥ thBmax ----
      // Also after a resume: loading the optimizer state restores the rate it was saved with.
      if (state.phase === 'minimax') engine.setLearningRate('A', config.minimax.lrA ?? config.optim.lrA);
      while (state.phase === 'minimax' && stopReason !== 'cancelled') {
        if (opts.signal?.aborted) {
          stopReason = 'cancelled';
          break;
        }
        if (state.minimaxStep >= config.minimax.steps) {
          await enterPhase('done');
          break;
        }
        const [s1, ms1] = await timed(() => engine.stepA(nextBatch())); // step 1: f_A, with f_T and f_B frozen
        const [s2, ms2] = await timed(() => engine.stepTB(nextBatch())); // step 2: f_T and f_B, next batch
        seconds.minimax += (ms1 + ms2) / 1000;
        state.step++;
        state.phaseStep++;
        state.minimaxStep++;
        const val = dueEval() ? await evaluate() : undefined;
        // Logged losses: L_T and L_B as f_A saw them in step 1 (what f_A optimised), L1 to the input.
        record({ ...s1, ...prefixed(s2, 'step2_') }, ms1 + ms2, val);
        if (val) metrics = { ...val };
        if (config.budget.loss !== 'supervised' && val?.loss_B !== undefined && val.loss_B >= thBMax) {
          stopReason = 'thBMax';
          await enterPhase('done');
          break;
        }
        if (config.checkpoint.snapshotEvery > 0 && state.minimaxStep % config.checkpoint.snapshotEvery === 0) {
          await checkpoint();
          const since = performance.now();
          copyCheckpoint(
            checkpointPath,
            path.join(runDir, 'snapshots', `step-${String(state.minimaxStep).padStart(6, '0')}.pt`),
          );
          seconds.checkpoint += (performance.now() - since) / 1000;
        } else if (dueCheckpoint()) await checkpoint();
      }

      // ---- final evaluation and checkpoint ----
      const final = await evaluate();
      metrics = { ...final };
      await checkpoint();
      const wallSeconds = (performance.now() - t0) / 1000;
      recordRunTimings(runDir, {
        by: 'train',
        resumed: Boolean(resumed),
        startedAt,
        wallSeconds,
        phaseSeconds: { ...seconds },
      });
      return {
        run: runDir,
        checkpoint: checkpointPath,
        steps: state.step,
        minimaxSteps: state.minimaxStep,
        stopReason,
        final: {
          loss_T: final.loss_T ?? Number.NaN,
          loss_B: final.loss_B ?? Number.NaN,
          l1: final.l1 ?? Number.NaN,
          acc_T: final.acc_T ?? Number.NaN,
        },
        config,
        phaseSeconds: seconds,
        wallSeconds,
      };
    } catch (err) {
      if (err instanceof NonFiniteLossError) {
        const last = fs.existsSync(checkpointPath) ? `; the last good checkpoint (${checkpointPath}) is kept` : '';
        throw new NonFiniteLossError(`${err.message} at step ${state.step + 1} (${state.phase})${last}`);
      }
      throw err;
    } finally {
      fs.closeSync(metricsLog);
    }
  } finally {
    data.close();
  }
}

/** What the loop needs of its data, whichever kind it is. */
interface TrainData {
  shape: { frames: number; height: number; width: number };
  /** The dataset's label space (clip datasets; room data has none). */
  labels?: LabelSpace;
  count(split: Split): number;
  /** People with two sightings in a split (room data). */
  people?(split: Split): number;
  read(split: Split, indices: number[], seed: number): NativeBatch;
  close(): void;
}

function openClipData(dir: string, config: TrainConfig): TrainData {
  const dataset = ClipDataset.open(dir);
  const m = dataset.manifest;
  // The supervised baseline may be trained on a subset of the attributes (e.g. person only, to
  // test how it generalises to room attributes it never saw).
  const chosen = config.budget.attributes;
  const missing = chosen?.filter((a) => !m.privacyAttributes.includes(a)) ?? [];
  if (missing.length)
    throw new ConfigError(`budget.attributes: the dataset has no attribute ${missing.map((a) => `"${a}"`).join(', ')}`);
  const privacyColumns = chosen ? chosen.map((a) => m.privacyAttributes.indexOf(a)) : undefined;
  const needsPrivacy = config.budget.loss === 'supervised';
  if (needsPrivacy && !dataset.hasPrivacyLabels('train')) {
    throw new ConfigError('budget.loss "supervised" needs privacy labels in the training split');
  }
  const span = (config.data.clipFrames - 1) * config.data.frameStride + 1;
  if (m.frames < span) {
    throw new ConfigError(`clips have ${m.frames} frames but data.clipFrames × frameStride needs ${span}`);
  }
  const privacyOpts = { privacy: needsPrivacy, ...(privacyColumns ? { privacyColumns } : {}) };
  return {
    shape: { frames: m.frames, height: m.height, width: m.width },
    labels: { actions: m.actions, multiLabelActions: m.multiLabel, privacyAttributes: chosen ?? m.privacyAttributes },
    count: (split) => dataset.count(split),
    read: (split, indices) => dataset.readBatch(split, indices, privacyOpts),
    close: () => dataset.close(),
  };
}

function openRoomData(dir: string, config: TrainConfig): TrainData {
  if (!isRoomDataset(dir)) throw new ConfigError(`room mode needs a room dataset (${dir} has no room.json)`);
  const divisor = 2 ** (config.model.fA.widths.length - 1);
  if (config.room.cropSize % Math.max(4, divisor) !== 0)
    throw new ConfigError(`room.cropSize must be divisible by ${Math.max(4, divisor)}`);
  const dataset = RoomDataset.open(dir, {
    cropSize: config.room.cropSize,
    jitter: config.room.jitter,
    minGapS: config.room.minGapS,
  });
  const m = dataset.manifest;
  return {
    shape: { frames: 1, height: m.height, width: m.width },
    count: (split) => dataset.count(split),
    people: (split) => (split === 'test' ? 0 : dataset.tracks(split)),
    read: (split, indices, seed) => dataset.readBatch(split, indices, seed),
    close: () => dataset.close(),
  };
}

function truncateMetrics(file: string, lastStep: number): void {
  const kept = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => {
      if (!line) return false;
      try {
        return (JSON.parse(line) as { step: number }).step <= lastStep;
      } catch {
        return false; // a line cut short by the kill
      }
    });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, kept.map((l) => `${l}\n`).join(''));
  fs.renameSync(tmp, file);
}

function prefixed(s: StepStats, prefix: string): Record<string, number> {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [`${prefix}${k}`, v as number]));
}
