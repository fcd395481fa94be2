// Sizes in the Library in the unit that shows them (renderer/src/lib/format.ts).
import { describe, expect, it } from 'vitest';

import { formatBytes } from '../../renderer/src/lib/format.js';

describe('formatBytes', () => {
  it('shows small files in bytes or KiB, never as 0.0 MiB', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(900)).toBe('900 B');
    expect(formatBytes(40 * 1024)).toBe('40 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3.25 * 2 ** 20)).toBe('3.3 MiB');
    expect(formatBytes(700 * 2 ** 20)).toBe('700 MiB');
    expect(formatBytes(5 * 2 ** 30)).toBe('5.0 GiB');
    expect(formatBytes(-1)).toBe('–');
  });
});
