import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { EngineError, mapNativeError, resolveConfig, SpactEngine } from '../../native-models/ts/index.js';
import { loadNative } from '../../native-models/ts/native.js';

describe('libtorch addon', () => {
  const native = loadNative();

  it('reports the libtorch it was built against', () => {
    const info = native.info();
    expect(info.torchVersion).toMatch(/^\d+\.\d+/);
    expect(typeof info.cudaAvailable).toBe('boolean');
    expect(info.threads).toBeGreaterThanOrEqual(1);
  });

  it('computes with libtorch on JS-owned buffers', () => {
    const a = Float32Array.from({ length: 1000 }, (_, i) => i / 1000);
    const b = Float32Array.from({ length: 1000 }, (_, i) => 1 - i / 1000);
    const expected = a.reduce((s, x, i) => s + x * b[i]!, 0);
    expect(native.dot(a, b)).toBeCloseTo(expected, 2);
  });

  it('rejects mismatched or wrongly typed inputs with a clear error', () => {
    expect(() => native.dot(new Float32Array(3), new Float32Array(4))).toThrow(/differ in length \(3 vs 4\)/);
    expect(() => native.dot(new Float64Array(3) as unknown as Float32Array, new Float32Array(3))).toThrow(
      /Float32Arrays/,
    );
  });
});

describe('errors across the native boundary', () => {
  const native = loadNative();

  it('turns a libtorch exception in a synchronous call into a JS Error with a code', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'spact-native-')), 'not-a-checkpoint.pt');
    fs.writeFileSync(file, 'not a zip archive');
    let caught: unknown;
    try {
      native.readCheckpointMeta(file);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(Error);
    expect((caught as Error & { code?: string }).code).toBe('torch');
    expect((caught as Error).message).toMatch(/not a ZIP archive/);
    // The process is still alive and the addon still answers.
    expect(native.info().torchVersion).toMatch(/^\d/);
  });

  it('rejects an asynchronous step with the kind as the code, mapped to the engine error classes', async () => {
    const engine = new SpactEngine(resolveConfig({ overrides: { threads: 1 } }), {
      actions: ['a', 'b'],
      multiLabelActions: false,
      privacyAttributes: [],
    });
    // One clip is too few for the contrastive loss: the engine refuses it on its compute thread.
    const batch = {
      frames: new Uint8Array(1 * 8 * 32 * 32 * 3),
      n: 1,
      t: 8,
      h: 32,
      w: 32,
      actions: Int32Array.from([0]),
    };
    const raw = await (engine as unknown as { native: { stepA: (b: unknown) => Promise<unknown> } }).native
      .stepA(batch)
      .catch((e: unknown) => e);
    expect((raw as Error & { code?: string }).code).toBe('bad-input');
    expect((raw as Error).message).toMatch(/at least 2 clips/);
    const mapped = await engine.stepA(batch).catch((e: unknown) => e);
    expect(mapped).toBeInstanceOf(EngineError);
    expect((mapped as EngineError).kind).toBe('bad-input');
  });

  it('parses kinds instead of trusting them: an unknown code becomes internal', () => {
    const odd = Object.assign(new Error('something\nwith a trace'), { code: 'rm-rf' });
    const mapped = mapNativeError(odd);
    expect(mapped).toBeInstanceOf(EngineError);
    expect((mapped as EngineError).kind).toBe('internal');
    expect(mapped.message).toBe('something');
  });
});
