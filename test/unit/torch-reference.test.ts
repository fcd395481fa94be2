// bench:engine compares the engine with a same-work PyTorch reference (bench/torch-reference.py).
// This proves it is the same work: on the engine's own weights and batch, the reference's networks
// have the engine's parameter counts, and step 1, step 2 and step 1 again give the engine's losses
// (both layouts), and anonymize() the engine's bytes. CI installs python3-torch
// (scripts/setup.mjs), so a missing PyTorch fails here instead of skipping.
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  runTorchReferenceCheck,
  TORCH_REFERENCE_INSTALL_HINT,
  torchReferenceAvailable,
  type TorchReferenceLayout,
} from '../../bench/torch-reference.js';
import {
  engineConfigOf,
  mulberry32,
  resolveConfig,
  SpactEngine,
  type LabelSpace,
} from '../../native-models/ts/index.js';
import { tmpDir, toyClip } from '../helpers/toy-clips.js';

// bench:engine's label space and config, on a tiny batch: t = 2 frames and a clip span of 2, so the
// engine's random clip window (frame 0) and NT-Xent pair (frames 0 and 1) are the reference's.
const labels: LabelSpace = {
  actions: Array.from({ length: 8 }, (_, i) => `a${i}`),
  multiLabelActions: false,
  privacyAttributes: [],
};
const config = resolveConfig({
  preset: 'edge',
  overrides: {
    threads: 2,
    seed: 11,
    augment: { enabled: false },
    data: { batchSize: 4, clipFrames: 2, frameStride: 1 },
  },
});
const [N, T, H, W] = [4, 2, 32, 32];
const ACTIONS = [0, 3, 5, 7];

/** Toy clips (a coloured square moving over a flat background) with pixel noise. */
function tinyBatch(): Uint8Array {
  const rand = mulberry32(21);
  const frames = new Uint8Array(N * T * H * W * 3);
  for (let i = 0; i < N; i++) frames.set(toyClip(rand, i % 4, i % 3, H, T), i * T * H * W * 3);
  for (let i = 0; i < frames.length; i++) frames[i] = Math.max(0, Math.min(255, frames[i]! + (rand() - 0.5) * 60));
  return frames;
}

describe('same-work PyTorch reference (bench/torch-reference.py)', () => {
  it('matches the engine on one tiny minimax iteration: parameter counts, losses, anonymize() bytes', async () => {
    const available = torchReferenceAvailable();
    if (!available.ok) {
      const hint = available.reason.includes(TORCH_REFERENCE_INSTALL_HINT) ? '' : ` — ${TORCH_REFERENCE_INSTALL_HINT}`;
      throw new Error(`the PyTorch reference cannot run: ${available.reason}${hint}`);
    }
    const dir = tmpDir('spact-torch-ref-');
    const engine = new SpactEngine(config, labels);
    const weights = path.join(dir, 'engine.pt');
    await engine.save(weights, '{}', true);
    const frames = tinyBatch();
    const batchFile = path.join(dir, 'batch.bin');
    fs.writeFileSync(batchFile, frames);
    const batch = { frames, n: N, t: T, h: H, w: W, actions: Int32Array.from(ACTIONS) };

    const layouts: TorchReferenceLayout[] = ['plain', 'channels-last'];
    const ref = await runTorchReferenceCheck({
      weights,
      batch: batchFile,
      n: N,
      t: T,
      h: H,
      w: W,
      actions: ACTIONS,
      config: engineConfigOf(config, labels),
      threads: 2,
      layouts,
      anonymizeOut: path.join(dir, 'anonymized'),
    });
    const anonymizedBefore = await engine.anonymize(frames, N * T, H, W);
    const steps = {
      step1: await engine.stepA(batch),
      step2: await engine.stepTB(batch),
      step1b: await engine.stepA(batch),
    };
    const anonymizedAfter = await engine.anonymize(frames, N * T, H, W);

    expect(ref.parameters).toEqual(engine.describe().parameters);
    const differences = (file: string, expected: Uint8Array) => {
      const bytes = fs.readFileSync(file);
      expect(bytes.length).toBe(expected.length);
      let differing = 0;
      let max = 0;
      for (let i = 0; i < bytes.length; i++) {
        const d = Math.abs(bytes[i]! - expected[i]!);
        if (d) differing++;
        max = Math.max(max, d);
      }
      return { max, fraction: differing / bytes.length };
    };
    for (const layout of layouts) {
      const r = ref.layouts[layout]!;
      // Step 1 runs the loaded weights (forward and f_A's gradient: measured ≤ 2e-6 apart), step 2
      // one Adam update of f_A later (≤ 2e-4). Adam's first step moves each weight by ~lr whatever
      // the size of its gradient, so a near-zero gradient whose sign depends on the summation order
      // moves a weight 2·lr apart: the NCHW layout sums in another order than the engine's NHWC
      // f_A, and after updates of all three networks its second step 1 drifts (measured ≤ 6e-3 over
      // 9 seeds; the engine's layout ≤ 3e-4).
      const tolerance = { step1: 1e-3, step2: 1e-3, step1b: layout === 'channels-last' ? 1e-3 : 2e-2 };
      for (const step of ['step1', 'step2', 'step1b'] as const) {
        for (const key of ['loss_T', 'loss_B'] as const) {
          const mine = r[step][key];
          const theirs = steps[step][key]!;
          const ok = Math.abs(mine - theirs) <= tolerance[step] * Math.abs(theirs) + 1e-6;
          expect(ok, `${layout} ${step} ${key}: reference ${mine}, engine ${theirs}`).toBe(true);
        }
        if (tolerance[step] <= 1e-3) expect(r[step].acc_T, `${layout} ${step} acc_T`).toBe(steps[step].acc_T);
      }
      // The engine's checkpoint replayed: the same bytes (measured: identical; rounding at .5 may
      // differ by 1 on another CPU).
      const before = differences(r.anonymizeBefore!, anonymizedBefore);
      expect(before.max, `${layout} anonymize() before the steps: max byte difference`).toBeLessThanOrEqual(1);
      expect(before.fraction, `${layout} anonymize() before the steps: bytes that differ`).toBeLessThan(1e-3);
      if (layout === 'channels-last') {
        const after = differences(r.anonymizeAfter!, anonymizedAfter);
        expect(after.max, `${layout} anonymize() after the steps: max byte difference`).toBeLessThanOrEqual(1);
        expect(after.fraction, `${layout} anonymize() after the steps: bytes that differ`).toBeLessThan(0.05);
      }
    }
    // The steps did update the networks: the second step 1 sees other weights than the first.
    expect(steps.step1b.loss_T).not.toBe(steps.step1.loss_T);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
