// Labelling a room's footage for the room recipe, on real pedestrians (the fixture excerpt): the
// judges' findings are cached by content, so a second fine-tune of the same footage reuses them.
import fs from 'node:fs';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { buildRoomDataset } from '../../electron/core/training/room-footage.js';
import { Judges } from '../../electron/core/privacy-audit/judges.js';
import { RoomDataset } from '../../native-models/ts/index.js';
import { projectRoot } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';

const excerpt = path.join(projectRoot, 'test/fixtures/footage/room-a-excerpt.mp4');
let judges: Judges;

beforeAll(async () => {
  judges = await Judges.load();
}, 120_000);

describe('room footage labelling', () => {
  it('labels people, poses and tracks at the working size, and reuses the cache on a second run', async () => {
    const root = tmpDir('spact-room-footage-');
    const cacheDir = path.join(root, 'cache');
    // 3 s (30 frames): seven pedestrians are followed in it.
    const opts = { size: 288, fps: 10, maxFrames: 30, segmentS: 10, valFraction: 0.2, judges, cacheDir };
    const first = await buildRoomDataset([{ file: excerpt, startS: 0, endS: 3 }], path.join(root, 'a'), opts);
    const m = first.manifest;
    expect([m.width, m.height]).toEqual([384, 288]); // 768×576 at a 288 px working size
    expect(m.frames).toBe(30);
    expect(first.labelledFrames).toBe(30);
    expect(first.cachedFrames).toBe(0);
    const tracks = new Set(m.people.flat().flatMap((p) => (p.track === null ? [] : [p.track])));
    expect(tracks.size).toBeGreaterThanOrEqual(3); // several pedestrians followed over time
    expect(m.people.flat().filter((p) => p.keypoints).length).toBeGreaterThan(40);
    expect(m.splits.val.length).toBe(6);
    expect(fs.readdirSync(cacheDir).filter((f) => f.endsWith('.json'))).toHaveLength(1);

    const second = await buildRoomDataset([{ file: excerpt, startS: 0, endS: 3 }], path.join(root, 'b'), opts);
    expect(second.labelledFrames).toBe(0);
    expect(second.cachedFrames).toBe(30);
    expect(second.manifest.people).toEqual(m.people);
    const ds = RoomDataset.open(path.join(root, 'b'), { cropSize: 160, jitter: 0, minGapS: 1 });
    expect(ds.tracks('train')).toBeGreaterThanOrEqual(3);
    ds.close();
  }, 300_000);

  it('another working size is labelled anew (the cache is keyed by what the judges saw)', async () => {
    const root = tmpDir('spact-room-footage-');
    const cacheDir = path.join(root, 'cache');
    // Half a second (5 frames) is enough to see whether the cache answered.
    const base = { fps: 10, maxFrames: 5, segmentS: 10, valFraction: 0.2, judges, cacheDir };
    await buildRoomDataset([{ file: excerpt, startS: 0, endS: 0.5 }], path.join(root, 'a'), { ...base, size: 288 });
    const other = await buildRoomDataset([{ file: excerpt, startS: 0, endS: 0.5 }], path.join(root, 'b'), {
      ...base,
      size: 240,
    });
    expect(other.labelledFrames).toBe(5);
    expect([other.manifest.width, other.manifest.height]).toEqual([320, 240]);
  }, 300_000);
});
