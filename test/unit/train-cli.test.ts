import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { readCheckpointMeta, readRunTimings, TRAIN_PHASES } from '../../native-models/ts/index.js';
import { projectRoot, spact, spactBin } from '../helpers/cli.js';
import { makeToyDataset, tmpDir } from '../helpers/toy-clips.js';

const data = makeToyDataset({ train: 16, val: 8, size: 32, frames: 16 });

function writeConfig(extra: object = {}): string {
  const file = path.join(tmpDir(), 'tiny.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      data: { batchSize: 4 },
      // Unreachable thresholds: every phase runs to its step count, so counts are exact.
      init: { maxStepsA: 3, maxStepsTB: 3, thA0: 1e-9, thT0: 1e-9, thB0: 1e-9 },
      minimax: { thBMax: null },
      eval: { every: 5, batches: 1 },
      checkpoint: { every: 1, snapshotEvery: 0 },
      logEvery: 1,
      threads: 2,
      ...extra,
    }),
  );
  return file;
}

describe('spact train', () => {
  it('trains on a tiny dataset and prints one JSON object', async () => {
    const out = path.join(tmpDir(), 'run');
    const r = await spact(['train', '--data', data, '--out', out, '--config', writeConfig(), '--steps', '4', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ run: out, checkpoint: path.join(out, 'checkpoint.pt'), steps: 10, minimaxSteps: 4 });
    for (const k of ['loss_T', 'loss_B', 'l1']) expect(typeof j.final[k]).toBe('number');
    expect(fs.existsSync(path.join(out, 'metrics.jsonl'))).toBe(true);
    // Where the time went: every phase ran (all three phases of a run from scratch), none
    // negative, together within the call's wall time; the run folder keeps the same split.
    expect(Object.keys(j.phaseSeconds)).toEqual([...TRAIN_PHASES]);
    for (const p of TRAIN_PHASES) expect(j.phaseSeconds[p], p).toBeGreaterThan(0);
    const sum = TRAIN_PHASES.reduce((a, p) => a + j.phaseSeconds[p], 0);
    expect(sum).toBeLessThanOrEqual(j.wallSeconds);
    const timings = readRunTimings(out)!;
    expect(timings.sessions).toMatchObject([{ by: 'train', resumed: false }]);
    expect(timings.total.wallSeconds).toBeCloseTo(j.wallSeconds, 2);
  });

  it('a killed run resumes from its last checkpoint to the same step count and config', async () => {
    const out = path.join(tmpDir(), 'run');
    const config = writeConfig();
    const child = spawn(
      process.execPath,
      [spactBin, 'train', '--data', data, '--out', out, '--config', config, '--steps', '6'],
      {
        cwd: projectRoot,
        stdio: 'ignore',
      },
    );
    // Kill it hard once it is in the minimax phase with a checkpoint on disk.
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        try {
          const m = readCheckpointMeta(path.join(out, 'checkpoint.pt'));
          if (m.state.minimaxStep >= 2) {
            clearInterval(timer);
            child.kill('SIGKILL');
            resolve();
          }
        } catch {
          // not written yet
        }
      }, 50);
      child.on('exit', () => {
        clearInterval(timer);
        reject(new Error('the run finished before it could be killed'));
      });
    });
    await new Promise((r) => child.once('exit', r));
    const killedAt = readCheckpointMeta(path.join(out, 'checkpoint.pt'));
    expect(killedAt.state.minimaxStep).toBeLessThan(6);

    const resumed = await spact(['train', '--data', data, '--out', out, '--resume', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const j = JSON.parse(resumed.stdout);
    expect(j.steps).toBe(12);
    expect(j.minimaxSteps).toBe(6);
    expect(readCheckpointMeta(j.checkpoint).config).toEqual(killedAt.config);
    // metrics.jsonl holds each step once, in order, despite the kill.
    const steps = fs
      .readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).step as number);
    expect(steps).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('fails with a one-line reason on bad input', async () => {
    const missing = await spact(['train', '--data', path.join(tmpDir(), 'nope'), '--out', tmpDir(), '--json']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/does not exist/);

    const badKey = await spact([
      'train',
      '--data',
      data,
      '--out',
      tmpDir(),
      '--config',
      writeConfig({ optim: { lrX: 1 } }),
    ]);
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toMatch(/unknown key "optim\.lrX"/);

    const noOut = await spact(['train', '--data', data]);
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/--out RUN_DIR is required/);
  });
});
