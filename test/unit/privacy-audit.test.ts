import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { ffmpegPath } from '../../electron/core/media/ffmpeg.js';
import { auditPair } from '../../electron/core/privacy-audit/audit.js';
import { Judges } from '../../electron/core/privacy-audit/judges.js';
import { projectRoot, spact } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';

// A real photo shipped inside @vladmandic/human: one person, face visible.
const photo = path.join(projectRoot, 'node_modules/@vladmandic/human/assets/screenshot-faceid.jpg');
let judges: Judges;
let blurred = '';

beforeAll(async () => {
  judges = await Judges.load();
  blurred = path.join(tmpDir('spact-audit-'), 'blurred.png');
  const r = spawnSync(ffmpegPath(), ['-v', 'error', '-i', photo, '-vf', 'boxblur=24:3', '-y', blurred]);
  expect(r.status).toBe(0);
}, 120_000);

describe('privacy audit with pretrained judges', () => {
  it('re-identifies a raw photo against itself (rank-1 = 1) and finds its face', async () => {
    const r = await auditPair(photo, photo, { frames: 1, judges });
    expect(r.faces_raw).toBeGreaterThan(0);
    expect(r.faces_anonymized).toBe(r.faces_raw);
    expect(r.reid_rank1).toBe(1);
    expect(r.judges_on_raw.reid_rank1_raw_vs_raw).toBe(1);
    expect(r.person_recall).toBe(1);
  });

  it('finds no face after a strong blur, so nothing is re-identified', async () => {
    const r = await auditPair(photo, blurred, { frames: 1, judges });
    expect(r.faces_raw).toBeGreaterThan(0);
    expect(r.faces_anonymized).toBe(0);
    expect(r.reid_rank1).toBe(0);
  });

  it('spact audit --json prints the required fields; bad input is one line', async () => {
    const r = await spact(['audit', '--raw', photo, '--anonymized', blurred, '--frames', '1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    for (const k of ['frames', 'faces_raw', 'faces_anonymized', 'reid_rank1', 'person_recall', 'pose_pck'])
      expect(j).toHaveProperty(k);
    const bad = await spact(['audit', '--raw', '/nope.jpg', '--anonymized', blurred]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n').at(-1)).toMatch(/nope\.jpg: no such file/);
  });
});
