// Issue 13, item 7: the operational log — JSON lines in <data folder>/logs, rotated, at the level
// of start-up, jobs and failures, and never file names or frames.
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { openAppCore } from '../../electron/core/app-core.js';
import { OpsLog } from '../../electron/core/ops-log.js';
import { tmpDir } from '../helpers/toy-clips.js';

function lines(file: string): Record<string, unknown>[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('operational log', () => {
  it('writes one JSON object per line and rotates by size, keeping a bounded number of files', async () => {
    const dir = tmpDir('spact-ops-');
    const log = new OpsLog(dir, { maxBytes: 400, keep: 2 });
    for (let i = 0; i < 40; i++) log.log('info', 'test.event', { i, note: 'x'.repeat(20) });
    log.log('error', 'test.failure', { error: new Error('first line\nsecond line') });
    await log.close();
    const files = fs.readdirSync(dir).sort();
    expect(files).toEqual(['spact.1.log', 'spact.2.log', 'spact.log']);
    for (const f of files) {
      expect(fs.statSync(path.join(dir, f)).size).toBeLessThanOrEqual(400);
      for (const l of lines(path.join(dir, f)))
        expect(l).toMatchObject({ level: expect.any(String), event: expect.any(String) });
    }
    const last = lines(path.join(dir, 'spact.log')).at(-1)!;
    expect(last).toMatchObject({
      level: 'error',
      event: 'test.failure',
      error: { kind: 'Error', message: 'first line' },
    });
    expect(Date.parse(String(last.time))).not.toBeNaN();
  });

  it("records the app's start-up and each job's life, without the clip's file name", async () => {
    const dataDir = tmpDir('spact-ops-data-');
    const core = openAppCore({ dataDir, startJobs: true, threads: 1 });
    // An export of a clip that does not exist: queued, started, failed with its kind.
    const job = core.jobs.enqueue('export', { clipIds: [999], to: path.join(dataDir, 'out'), actor: 'test' });
    await core.jobs.wait(job.id);
    await core.close();
    const events = lines(path.join(dataDir, 'logs', 'spact.log'));
    const names = events.map((e) => e.event);
    expect(names).toContain('app.start');
    expect(names).toContain('app.reconciled');
    const mine = events.filter((e) => e.job === job.id).map((e) => e.event);
    expect(mine).toEqual(['job.queued', 'job.started', 'job.failed']);
    const failed = events.find((e) => e.event === 'job.failed')!;
    expect(failed).toMatchObject({ level: 'error', kind: 'export' });
    expect(String(failed.error)).toMatch(/^[a-z-]+: /);
    expect(fs.statSync(path.join(dataDir, 'logs', 'spact.log')).mode & 0o077).toBe(0);
  });
});
