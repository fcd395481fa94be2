// The shipped models: the default (real footage, room recipe) and the SynthRoom one — present,
// loadable by name, documented by their cards, and actually changing frames (an identity or a
// blank f_A would both be shipping bugs).
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Anonymizer, readCheckpointMeta, resolveModelPath } from '../../native-models/ts/index.js';

async function changesFramesWithoutBlanking(dir: string) {
  const anonymizer = await Anonymizer.load(dir);
  const n = 2;
  const h = 50;
  const w = 70;
  const frames = new Uint8Array(n * h * w * 3);
  for (let i = 0; i < frames.length; i++) frames[i] = (i * 37 + ((i / 211) | 0) * 11) % 256;
  const out = await anonymizer.anonymize(frames, n, h, w);
  expect(out.length).toBe(frames.length);
  let diff = 0;
  let min = 255;
  let max = 0;
  for (let i = 0; i < out.length; i++) {
    diff += Math.abs(out[i]! - frames[i]!);
    min = Math.min(min, out[i]!);
    max = Math.max(max, out[i]!);
  }
  expect(diff / out.length).toBeGreaterThan(1); // not the identity
  expect(max - min).toBeGreaterThan(30); // not a blank frame
}

describe('shipped default model (real footage, room recipe)', () => {
  const dir = resolveModelPath('default');

  it('is a weights-only room-recipe model chosen on held-out footage, with a card naming its command, data and metrics', () => {
    const meta = readCheckpointMeta(path.join(dir, 'checkpoint.pt'));
    expect(meta.config.room.enabled).toBe(true); // pseudo-labels and the identity budget: no labels
    expect(meta.state.minimaxStep).toBeGreaterThan(0); // a minimax checkpoint, not the identity init
    expect(meta.extra?.weightsOnly).toBe(true);
    expect(String(meta.extra?.selectedFrom)).toMatch(/^(step-\d{6}|checkpoint)\.pt$/);
    const card = fs.readFileSync(path.join(dir, 'MODEL_CARD.md'), 'utf8');
    expect(card).toMatch(/npm run train:default/);
    expect(card).toMatch(/vtest\.avi/);
    expect(card).toMatch(/\| step-\d{6}\.pt \| \d+% \| \d+% \| \d+% \| \d+% \|/);
  });

  it('anonymizes frames of any size: the output differs from the input but is not blank', async () => {
    await changesFramesWithoutBlanking(dir);
  });
});

describe('SynthRoom model (--model synthroom)', () => {
  const dir = resolveModelPath('synthroom');

  it('is a weights-only SPAct run with a model card naming its command, data and metrics', () => {
    const meta = readCheckpointMeta(path.join(dir, 'checkpoint.pt'));
    expect(meta.state.minimaxStep).toBeGreaterThan(0);
    expect(String(meta.extra?.selectedFrom)).toMatch(/^(step-\d{6}|checkpoint)\.pt$/);
    expect(meta.config.budget.loss).toBe('ntxent'); // self-supervised budget: no privacy labels
    const card = fs.readFileSync(path.join(dir, 'MODEL_CARD.md'), 'utf8');
    expect(card).toMatch(/npm run bench:privacy -- --preset small/);
    expect(card).toMatch(/SynthRoom `small`, seed 0/);
    expect(card).toMatch(/\| action top-1 \| [\d.]+ \| [\d.]+ \|/);
  });

  it('anonymizes frames of any size: the output differs from the input but is not blank', async () => {
    await changesFramesWithoutBlanking(dir);
  });
});
