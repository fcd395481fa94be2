import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  Anonymizer,
  CheckpointError,
  ConfigError,
  readCheckpointMeta,
  resolveConfig,
  runCandidates,
  train,
  type TrainConfigOverrides,
} from '../../native-models/ts/index.js';
import { makeToyDataset, tmpDir } from '../helpers/toy-clips.js';

const data = makeToyDataset({ train: 16, val: 8, size: 32, frames: 16 });

const tiny: TrainConfigOverrides = {
  data: { batchSize: 4, clipFrames: 8, frameStride: 2 },
  threads: 2,
  seed: 1,
  eval: { every: 5, batches: 2 },
  checkpoint: { every: 2, snapshotEvery: 2 },
  logEvery: 1,
};

function readMetrics(run: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe('training loop', () => {
  it('identity init of f_A reaches its L1 threshold on tiny data, then moves on', async () => {
    const out = tmpDir();
    const small = makeToyDataset({ train: 16, val: 8, size: 16, frames: 16 });
    const result = await train({
      data: small,
      out,
      overrides: {
        ...tiny,
        augment: { enabled: false },
        optim: { lrA: 3e-3 },
        init: { thA0: 0.1, maxStepsA: 600, thT0: 10, thB0: 10, maxStepsTB: 5 },
        minimax: { steps: 0 },
      },
    });
    const lines = readMetrics(out);
    const initA = lines.filter((l) => l.phase === 'init-A');
    const lastVal = initA.filter((l) => l.val).at(-1)!.val as { l1: number };
    expect(lastVal.l1).toBeLessThanOrEqual(0.1);
    expect((initA.find((l) => l.val)!.val as { l1: number }).l1).toBeGreaterThan(0.1); // it had to learn
    expect(initA.length).toBeLessThan(600); // stopped by the threshold, not the cap
    expect(lines.some((l) => l.phase === 'init-TB')).toBe(true);
    expect(result.final.l1).toBeLessThanOrEqual(0.12);

    // The inference API reproduces a training clip closely after identity init.
    const anonymizer = await Anonymizer.load(out);
    const frames = fs.readFileSync(path.join(small, 'val.u8')).subarray(0, 2 * 16 * 16 * 3);
    const y = await anonymizer.anonymize(new Uint8Array(frames), 2, 16, 16);
    expect(y.length).toBe(frames.length);
    const meanAbs = y.reduce((acc, v, i) => acc + Math.abs(v - frames[i]!), 0) / y.length / 255;
    expect(meanAbs).toBeLessThan(0.15);
    expect(anonymizer.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('writes metrics.jsonl lines with phase, losses, lr and ms per step; checkpoints carry the config', async () => {
    const out = tmpDir();
    const result = await train({
      data,
      out,
      overrides: {
        ...tiny,
        optim: { lrA: 1e-3 },
        init: { maxStepsA: 2, maxStepsTB: 2 },
        minimax: { steps: 4, lrA: 2e-4 },
      },
    });
    expect(result.steps).toBe(8);
    expect(result.minimaxSteps).toBe(4);
    const lines = readMetrics(out);
    const mm = lines.filter((l) => l.phase === 'minimax');
    expect(mm).toHaveLength(4);
    for (const l of mm) {
      expect(l).toMatchObject({ lr_A: 2e-4, ms: expect.any(Number) }); // the minimax's own f_A rate
      expect(typeof l.loss_T).toBe('number');
      expect(typeof l.loss_B).toBe('number');
      expect(typeof l.l1).toBe('number');
    }
    expect(lines.filter((l) => l.phase === 'init-A').every((l) => l.lr_A === 1e-3)).toBe(true);
    const meta = readCheckpointMeta(result.checkpoint);
    expect(meta.config).toEqual(result.config);
    expect(meta.state).toMatchObject({ phase: 'done', step: 8, minimaxStep: 4 });
    expect(fs.readdirSync(path.join(out, 'snapshots')).sort()).toEqual(['step-000002.pt', 'step-000004.pt']);
    // Selection candidates: the final checkpoint holds step 4's weights, so it is not probed twice.
    expect(runCandidates(out).map((f) => path.relative(out, f))).toEqual([
      path.join('snapshots', 'step-000002.pt'),
      path.join('snapshots', 'step-000004.pt'),
    ]);
    expect(fs.readdirSync(out).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('offers the final checkpoint as a selection candidate when it is not a snapshot', async () => {
    const out = tmpDir();
    await train({ data, out, overrides: { ...tiny, init: { maxStepsA: 1, maxStepsTB: 1 }, minimax: { steps: 3 } } });
    expect(runCandidates(out).map((f) => path.relative(out, f))).toEqual([
      path.join('snapshots', 'step-000002.pt'),
      'checkpoint.pt',
    ]);
  });

  it('resumes a cancelled run to the same step count and config as an uninterrupted one', async () => {
    const overrides = {
      ...tiny,
      init: { maxStepsA: 2, maxStepsTB: 2, thA0: 1e-9, thT0: 1e-9, thB0: 1e-9 },
      minimax: { steps: 5, thBMax: null },
    };
    const full = await train({ data, out: tmpDir(), overrides });

    const out = tmpDir();
    const controller = new AbortController();
    const first = await train({
      data,
      out,
      overrides,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'minimax' && p.minimaxStep === 2) controller.abort();
      },
    });
    expect(first.stopReason).toBe('cancelled');
    expect(readCheckpointMeta(first.checkpoint).state.minimaxStep).toBe(2);
    const resumed = await train({ data, out, resume: true });
    expect(resumed.steps).toBe(full.steps);
    expect(resumed.minimaxSteps).toBe(full.minimaxSteps);
    expect(resumed.config).toEqual(full.config);
  });

  it('refuses to overwrite a run, and to resume one that does not exist', async () => {
    const out = tmpDir();
    await train({ data, out, overrides: { ...tiny, init: { maxStepsA: 1, maxStepsTB: 1 }, minimax: { steps: 1 } } });
    await expect(train({ data, out })).rejects.toThrow(/already holds a run/);
    await expect(train({ data, out: tmpDir(), resume: true })).rejects.toThrow(/holds no checkpoint\.pt/);
  });

  it('keeps the last good checkpoint when training diverges', async () => {
    const out = tmpDir();
    // f_T explodes on its first update; the checkpoint written when init-TB began must survive.
    const run = train({
      data,
      out,
      overrides: {
        ...tiny,
        optim: { lrT: 1e30 },
        checkpoint: { every: 1, snapshotEvery: 0 },
        init: { maxStepsA: 0, maxStepsTB: 5 },
      },
    });
    const err = await run.then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/non-finite .*at step \d+ \(init-TB\); the last good checkpoint/);
    const failedAt = Number(/at step (\d+)/.exec(err!.message)![1]);
    const kept = readCheckpointMeta(path.join(out, 'checkpoint.pt')).state;
    expect(kept.phase).toBe('init-TB');
    expect(kept.step).toBeLessThan(failedAt);
    expect(fs.readdirSync(out).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe('configuration errors', () => {
  it('names unknown keys and wrong types', () => {
    expect(() => resolveConfig({ overrides: { model: { fA: { widht: [1] } } } as never })).toThrow(
      /unknown key "model\.fA\.widht"/,
    );
    expect(() => resolveConfig({ overrides: { minimax: { omega: 'high' } } as never })).toThrow(/minimax\.omega/);
    expect(() => resolveConfig({ overrides: { device: 'gpu' } })).toThrow(ConfigError);
  });

  it('reports a config file that is not JSON', () => {
    const file = path.join(tmpDir(), 'bad.json');
    fs.writeFileSync(file, '{ nope');
    expect(() => resolveConfig({ configFile: file })).toThrow(/not valid JSON/);
  });

  it('reports missing and corrupt checkpoints clearly', () => {
    const dir = tmpDir();
    expect(() => readCheckpointMeta(path.join(dir, 'none.pt'))).toThrow(CheckpointError);
    const corrupt = path.join(dir, 'corrupt.pt');
    fs.writeFileSync(corrupt, 'this is not a checkpoint');
    expect(() => readCheckpointMeta(corrupt)).toThrow(/corrupt or not a SPAct checkpoint/);
  });
});
