import path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  ClipDataset,
  EngineError,
  NonFiniteLossError,
  resolveConfig,
  SpactEngine,
  type LabelSpace,
} from '../../native-models/ts/index.js';
import { makeToyDataset, tmpDir, TOY_ACTIONS, TOY_PRIVACY } from '../helpers/toy-clips.js';

const labels: LabelSpace = { actions: TOY_ACTIONS, multiLabelActions: false, privacyAttributes: TOY_PRIVACY };
const dir = makeToyDataset({ train: 8, val: 0, size: 32, frames: 8 });
const dataset = ClipDataset.open(dir);

function engineWith(overrides: Parameters<typeof resolveConfig>[0]['overrides'] = {}) {
  const config = resolveConfig({
    overrides: {
      data: { batchSize: 2, clipFrames: 4, frameStride: 2 },
      augment: { enabled: false },
      threads: 2,
      seed: 3,
      ...overrides,
    },
  });
  return new SpactEngine(config, labels);
}

describe('minimax steps on 2 clips', () => {
  const batch = dataset.readBatch('train', [0, 1]);

  it('step 1 raises L_B with f_T and f_B frozen; step 2 lowers it again', async () => {
    const engine = engineWith({ minimax: { omega: 1 }, optim: { lrA: 1e-3, lrT: 1e-3, lrB: 1e-3 } });
    // A few init steps: f_B discriminates the two clips, but its loss is not yet saturated at 0.
    for (let i = 0; i < 3; i++) await engine.initTB(batch, { updateT: true, updateB: true });
    const before = await engine.evaluate(batch);
    expect(before.loss_B!).toBeLessThan(Math.log(3)); // below chance: f_B has learned something
    const fpBefore = engine.fingerprint();
    for (let i = 0; i < 5; i++) await engine.stepA(batch);
    const afterA = await engine.evaluate(batch);
    const fpAfterA = engine.fingerprint();
    expect(afterA.loss_B!).toBeGreaterThan(before.loss_B!);
    expect(fpAfterA.fA).not.toBe(fpBefore.fA);
    expect(fpAfterA.fT).toBe(fpBefore.fT);
    expect(fpAfterA.fB).toBe(fpBefore.fB);

    for (let i = 0; i < 15; i++) await engine.stepTB(batch);
    const afterTB = await engine.evaluate(batch);
    const fpAfterTB = engine.fingerprint();
    expect(afterTB.loss_B!).toBeLessThan(afterA.loss_B!);
    expect(fpAfterTB.fA).toBe(fpAfterA.fA);
    expect(fpAfterTB.fT).not.toBe(fpAfterA.fT);
    expect(fpAfterTB.fB).not.toBe(fpAfterA.fB);
  });

  it('setLearningRate changes how far one f_A step moves the weights, and rejects bad input', async () => {
    const moved = async (lrA?: number) => {
      const engine = engineWith({ optim: { lrA: 1e-3 } });
      if (lrA !== undefined) engine.setLearningRate('A', lrA);
      const before = engine.fingerprint().fA;
      await engine.stepA(batch);
      return Math.abs(engine.fingerprint().fA - before);
    };
    const fast = await moved();
    const slow = await moved(1e-5);
    expect(fast).toBeGreaterThan(0);
    expect(slow).toBeLessThan(0.2 * fast);
    const engine = engineWith();
    expect(() => engine.setLearningRate('A', 0)).toThrow(EngineError);
    expect(() => engine.setLearningRate('X' as 'A', 1e-3)).toThrow(/A, T or B/);
  });

  it('frozen-f_B mode never updates f_B in step 2', async () => {
    const engine = engineWith({ budget: { freeze: true } });
    const before = engine.fingerprint();
    await engine.stepTB(batch);
    const after = engine.fingerprint();
    expect(after.fB).toBe(before.fB);
    expect(after.fT).not.toBe(before.fT);
  });

  it('runs the MoCo, RotNet and supervised budget variants', async () => {
    for (const loss of ['moco', 'rotnet'] as const) {
      const engine = engineWith({ budget: { loss, mocoQueue: 16 } });
      const s = await engine.stepTB(batch);
      expect(Number.isFinite(s.loss_B)).toBe(true);
      const a = await engine.stepA(batch);
      expect(Number.isFinite(a.loss_B)).toBe(true);
    }
    const sup = engineWith({ budget: { loss: 'supervised' } });
    const withPrivacy = dataset.readBatch('train', [0, 1], { privacy: true });
    const s = await sup.stepTB(withPrivacy);
    expect(s.loss_B).toBeGreaterThan(0);
    await expect(sup.stepTB(batch)).rejects.toThrow(/privacy labels/);
  });

  it('temporal sampler "far" refuses clips that are too short', async () => {
    const engine = engineWith({ sampler: { strategy: 'far', farMin: 64 } });
    await expect(engine.stepTB(batch)).rejects.toThrow(/farMin=64/);
    const near = engineWith({ sampler: { strategy: 'near', nearMax: 2 } });
    expect(Number.isFinite((await near.stepTB(batch)).loss_B)).toBe(true);
  });
});

