import { describe, expect, it } from 'vitest';

import { loadNative, mulberry32 } from '../../native-models/ts/index.js';

/** Plain-JS NT-Xent (SimCLR, Eq. 5 of the paper) in float64, as an independent reference. */
function ntXentRef(z1: Float64Array, z2: Float64Array, n: number, d: number, tau: number): number {
  const rows: number[][] = [];
  for (const z of [z1, z2]) {
    for (let i = 0; i < n; i++) {
      const v = Array.from(z.subarray(i * d, (i + 1) * d));
      const norm = Math.hypot(...v);
      rows.push(v.map((x) => x / norm));
    }
  }
  let total = 0;
  for (let a = 0; a < 2 * n; a++) {
    const pos = (a + n) % (2 * n);
    let denom = 0;
    let num = 0;
    for (let b = 0; b < 2 * n; b++) {
      if (b === a) continue;
      const s = Math.exp(rows[a]!.reduce((acc, x, k) => acc + x * rows[b]![k]!, 0) / tau);
      denom += s;
      if (b === pos) num = s;
    }
    total += -Math.log(num / denom);
  }
  return total / (2 * n);
}

describe('NT-Xent', () => {
  const native = loadNative();
  const n = 3;
  const d = 4;
  const tau = 0.1;
  const rand = mulberry32(42);
  const z1 = Float64Array.from({ length: n * d }, () => rand() * 2 - 1);
  const z2 = Float64Array.from({ length: n * d }, () => rand() * 2 - 1);

  it('matches an independent reference implementation', () => {
    const { loss } = native.ntXentDebug(z1, z2, n, d, tau);
    expect(loss).toBeCloseTo(ntXentRef(z1, z2, n, d, tau), 9);
  });

  it('has autograd gradients equal to central finite differences', () => {
    const { grad1, grad2 } = native.ntXentDebug(z1, z2, n, d, tau);
    const eps = 1e-6;
    for (const [z, grad] of [
      [z1, grad1],
      [z2, grad2],
    ] as const) {
      for (let i = 0; i < n * d; i++) {
        const plus = Float64Array.from(z);
        const minus = Float64Array.from(z);
        plus[i]! += eps;
        minus[i]! -= eps;
        const lp =
          z === z1 ? native.ntXentDebug(plus, z2, n, d, tau).loss : native.ntXentDebug(z1, plus, n, d, tau).loss;
        const lm =
          z === z1 ? native.ntXentDebug(minus, z2, n, d, tau).loss : native.ntXentDebug(z1, minus, n, d, tau).loss;
        const fd = (lp - lm) / (2 * eps);
        expect(Math.abs(fd - grad[i]!)).toBeLessThan(1e-6 + 1e-4 * Math.abs(fd));
      }
    }
  });

  it('is low when pairs agree and high when they do not', () => {
    const same = native.ntXentDebug(z1, z1, n, d, tau).loss;
    const crossed = Float64Array.from(z1);
    crossed.set(z1.subarray(0, d), d);
    crossed.set(z1.subarray(d, 2 * d), 0);
    const swapped = native.ntXentDebug(z1, crossed, n, d, tau).loss;
    expect(same).toBeLessThan(swapped);
  });
});
