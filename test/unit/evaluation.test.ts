import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import {
  applyBaseline,
  averagePrecision,
  ClipDataset,
  evaluate,
  generateSynthRoom,
  multiLabelScores,
  PERSON_ATTRIBUTES,
  pick,
  selectionWarnings,
  top1,
  type EvalResult,
} from '../../native-models/ts/index.js';
import { tmpDir } from '../helpers/toy-clips.js';

describe('metrics', () => {
  it('average precision: perfect ranking is 1, reversed ranking is low, constant classes are excluded', () => {
    expect(averagePrecision([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0])).toBe(1);
    expect(averagePrecision([0.1, 0.2, 0.9, 0.8], [1, 1, 0, 0])).toBeCloseTo((1 / 3 + 2 / 4) / 2, 6);
    expect(averagePrecision([0.1, 0.2], [1, 1])).toBeNull();
    const s = multiLabelScores(Float32Array.from([2, -1, -2, 1]), Float32Array.from([1, 0, 0, 1]), 2, ['a', 'b']);
    expect(s.cmap).toBe(1);
    expect(s.f1).toBe(1);
    expect(top1(Float32Array.from([0.1, 0.9, 0.8, 0.2]), [1, 1], 2, 2)).toBe(0.5);
  });

  it('model selection takes the most private checkpoint that keeps action within 3 points of raw', () => {
    const c = [
      { checkpoint: 'a', action_top1: 0.9, privacy_cmap: 0.6 },
      { checkpoint: 'b', action_top1: 0.88, privacy_cmap: 0.4 },
      { checkpoint: 'c', action_top1: 0.5, privacy_cmap: 0.1 },
    ];
    expect(pick(c, 0.9, 0.03)).toBe('b');
    expect(pick(c, 0.99, 0.03)).toBe('a'); // none qualifies: best action
  });

  it('warns when the selection probes cannot recognise actions even on raw clips', () => {
    expect(selectionWarnings(0.15, 10)).toEqual([expect.stringMatching(/15\.0% top-1 .*chance 10\.0%/)]);
    expect(selectionWarnings(0.6, 10)).toEqual([]);
  });
});

describe('baselines', () => {
  it('downsample4 averages 4×4 blocks; blackout zeroes the person box', () => {
    const clip = Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => (i * 7) % 256);
    const d = applyBaseline('downsample4', clip, 1, 8, 8);
    expect(d[0]).toBe(d[3]); // same block, same value
    expect(d[0]).not.toBe(clip[0]);
    const b = applyBaseline('blackout', clip, 1, 8, 8, [{ x0: 0.25, y0: 0.25, x1: 0.75, y1: 0.75 }]);
    expect(b[(4 * 8 + 4) * 3]).toBe(0);
    expect(b[0]).toBe(clip[0]);
  });
});

describe("the paper's evaluation protocol on SynthRoom (tiny)", () => {
  let data = '';
  let raw: EvalResult;
  let down4: EvalResult;
  let chance = 0;
  // Nothing here is asserted of the action model f′_T: one epoch (the protocol still trains and tests
  // it). The attackers train on their own seeds, so their figures do not depend on it.
  const budget = { actionEpochs: 1, attackerEpochs: 12, batchSize: 16, maxTrainClips: null };

  beforeAll(async () => {
    data = path.join(tmpDir(), 'synthroom');
    await generateSynthRoom({ out: data, preset: 'tiny', seed: 0 });
    raw = await evaluate({ data, anonymizer: 'raw', budget, threads: 2 });
    // Chance AP of a class is its prevalence in the test split.
    const m = ClipDataset.open(path.join(data, 'main')).manifest;
    const rows = m.labels.test!.privacy!;
    const cols = PERSON_ATTRIBUTES.map((a) => m.privacyAttributes.indexOf(a));
    chance = cols.reduce((acc, c) => acc + rows.reduce((s, r) => s + r[c]!, 0) / rows.length, 0) / cols.length;
    down4 = await evaluate({ data, anonymizer: 'downsample4', budget, threads: 2 });
  }, 360_000); // two full evaluations: ~1–2 min on a quiet 2-core machine, more beside other test files

  it('a fresh attacker on raw clips beats chance on person attributes', () => {
    expect(raw.privacy_cmap).toBeGreaterThan(chance + 0.05);
    expect(raw.group).toBe('person');
    expect(Object.keys(raw.per_attribute_ap)).toContain('skin-dark');
    expect(raw.flicker).toBe(1);
  });

  it('the downsample-4× baseline lowers what the attackers recover', () => {
    expect(down4.privacy_cmap).toBeLessThan(raw.privacy_cmap);
    expect(down4.flicker).toBeLessThan(1.2);
  });

  it('reports room attributes as the novel-privacy group', () => {
    expect(raw.groups.room!.privacy_cmap).toBeGreaterThan(0);
    expect(Number.isFinite(down4.groups.room!.privacy_cmap)).toBe(true);
  });
});
