import fs from 'node:fs';
import path from 'node:path';

import {
  CHECKPOINT_FILE,
  readCheckpointMeta,
  train,
  type PresetName,
  type TrainConfigOverrides,
  type TrainProgress,
} from '../../../native-models/ts/index.js';
import { MAX_WORKING_SIZE, MIN_WORKING_SIZE } from '../../core/media/working-size.js';
import { finetune } from '../../core/training/finetune.js';
import { formatDuration, ProgressReporter } from '../progress-bar.js';
import { parseCommandArgs, printJson, progress, UsageError, type Command } from '../cli-kit.js';

/** A run folder whose checkpoint was trained with the room recipe. */
function isRoomRun(out: string): boolean {
  const file = path.join(out, CHECKPOINT_FILE);
  return fs.existsSync(file) && Boolean(readCheckpointMeta(file).config.room?.enabled);
}

function fmt(v: number | undefined): string {
  return v === undefined ? '–' : v.toFixed(3);
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'train the SPAct anonymizer (minimax of f_A against f_T and the SSL budget f_B)',
  usage: `spact train --data DIR | --footage FILES|DIR… [--size auto|N]
            --out RUN_DIR [--preset edge|paper] [--config FILE] [--steps N]
            [--device auto|cpu|cuda|cuda:N] [--threads N] [--seed N] [--resume] [--json]

With --footage (real cameras, no labels of any kind): the room recipe of \`spact finetune\` from a
new model — the footage is labelled by pretrained judges at the working size (--size, default
auto), f_A starts as the identity, a student of the judges and the identity budget learn, then the
minimax runs; the last fifth of the longest file (3–10 s) is held out and chooses the model by the
privacy audit (RUN_DIR/selected.pt, RUN_DIR/selection.json). This is how the shipped default
model is trained (npm run train:default).

Trains on a dataset folder in the engine's format (manifest.json + one raw clip file per split;
\`spact synth\` writes one, see README "Dataset format"). Phases: identity init of f_A, init of
f_T and f_B, then minimax until --steps iterations or the budget loss reaches th_Bmax.
RUN_DIR receives checkpoint.pt (weights, optimizer state, resolved config, step, metrics),
config.json, metrics.jsonl (one line per logged step), timings.json (wall time by phase) and snapshots/.
  --preset     edge (CPU-sized, default) or paper (UNet 64…512, R3D-18, ResNet-50)
  --config     JSON file overriding preset keys (unknown keys are errors)
  --steps      minimax iterations (overrides minimax.steps; allowed with --resume)
  --resume     continue the run in RUN_DIR from its last checkpoint (architecture from the checkpoint)
  --json       print {run, checkpoint, steps, minimaxSteps, stopReason, final, phaseSeconds, wallSeconds}
               on stdout at the end (the run folder's timings.json keeps every call's split)
Ctrl+C stops after the current step and saves a checkpoint; --resume continues it.`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      data: { type: 'string' },
      footage: { type: 'string', multiple: true },
      size: { type: 'string' },
      out: { type: 'string' },
      preset: { type: 'string' },
      config: { type: 'string' },
      steps: { type: 'string' },
      device: { type: 'string' },
      threads: { type: 'string' },
      seed: { type: 'string' },
      resume: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    const footage = values.footage ?? [];
    if (!values.data && footage.length === 0 && !values.resume)
      throw new UsageError('--data DIR or --footage FILES is required');
    if (values.data && footage.length) throw new UsageError('give --data or --footage, not both');
    if (values.size !== undefined && footage.length === 0) throw new UsageError('--size belongs to --footage');
    if (!values.out) throw new UsageError('--out RUN_DIR is required');
    if (values.preset && values.preset !== 'edge' && values.preset !== 'paper') {
      throw new UsageError(`--preset must be edge or paper, got "${values.preset}"`);
    }
    const int = (name: string, v: string | undefined) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a non-negative integer, got "${v}"`);
      return n;
    };
    const overrides: TrainConfigOverrides = {};
    const steps = int('steps', values.steps);
    if (steps !== undefined) overrides.minimax = { steps };
    if (values.device) overrides.device = values.device;
    const threads = int('threads', values.threads);
    if (threads !== undefined) overrides.threads = threads;
    const seed = int('seed', values.seed);
    if (seed !== undefined) overrides.seed = seed;

    const controller = new AbortController();
    const onSigint = () => {
      progress('\nstopping after the current step (Ctrl+C again to abort without a checkpoint)…');
      controller.abort();
      process.once('SIGINT', () => process.exit(130));
    };
    process.once('SIGINT', onSigint);
    const bar = new ProgressReporter();
    const onProgress = (p: TrainProgress) => {
      const s = p.stats;
      const losses = `L_T ${fmt(s.loss_T)} L_B ${fmt(s.loss_B)} L1 ${fmt(s.l1)}`;
      const eta = p.etaSeconds === null ? '' : ` · ETA ${formatDuration(p.etaSeconds)}`;
      const where = p.phase === 'minimax' ? `minimax ${p.minimaxStep}/${p.minimaxSteps}` : `${p.phase} step ${p.step}`;
      bar.update(
        p.phase === 'minimax' ? p.minimaxStep / Math.max(1, p.minimaxSteps) : null,
        `${where} · ${losses} · ${p.msPerStep.toFixed(0)} ms/step${eta}`,
      );
    };
    const roomRun = footage.length > 0 || (values.resume && isRoomRun(values.out));
    let size: number | 'auto' | undefined;
    if (values.size !== undefined) {
      size = values.size === 'auto' ? 'auto' : Number(values.size);
      if (size !== 'auto' && (!Number.isInteger(size) || size < MIN_WORKING_SIZE || size > MAX_WORKING_SIZE))
        throw new UsageError(`--size must be auto or an integer ${MIN_WORKING_SIZE}–${MAX_WORKING_SIZE}`);
    }
    try {
      if (roomRun) {
        if (values.config) throw new UsageError('--config is for --data runs; --footage runs use the room recipe');
        const result = await finetune({
          footage,
          base: '',
          out: values.out,
          recipe: 'room',
          ...(values.preset ? { preset: values.preset as PresetName } : {}),
          ...(size !== undefined ? { size } : {}),
          ...(steps !== undefined ? { steps } : {}),
          overrides,
          resume: Boolean(values.resume),
          signal: controller.signal,
          onStatus: (m) => progress(m),
          onWarning: (m) => progress(`warning: ${m}`),
          onProgress,
        });
        if (values.json) {
          const { config: _config, ...rest } = result;
          printJson(rest);
        } else progress(`${result.stopReason === 'cancelled' ? 'stopped' : 'finished'}: model ${result.checkpoint}`);
        return result.stopReason === 'cancelled' ? 130 : 0;
      }
      if (!values.data) throw new UsageError('--data DIR is required');
      const result = await train({
        data: values.data,
        out: values.out,
        ...(values.preset ? { preset: values.preset as PresetName } : {}),
        ...(values.config ? { configFile: values.config } : {}),
        overrides,
        resume: Boolean(values.resume),
        signal: controller.signal,
        onWarning: (m) => progress(`warning: ${m}`),
        onProgress,
      });
      if (values.json) {
        const { config: _config, ...rest } = result;
        printJson(rest);
      } else {
        progress(
          `${result.stopReason === 'cancelled' ? 'stopped' : 'finished'} after ${result.steps} steps (${result.minimaxSteps} minimax): ` +
            `L_T ${fmt(result.final.loss_T)} acc_T ${fmt(result.final.acc_T)} L_B ${fmt(result.final.loss_B)} L1 ${fmt(result.final.l1)}\n` +
            `checkpoint: ${result.checkpoint}`,
        );
      }
      if (result.stopReason === 'cancelled') {
        progress(`cancelled: resume with  spact train --data ${values.data} --out ${values.out} --resume`);
        return 130;
      }
      return 0;
    } finally {
      bar.done();
      process.removeListener('SIGINT', onSigint);
    }
  },
};
