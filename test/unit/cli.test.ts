import { describe, expect, it } from 'vitest';

import { spactSync } from '../helpers/cli.js';

describe('spact CLI', () => {
  it('lists its commands with --help and exits 0', () => {
    const r = spactSync(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: spact <command>');
    expect(r.stdout).toContain('serve');
  });

  it('rejects an unknown command with exit code 2', () => {
    const r = spactSync(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
  });

  it('rejects unknown options with a one-line reason and the usage', () => {
    const r = spactSync(['info', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/^spact info: .*--bogus/);
  });

  it('prints one JSON object with --json', () => {
    const r = spactSync(['info', '--json']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.name).toBe('spact-desktop');
    expect(info.engine.available).toBe(true);
  });

  it('rejects a bad --port for serve', () => {
    const r = spactSync(['serve', '--port', 'abc', '--no-open']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--port must be');
  });
});
