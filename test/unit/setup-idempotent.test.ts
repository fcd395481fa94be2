import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { projectRoot } from '../helpers/cli.js';

describe('one-command set-up', () => {
  it('does nothing the second time: no reinstall, no rebuild', () => {
    // `npm test` has just run the set-up, so every stamp is current.
    const r = spawnSync(process.execPath, [path.join(projectRoot, 'scripts/setup.mjs')], {
      cwd: projectRoot,
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stderr).not.toMatch(/npm ci…|build…|installing system packages/);
    expect(r.stderr).toContain('[setup] ready');
  });
});
