// Durations in the app and in the terminal (renderer/src/lib/format.ts, used by the CLI too).
import { describe, expect, it } from 'vitest';

import { formatDuration as cliDuration } from '../../electron/cli/progress-bar.js';
import { formatDuration } from '../../renderer/src/lib/format.js';

describe('formatDuration', () => {
  it('says seconds, minutes and hours in words for the app', () => {
    expect(formatDuration(0)).toBe('0 s');
    expect(formatDuration(44.6)).toBe('45 s');
    expect(formatDuration(125)).toBe('2 min 5 s');
    expect(formatDuration(3900)).toBe('1 h 05 min');
    expect(formatDuration(-3)).toBe('0 s');
    expect(formatDuration(null)).toBe('–');
    expect(formatDuration(Number.NaN)).toBe('–');
  });

  it('is compact in the terminal, rounded the same way', () => {
    expect(cliDuration(44.6)).toBe('45s');
    expect(cliDuration(125)).toBe('2m05s');
    expect(cliDuration(3900)).toBe('1h05m');
    expect(cliDuration(Number.POSITIVE_INFINITY)).toBe('?');
  });
});
