// Job lanes: an export or a fine-tune never waits behind an anonymize (or each other), while two
// anonymize jobs still run one after the other.
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { openDatabase } from '../../electron/core/db/database.js';
import { SqliteJobRunner, type JobHandler } from '../../electron/core/jobs/job-runner.js';
import { tmpDir } from '../helpers/toy-clips.js';

describe('job lanes', () => {
  it('runs one job per lane at a time: export and fine-tune start while an anonymize runs', async () => {
    const db = openDatabase(path.join(tmpDir('spact-lanes-'), 'library.sqlite'));
    const started: string[] = [];
    const releases: (() => void)[] = [];
    const blocking =
      (name: string): JobHandler =>
      async (payload) => {
        started.push(`${name}:${(payload as { n: number }).n}`);
        await new Promise<void>((resolve) => releases.push(resolve));
        return null;
      };
    const runner = new SqliteJobRunner(db, {
      anonymize: blocking('anonymize'),
      export: blocking('export'),
      finetune: blocking('finetune'),
    });
    runner.start();
    const jobs = [
      runner.enqueue('anonymize', { n: 1 }),
      runner.enqueue('anonymize', { n: 2 }),
      runner.enqueue('export', { n: 3 }),
      runner.enqueue('finetune', { n: 4 }),
    ];
    const settle = async () => {
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    };
    await settle();
    expect(started.sort()).toEqual(['anonymize:1', 'export:3', 'finetune:4']);
    expect(runner.get(jobs[1]!.id).status).toBe('queued');
    releases.shift()!(); // the first anonymize ends: the second one starts
    await runner.wait(jobs[0]!.id);
    await settle();
    expect(started).toContain('anonymize:2');
    for (const r of releases.splice(0)) r();
    await settle();
    for (const r of releases.splice(0)) r();
    for (const j of jobs) expect((await runner.wait(j.id)).status).toBe('done');
    await runner.stop();
  });
});
