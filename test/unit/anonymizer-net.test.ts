// Inference builds f_A alone (the addon's AnonymizerNet) and gives exactly what the training
// engine's f_A gives on the same weights; a closed anonymizer frees f_A and refuses further use.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  Anonymizer,
  AnonymizerClosedError,
  loadNative,
  readCheckpointMeta,
  resolveCheckpointPath,
  SpactEngine,
} from '../../native-models/ts/index.js';
import { defaultModelDir } from '../../native-models/ts/models.js';

/** Frames with structure and noise, and a size f_A's divisor does not divide (padding path). */
function frames(n: number, h: number, w: number): Uint8Array {
  let s = 7;
  const out = new Uint8Array(n * h * w * 3);
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = ((i % (w * 3)) * 3 + (s >>> 24)) % 256;
  }
  return out;
}

const file = resolveCheckpointPath(defaultModelDir());
let engine: SpactEngine;
let anonymizer: Anonymizer;

beforeAll(async () => {
  const meta = readCheckpointMeta(file);
  engine = new SpactEngine({ ...meta.config, threads: 2 }, meta.labels);
  await engine.load(file, true);
  anonymizer = await Anonymizer.load(file, { threads: 2, maxPixelsPerCall: 10_000_000 });
}, 120_000);

afterAll(async () => {
  engine.dispose();
  await anonymizer.close();
});

describe('f_A-only loader', () => {
  it('builds f_A and nothing else, with the training engine’s f_A weights', () => {
    const fa = new (loadNative().AnonymizerNet)({ fA: anonymizer.meta.config.model.fA, device: 'cpu', threads: 2 });
    try {
      expect(Object.keys(fa.describe().parameters)).toEqual(['fA']);
      expect(fa.describe().parameters.fA).toBe(engine.describe().parameters.fA);
    } finally {
      fa.dispose();
    }
    expect(anonymizer.fingerprint()).toBe(engine.fingerprint().fA);
  });

  it('anonymizes bit for bit as the training engine does', async () => {
    const [n, h, w] = [3, 61, 83];
    const input = frames(n, h, w);
    const fromEngine = await engine.anonymize(input, n, h, w);
    const fromAnonymizer = await anonymizer.anonymize(input, n, h, w);
    expect(fromAnonymizer.length).toBe(fromEngine.length);
    let differing = 0;
    for (let i = 0; i < fromEngine.length; i++) if (fromEngine[i] !== fromAnonymizer[i]) differing++;
    expect(differing).toBe(0);
  });

  it('refuses every call after close(), with an error that says why', async () => {
    const closing = await Anonymizer.load(file, { threads: 2 });
    const input = frames(1, 32, 32);
    const pending = closing.anonymize(input, 1, 32, 32); // queued before close: still answered
    const closed = closing.close();
    expect(closing.isClosed).toBe(true);
    expect((await pending).length).toBe(input.length);
    await closed;
    await expect(closing.anonymize(input, 1, 32, 32)).rejects.toThrow(AnonymizerClosedError);
    await expect(closing.anonymize(input, 1, 32, 32)).rejects.toThrow(/closed \(evicted from the model cache\)/);
    expect(() => closing.fingerprint()).toThrow(AnonymizerClosedError);
    await closing.close(); // idempotent
  });

  it('native dispose() frees the networks: later calls are refused, not crashed', async () => {
    const native = loadNative();
    const fa = new native.AnonymizerNet({ fA: anonymizer.meta.config.model.fA, device: 'cpu', threads: 2 });
    await fa.load(file);
    fa.dispose();
    expect(() => fa.describe()).toThrow(/disposed/);
    expect(() => fa.anonymize(frames(1, 32, 32), 1, 32, 32)).toThrow(/disposed/);
    fa.dispose(); // twice is harmless
    const meta = readCheckpointMeta(file);
    const e = new SpactEngine({ ...meta.config, threads: 2 }, meta.labels);
    e.dispose();
    expect(() => e.fingerprint()).toThrow(/disposed/);
    await expect(e.anonymize(frames(1, 32, 32), 1, 32, 32)).rejects.toThrow(/disposed/);
  });
});
