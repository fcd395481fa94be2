import fs from 'node:fs';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { encodeRgbToMp4 } from '../../electron/core/media/ffmpeg.js';
import { FINETUNE_PHASES, finetune } from '../../electron/core/training/finetune.js';
import {
  ClipDataset,
  mulberry32,
  readCheckpointMeta,
  readRunTimings,
  SpactEngine,
} from '../../native-models/ts/index.js';
import { Judges } from '../../electron/core/privacy-audit/judges.js';
import { projectRoot, spact } from '../helpers/cli.js';
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

/** Every phase timed, none negative, and together no longer than the call. */
function expectPhaseSplit(r: { phaseSeconds: object; wallSeconds: number }): void {
  expect(Object.keys(r.phaseSeconds)).toEqual([...FINETUNE_PHASES]);
  const values = Object.values(r.phaseSeconds) as number[];
  for (const v of values) {
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeGreaterThanOrEqual(0);
  }
  const sum = values.reduce((a, b) => a + b, 0);
  expect(sum).toBeGreaterThan(0);
  expect(sum).toBeLessThanOrEqual(r.wallSeconds);
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

    // Where the fine-tune's time went: sampling, init, minimax…, in the result and in the run folder.
    expectPhaseSplit(r);
    expect(r.phaseSeconds.sample).toBeGreaterThan(0);
    expect(r.phaseSeconds.initTB).toBeGreaterThan(0);
    expect(r.phaseSeconds.minimax).toBeGreaterThan(0);
    expect(r.phaseSeconds.label).toBe(0); // no pseudo-labels in this recipe
    expect(r.phaseSeconds.select).toBe(0);
    const timings = readRunTimings(out)!;
    expect(timings.sessions).toHaveLength(1);
    expect(timings.sessions[0]).toMatchObject({ by: 'finetune', resumed: false });
    expectPhaseSplit(timings.total);
    expect(timings.total.phaseSeconds.minimax).toBeCloseTo(r.phaseSeconds.minimax, 2);
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
    // The resumed call reports its own split; the run folder keeps both calls'.
    expectPhaseSplit(j);
    expectPhaseSplit(first);
    const timings = readRunTimings(out)!;
    expect(timings.sessions.map((s) => [s.by, s.resumed])).toEqual([
      ['finetune', false],
      ['finetune', true],
    ]);
    expect(timings.total.wallSeconds).toBeCloseTo(first.wallSeconds + j.wallSeconds, 1);

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
  it('room recipe: the phase split covers sampling, the pseudo-label pass, init, minimax and the selection', async () => {
    // Real pedestrians (768×576): 0–4 s to train on, 4–5 s held out to choose the checkpoint (one
    // second: the selection judges every frame of it, for the base and each checkpoint).
    const excerpt = path.join(projectRoot, 'test/fixtures/footage/room-a-excerpt.mp4');
    const out = path.join(tmpDir(), 'ft-room');
    const r = await finetune({
      footage: [excerpt],
      base,
      out,
      recipe: 'room',
      steps: 2,
      size: 112,
      fps: 5,
      selection: { file: excerpt, startS: 4, endS: 5 },
      judges: await Judges.load(),
      cacheDir: path.join(out, 'cache'),
      overrides: { threads: 2, init: { maxStepsTB: 2 } },
    });
    expect(r.selection).not.toBeNull();
    expectPhaseSplit(r);
    for (const p of ['sample', 'label', 'load', 'initTB', 'minimax', 'eval', 'checkpoint', 'select'] as const)
      expect(r.phaseSeconds[p], p).toBeGreaterThan(0);
    expect(r.phaseSeconds.initA).toBe(0); // a trained base brings its f_A
    // Beside the run's other records (room-plan.json, selection.json, metrics.jsonl).
    const timings = readRunTimings(out)!;
    expect(timings.sessions).toHaveLength(1);
    expect(timings.sessions[0]!.by).toBe('finetune');
    expectPhaseSplit(timings.total);
    expect(timings.total.phaseSeconds.label).toBeCloseTo(r.phaseSeconds.label, 2);
    for (const f of ['room-plan.json', 'selection.json', 'metrics.jsonl'])
      expect(fs.existsSync(path.join(out, f))).toBe(true);
  }, 300_000);
});