describe('fine-tuning distillation teacher', () => {
  const batch = dataset.readBatch('train', [0, 1]);
  const distilling = (teacher: 'raw' | 'anonymized') =>
    engineWith({ distill: { enabled: true, temperature: 2, teacher }, optim: { lrA: 1e-2 } });

  /** A weights-only base checkpoint of an untrained engine, as a fine-tune starts from. */
  const saveBase = async () => {
    const baseFile = path.join(tmpDir('spact-teacher-'), 'base.pt');
    await engineWith().save(baseFile, '{}', true);
    return baseFile;
  };

  it('an anonymized teacher is the frozen base f_A: zero distillation at the start, kept across a resume', async () => {
    const baseFile = await saveBase();

    const anonymized = distilling('anonymized');
    await anonymized.load(baseFile, true);
    expect((await anonymized.evaluate(batch)).distill!).toBeLessThan(1e-6);
    // A raw teacher sees other input than the student, so it disagrees with an untrained f_A.
    const raw = distilling('raw');
    await raw.load(baseFile, true);
    expect((await raw.evaluate(batch)).distill!).toBeGreaterThan(1e-4);

    for (let i = 0; i < 3; i++) await anonymized.stepA(batch);
    const moved = (await anonymized.evaluate(batch)).distill!;
    expect(moved).toBeGreaterThan(1e-6);
    const runFile = path.join(path.dirname(baseFile), 'run.pt');
    await anonymized.save(runFile, '{}');
    const resumed = distilling('anonymized');
    await resumed.load(runFile);
    // Had the teacher been copied from the run's current f_A, this would be 0 again.
    expect((await resumed.evaluate(batch)).distill!).toBeCloseTo(moved, 6);
  });

  it('adaptT: f_T keeps learning from a frozen copy of the base f_T, which a resume keeps', async () => {
    const baseFile = await saveBase();
    const frozenT = distilling('raw');
    await frozenT.load(baseFile, true);
    const before = frozenT.fingerprint().fT;
    await frozenT.stepTB(batch);
    expect(frozenT.fingerprint().fT).toBe(before);

    const adapting = engineWith({
      distill: { enabled: true, temperature: 2, teacher: 'raw', adaptT: true },
      optim: { lrT: 1e-2 },
    });
    await adapting.load(baseFile, true);
    const s = await adapting.stepTB(batch);
    expect(Number.isFinite(s.loss_T)).toBe(true);
    expect(adapting.fingerprint().fT).not.toBe(before);
    for (let i = 0; i < 2; i++) await adapting.stepTB(batch);
    const moved = (await adapting.evaluate(batch)).distill!;
    const runFile = path.join(path.dirname(baseFile), 'run.pt');
    await adapting.save(runFile, '{}');
    const resumed = engineWith({ distill: { enabled: true, temperature: 2, teacher: 'raw', adaptT: true } });
    await resumed.load(runFile);
    expect((await resumed.evaluate(batch)).distill!).toBeCloseTo(moved, 6);
    // A resume that took the run's own f_T as teacher would see perfect agreement again.
    expect(moved).toBeGreaterThan(1e-6);
  });

  it('rejects an unknown teacher', () => {
    expect(() => distilling('blurred' as 'raw')).toThrow();
  });
});

