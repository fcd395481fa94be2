// The judges run in a worker thread: the same findings as in the calling thread, while the
// calling thread stays free (a timer keeps firing during a detection), and no process is kept
// alive by an idle worker.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { projectRoot } from '../../electron/core/paths.js';
import { judgesWorkerEntry } from '../../electron/core/privacy-audit/judges-worker-client.js';
import { InThreadJudges, Judges } from '../../electron/core/privacy-audit/judges.js';
import { decodeFrames } from '../../electron/core/media/video.js';

const footage = path.join(projectRoot(), 'test', 'fixtures', 'footage', 'room-a-excerpt.mp4');
let judges: Judges;
let frame: { rgb: Uint8Array; width: number; height: number };

beforeAll(async () => {
  expect(fs.existsSync(judgesWorkerEntry())).toBe(true);
  judges = await Judges.load();
  const size = { width: 384, height: 288 };
  for await (const b of decodeFrames(footage, { ...size, fps: 1, batch: 1, startS: 2, durationS: 1 })) {
    frame = { rgb: b.frames.slice(0, size.width * size.height * 3), ...size };
    break;
  }
});
afterAll(() => judges?.close());

describe('judges in a worker thread', () => {
  it('find the same persons as judges in this thread, and this thread keeps running meanwhile', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const t0 = Date.now();
    const inWorker = await judges.persons(frame.rgb, frame.width, frame.height);
    const elapsed = Date.now() - t0;
    clearInterval(timer);
    // A detection takes hundreds of ms; a blocked thread would have fired the timer about once.
    expect(ticks).toBeGreaterThan(Math.min(10, elapsed / 20));
    const local = await (await InThreadJudges.load()).persons(frame.rgb, frame.width, frame.height);
    expect(inWorker.length).toBeGreaterThan(0);
    expect(inWorker).toEqual(local);
  });

  it('an idle worker does not keep a process alive', () => {
    const script = `import('${path.join(projectRoot(), 'dist/node/electron/core/privacy-audit/judges.js')}').then(async ({ Judges }) => { await Judges.load(); console.log('loaded'); })`;
    const out = execFileSync(process.execPath, ['-e', script], { timeout: 60_000 }).toString();
    expect(out).toContain('loaded');
  });
});
