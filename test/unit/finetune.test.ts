import fs from 'node:fs';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { encodeRgbToMp4 } from '../../electron/core/media/ffmpeg.js';
import { finetune } from '../../electron/core/training/finetune.js';
import { ClipDataset, mulberry32, readCheckpointMeta, SpactEngine } from '../../native-models/ts/index.js';
import { spact } from '../helpers/cli.js';
import { toyClip, tmpDir } from '../helpers/toy-clips.js';
import { tinyModel } from '../helpers/video.js';

let base = '';
let footageDir = '';

beforeAll(async () => {
  base = await tinyModel();
  // "Room footage": unlabeled videos of the toy scene, 8 s each at 10 fps.
  footageDir = tmpDir('spact-footage-');
  const rand = mulberry32(7);
  for (let v = 0; v < 2; v++) {
    const frames = new Uint8Array(80 * 32 * 32 * 3);
    for (let k = 0; k < 5; k++) frames.set(toyClip(rand, (v + k) % 4, k % 3, 32, 16), k * 16 * 32 * 32 * 3);
    await encodeRgbToMp4(path.join(footageDir, `cam${v}.mp4`), frames, { frames: 80, width: 32, height: 32, fps: 10 });
  }
}, 120_000);

function metricLines(run: string): Array<Record<string, number | string>> {
  return fs
    .readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe('room adaptation (finetune)', () => {
  it('runs without any label file, pushes L_B up in minimax and keeps distillation bounded', async () => {
    const out = path.join(tmpDir(), 'ft');
    const r = await finetune({
      footage: [footageDir],
      base,
      out,
      recipe: 'synthroom',
      steps: 12,
      clips: 64,
      overrides: {
        threads: 2,
        optim: { lrA: 1e-3, lrB: 1e-3 },
        minimax: { lrA: 1e-3 },
        logEvery: 1,
        init: { maxStepsTB: 8, thB0: 1e-9 },
      },
    });
    const meta = readCheckpointMeta(r.checkpoint);
    expect(meta.kind).toBe('finetune');
    expect(meta.config.distill.enabled).toBe(true);
    // The settings bench:adapt selected on validation, unless the operator asks otherwise.
    expect(meta.config.distill).toMatchObject({ teacher: 'anonymized', adaptT: true });
    expect(meta.config.model).toEqual(readCheckpointMeta(path.join(base, 'checkpoint.pt')).config.model);
    const mm = metricLines(out).filter((l) => l.phase === 'minimax');
    expect(mm).toHaveLength(12);
    // Against the room-adapted f_B, the fine-tuned f_A gives a higher L_B than the base f_A did.
    const engine = new SpactEngine(meta.config, meta.labels);
    await engine.load(r.checkpoint, true);
    const ds = ClipDataset.open(path.join(out, 'footage-data'));
    const val = ds.readBatch(
      'val',
      Array.from({ length: ds.count('val') }, (_, i) => i),
    );
    const tuned = await engine.evaluate(val);
    await engine.loadAnonymizer(path.join(base, 'checkpoint.pt'));
    const before = await engine.evaluate(val);
    expect(tuned.loss_B!).toBeGreaterThan(before.loss_B!);
    for (const l of mm) {
      expect(Number.isFinite(l.distill)).toBe(true);
      expect(l.distill as number).toBeLessThan(5);
    }
    expect(Number.isFinite(r.final.loss_T)).toBe(true);
  });

  it('resumes a cancelled fine-tune, and the CLI prints run/checkpoint/steps/final', async () => {
    const out = path.join(tmpDir(), 'ft-cli');
    const controller = new AbortController();
    const first = await finetune({
      footage: [footageDir],
      base,
      out,
      recipe: 'synthroom',
      steps: 6,
      clips: 32,
      overrides: { threads: 2, init: { maxStepsTB: 2 } },
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'minimax' && p.minimaxStep === 2) controller.abort();
      },
    });
    expect(first.stopReason).toBe('cancelled');
    const r = await spact(['finetune', '--out', out, '--resume', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ run: out, minimaxSteps: 6 });
    expect(typeof j.final.loss_B).toBe('number');

    const bad = await spact([
      'finetune',
      '--footage',
      path.join(footageDir, 'nope.mp4'),
      '--base',
      base,
      '--out',
      path.join(tmpDir(), 'x'),
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/nope\.mp4: no such file/);
    const badTeacher = await spact([
      'finetune',
      '--footage',
      footageDir,
      '--base',
      base,
      '--out',
      out,
      '--recipe',
      'synthroom',
      '--teacher',
      'blurred',
    ]);
    expect(badTeacher.code).toBe(2);
    expect(badTeacher.stderr).toMatch(/--teacher must be anonymized or raw/);
    // The distillation teacher is the SynthRoom recipe's: the default (room) recipe refuses it.
    const teacherForRoom = await spact([
      'finetune',
      '--footage',
      footageDir,
      '--base',
      base,
      '--out',
      out,
      '--teacher',
      'raw',
    ]);
    expect(teacherForRoom.code).toBe(2);
    expect(teacherForRoom.stderr).toMatch(/--teacher belongs to --recipe synthroom/);
  });
});