describe('engine input checks', () => {
  const engine = engineWith();

  it('rejects a wrongly sized frame buffer with a clear error', async () => {
    const b = dataset.readBatch('train', [0, 1]);
    await expect(engine.initA({ ...b, frames: b.frames.subarray(1) })).rejects.toThrow(/expected n\*t\*h\*w\*3/);
    const one = { ...b, n: 1, frames: b.frames.subarray(0, b.frames.length / 2), actions: Int32Array.from([0]) };
    await expect(engine.initA(one)).rejects.toThrow(/at least 2 clips/);
  });

  it('rejects frame sizes the UNet cannot take and out-of-range labels', async () => {
    const b = dataset.readBatch('train', [0, 1]);
    await expect(engine.initA({ ...b, h: 30, w: 32, frames: new Uint8Array(2 * 8 * 30 * 32 * 3) })).rejects.toThrow(
      /divisible by 4/,
    );
    await expect(engine.stepTB({ ...b, actions: Int32Array.from([0, 9]) })).rejects.toThrow(/out of range/);
  });

  it('anonymizes frames of any size (reflect padding) and returns uint8 RGB of the same shape', async () => {
    const out = await engine.anonymize(new Uint8Array(3 * 47 * 61 * 3).fill(128), 3, 47, 61);
    expect(out).toBeInstanceOf(Uint8Array);
    expect(out.length).toBe(3 * 47 * 61 * 3);
  });

  it('rejects a second concurrent call instead of racing', async () => {
    const b = dataset.readBatch('train', [0, 1]);
    const first = engine.initA(b);
    await expect(engine.initA(b)).rejects.toBeInstanceOf(EngineError);
    await first;
  });

  it('reports a diverged (NaN) loss as NonFiniteLossError', async () => {
    const wild = engineWith({ optim: { lrA: 1e30 } });
    const b = dataset.readBatch('train', [0, 1]);
    let caught: unknown;
    for (let i = 0; i < 4 && !caught; i++) {
      try {
        await wild.initA(b);
      } catch (err) {
        caught = err;
      }
    }
    expect(caught).toBeInstanceOf(NonFiniteLossError);
    expect(String(caught)).toMatch(/non-finite l1/);
  });
});

describe('profiling mode (bench:engine per-phase split)', () => {
  it('times every phase of both steps and leaves the updates unchanged', async () => {
    const b = dataset.readBatch('train', [0, 1]);
    const plain = engineWith({ optim: { lrA: 1e-3, lrT: 1e-3, lrB: 1e-3 } });
    const profiled = engineWith({ optim: { lrA: 1e-3, lrT: 1e-3, lrB: 1e-3 } });
    profiled.setProfiling(true);
    const s1 = (await profiled.stepA(b)) as Record<string, number>;
    const s2 = (await profiled.stepTB(b)) as Record<string, number>;
    const p1 = (await plain.stepA(b)) as Record<string, number>;
    await plain.stepTB(b);
    // Step 1's backward is split net by net; step 2 trains f_T and f_B one after the other.
    for (const k of ['copies', 'fA_fwd', 'fT_fwd', 'fB_fwd', 'fT_bwd', 'fB_bwd', 'fA_bwd', 'optimizer']) {
      expect(s1[`ms_${k}`], k).toBeGreaterThanOrEqual(0);
    }
    for (const k of ['fA_fwd', 'fT_fwd', 'fT_bwd', 'fB_fwd', 'fB_bwd', 'optimizer']) {
      expect(s2[`ms_${k}`], k).toBeGreaterThanOrEqual(0);
    }
    expect(p1.ms_fA_fwd).toBeUndefined();
    expect(s1.loss_T).toBeCloseTo(p1.loss_T!, 6);
    // Same gradients through the split backward: the same weights after both steps.
    const [fp, fq] = [profiled.fingerprint(), plain.fingerprint()];
    expect(fp.fA).toBeCloseTo(fq.fA, 2);
    expect(fp.fT).toBeCloseTo(fq.fT, 2);
    expect(fp.fB).toBeCloseTo(fq.fB, 2);
  });
});
