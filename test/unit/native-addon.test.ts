import { describe, expect, it } from 'vitest';

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
