// bench/flops.ts counts FLOPs layer by layer from the nets' configs; its layer lists must be the
// engine's nets: the parameters they imply equal the engine's own counts for every preset and
// upsampling, so a change of architecture in models.cc that the counter misses fails here.
import { describe, expect, it } from 'vitest';

import { minimaxFlops, r3dLayers, resnet2dLayers, unetLayers } from '../../bench/flops.js';
import { resolveConfig, SpactEngine, type LabelSpace } from '../../native-models/ts/index.js';

const labels: LabelSpace = {
  actions: Array.from({ length: 8 }, (_, i) => `a${i}`),
  multiLabelActions: false,
  privacyAttributes: [],
};

describe('FLOP counter of the engine nets', () => {
  const cases = [
    { preset: 'edge' as const, upsample: 'bilinear' as const },
    { preset: 'edge' as const, upsample: 'pixelshuffle' as const },
    { preset: 'edge' as const, upsample: 'transpose' as const },
    { preset: 'paper' as const, upsample: 'bilinear' as const },
  ];
  for (const { preset, upsample } of cases) {
    it(`implies the engine's parameter counts (${preset}, ${upsample} f_A)`, () => {
      const config = resolveConfig({ preset, overrides: { threads: 1, model: { fA: { upsample } } } });
      const engine = new SpactEngine(config, labels);
      const counts = engine.describe().parameters;
      const sum = (l: { params: number }[]) => l.reduce((a, x) => a + x.params, 0);
      expect(sum(unetLayers(config.model.fA, 1, 64, 64))).toBe(counts.fA);
      expect(sum(r3dLayers(config.model.fT, labels.actions.length, 1, 8, 64, 64))).toBe(counts.fT);
      expect(sum(resnet2dLayers(config.model.fB, 1, 64, 64))).toBe(counts.fB);
    });
  }

  it('counts one edge minimax iteration on 4 × 8 × 64² in the range of the hand count', () => {
    const config = resolveConfig({ preset: 'edge', overrides: { threads: 1 } });
    const f = minimaxFlops(config.model, 8, 8, 4, 8, 64, 64);
    // Issue 12's same-work PyTorch port counted 35.6 GFLOP per iteration for these shapes.
    expect(f.total / 1e9).toBeGreaterThan(30);
    expect(f.total / 1e9).toBeLessThan(40);
    // f_A runs three times per iteration (step 1 forward and backward ×2, step 2 forward).
    expect(f.phases.step1_fA_bwd).toBeGreaterThan(f.phases.step1_fA_fwd);
    expect(f.phases.step2_fA_fwd).toBe(f.phases.step1_fA_fwd);
  });
});
