// The rule that chooses a room fine-tune's model from the audit of held-out footage.
import { describe, expect, it } from 'vitest';

import { isBetter, resizeRgb, type AuditSummary } from '../../electron/core/training/room-selection.js';

const audit = (withRaw: number, anonOnly: number, recall: number, pose: number): AuditSummary => ({
  tracks: 10,
  chance: 0.1,
  worstWithRaw: withRaw,
  worstAnonymizedOnly: anonOnly,
  silhouetteWorstWithRaw: 0.2,
  silhouetteWorstAnonymizedOnly: 0.6,
  personRecall: recall,
  poseAgreement: pose,
  verdict: '',
});

describe('room model selection rule', () => {
  it('prefers keeping people over hiding them, then the least identity', () => {
    const keeps = audit(0.4, 0.7, 0.95, 0.85);
    const blank = audit(0.1, 0.1, 0, 0); // privacy by destruction
    expect(isBetter(keeps, blank)).toBe(true);
    expect(isBetter(blank, keeps)).toBe(false);
    expect(isBetter(audit(0.2, 0.6, 0.92, 0.81), keeps)).toBe(true); // less identity, still keeps people
    expect(isBetter(audit(0.2, 0.8, 0.92, 0.81), keeps)).toBe(false); // worst of both kinds counts
    // Nobody keeps people: the one closest to keeping them.
    expect(isBetter(audit(0.5, 0.5, 0.85, 0.7), audit(0.1, 0.1, 0.5, 0.5))).toBe(true);
  });

  it('resizes frames bilinearly (identity at the same size)', () => {
    const src = Uint8Array.from({ length: 4 * 2 * 3 }, (_, i) => i * 10);
    expect(resizeRgb(src, 4, 2, 4, 2)).toBe(src);
    const up = resizeRgb(Uint8Array.from([0, 0, 0, 200, 200, 200]), 2, 1, 4, 1);
    expect(Array.from(up.filter((_, i) => i % 3 === 0))).toEqual([0, 50, 150, 200]);
  });
});
