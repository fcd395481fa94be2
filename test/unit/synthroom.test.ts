import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  ACTIONS,
  ClipDataset,
  generateSynthRoom,
  PERSON_ATTRIBUTES,
  renderClip,
  ROOM_ATTRIBUTES,
  sceneFor,
  type SceneSpec,
} from '../../native-models/ts/index.js';
import { tmpDir } from '../helpers/toy-clips.js';

describe('SynthRoom', () => {
  it('is deterministic per seed and differs across seeds', async () => {
    const a = tmpDir();
    const b = tmpDir();
    const c = tmpDir();
    const ra = await generateSynthRoom({ out: a, preset: 'tiny', seed: 5 });
    await generateSynthRoom({ out: b, preset: 'tiny', seed: 5 });
    await generateSynthRoom({ out: c, preset: 'tiny', seed: 6 });
    for (const f of ['main/train.u8', 'main/manifest.json', 'new-room/test.u8', 'main/boxes.json']) {
      expect(fs.readFileSync(path.join(a, f)).equals(fs.readFileSync(path.join(b, f))), f).toBe(true);
    }
    expect(fs.readFileSync(path.join(a, 'main/train.u8')).equals(fs.readFileSync(path.join(c, 'main/train.u8')))).toBe(
      false,
    );
    expect(ra.actions.length).toBeGreaterThanOrEqual(8);
    expect(ra.clipsPerMinute).toBeGreaterThan(1000);
    const main = ClipDataset.open(path.join(a, 'main'));
    expect(main.manifest.privacyAttributes).toEqual([...PERSON_ATTRIBUTES, ...ROOM_ATTRIBUTES]);
    expect(main.count('train')).toBe(240);
  });

  it('holds the new-room styles out of every training room', async () => {
    const out = tmpDir();
    const r = await generateSynthRoom({ out, preset: 'tiny', seed: 1 });
    const main = ClipDataset.open(path.join(out, 'main')).manifest;
    const newRoom = ClipDataset.open(path.join(out, 'new-room')).manifest;
    const col = (m: typeof main, name: string) => m.privacyAttributes.indexOf(name);
    for (const wall of r.heldOut.walls) {
      expect(main.labels.train!.privacy!.every((p) => p[col(main, `wall-${wall}`)] === 0)).toBe(true);
      expect(newRoom.labels.train!.privacy!.some((p) => p[col(newRoom, `wall-${wall}`)] === 1)).toBe(true);
    }
  });

  it('draws what the labels say: a fall ends with the body near the floor', () => {
    for (let i = 0; i < 6; i++) {
      const { spec } = sceneFor(3, 'main', 'train', ACTIONS.indexOf('fall') + i * ACTIONS.length);
      expect(spec.motion.action).toBe('fall');
      const clip = renderClip({ ...spec, jitter: 0 }, 64, 64, 16, 11);
      const first = clip.boxes[0]!;
      const last = clip.boxes.at(-1)!;
      expect(first.y1 - first.y0).toBeGreaterThan(first.x1 - first.x0); // upright at the start
      expect(last.y1 - last.y0).toBeLessThan(last.x1 - last.x0); // lying at the end
      expect(Math.abs(last.y1 - clip.floorY)).toBeLessThan(0.08); // on the floor
      expect(last.y0).toBeGreaterThan(clip.floorY - 0.25);
    }
  });

  it('draws what the labels say: a room without a bed has no bed pixels', () => {
    const { spec } = sceneFor(9, 'main', 'train', 2);
    const bed = { x: 0.5, y: 0.5, s: 1, colour: [200, 30, 200] as [number, number, number] };
    const quiet = (s: SceneSpec): SceneSpec => ({ ...s, noise: 0, jitter: 0, light: { gain: 1, drift: 0 } });
    const withBed = quiet({ ...spec, room: { ...spec.room, objects: { ...spec.room.objects, bed } } });
    const noBed = quiet({
      ...spec,
      room: {
        ...spec.room,
        objects: Object.fromEntries(Object.entries(spec.room.objects).filter(([k]) => k !== 'bed')),
      },
    });
    const a = renderClip(withBed, 64, 64, 1, 1).frames;
    const b = renderClip(noBed, 64, 64, 1, 1).frames;
    let changed = 0;
    let outside = 0;
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) {
        const o = (y * 64 + x) * 3;
        if (a[o] !== b[o] || a[o + 1] !== b[o + 1] || a[o + 2] !== b[o + 2]) {
          changed++;
          // The bed: 0.2 of the width either side of its centre, on the floor line.
          if (Math.abs((x + 0.5) / 64 - bed.x) > 0.22 || y < 64 * 0.8 - 64 * 0.18 || y > 64 * 0.8 + 1) outside++;
        }
      }
    }
    expect(changed).toBeGreaterThan(30);
    expect(outside).toBe(0);
    // And where the bed is absent, no pixel has the bed's colour.
    let bedColoured = 0;
    for (let o = 0; o < b.length; o += 3) if (b[o] === 200 && b[o + 1] === 30 && b[o + 2] === 200) bedColoured++;
    expect(bedColoured).toBe(0);
  });

  it('samples person attributes independently of the action', async () => {
    const out = tmpDir();
    await generateSynthRoom({ out, preset: 'tiny', seed: 2 });
    const m = ClipDataset.open(path.join(out, 'main')).manifest;
    const labels = m.labels.train!;
    const heavy = m.privacyAttributes.indexOf('build-heavy');
    // Every action is performed by both builds.
    for (let a = 0; a < m.actions.length; a++) {
      const rows = labels.privacy!.filter((_, i) => labels.actions[i] === a);
      expect(rows.some((r) => r[heavy] === 1) && rows.some((r) => r[heavy] === 0)).toBe(true);
    }
  });
});
