// The thread that answers the window comes first: libtorch's compute thread (and its OpenMP team),
// the judges' worker thread and the ffmpeg processes of jobs run at nice 10 on Linux, so a
// trivial call is answered at once while they keep every otherwise idle CPU busy.
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { decodeFrames } from '../../electron/core/media/video.js';
import { projectRoot } from '../../electron/core/paths.js';
import { Judges } from '../../electron/core/privacy-audit/judges.js';
import { Anonymizer, defaultModelDir } from '../../native-models/ts/index.js';

/** Field 19 of /proc/…/stat: the nice value of a process or thread. */
const niceOf = (statFile: string): number => {
  const stat = fs.readFileSync(statFile, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
};
const threadNices = (): number[] =>
  fs.readdirSync('/proc/self/task').map((tid) => {
    try {
      return niceOf(`/proc/self/task/${tid}/stat`);
    } catch {
      return 0; // ended meanwhile
    }
  });
const niceThreads = () => threadNices().filter((n) => n === 10).length;

describe.runIf(process.platform === 'linux')('priorities', () => {
  it('the main thread keeps its priority; the compute thread and the judges worker yield', async () => {
    expect(niceOf('/proc/self/stat')).toBe(0);
    const before = niceThreads();
    const anonymizer = await Anonymizer.load(defaultModelDir(), { threads: 2 });
    await anonymizer.anonymize(new Uint8Array(2 * 64 * 64 * 3), 2, 64, 64);
    const withCompute = niceThreads();
    expect(withCompute).toBeGreaterThan(before);
    const judges = await Judges.load();
    expect(niceThreads()).toBeGreaterThan(withCompute);
    await judges.close();
    expect(niceOf('/proc/self/stat')).toBe(0); // the nice values are per thread, not the process's
  });

  it("a job's ffmpeg runs at nice 10", async () => {
    const footage = path.join(projectRoot(), 'test', 'fixtures', 'footage', 'room-a-excerpt.mp4');
    const ffmpegNices = (): number[] =>
      fs
        .readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .flatMap((p) => {
          try {
            const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
            const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
            return ppid === process.pid && stat.includes('(ffmpeg)') ? [niceOf(`/proc/${p}/stat`)] : [];
          } catch {
            return [];
          }
        });
    let seen: number[] = [];
    for await (const _batch of decodeFrames(footage, { width: 64, height: 48, fps: 5, batch: 1 })) {
      seen = ffmpegNices();
      break;
    }
    expect(seen).toEqual([10]);
  });
});
