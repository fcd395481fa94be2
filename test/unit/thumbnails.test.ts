// Thumbnails come from anonymized outputs, are made off the core's thread once however many
// screens ask at the same time, and never leave a temporary file behind.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { openDatabase } from '../../electron/core/db/database.js';
import { createCoreServices } from '../../electron/core/services.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo } from '../helpers/video.js';

const open: ReturnType<typeof createCoreServices>[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

/** A library with one clip and one output whose file is `video`. */
function libraryWithOutput(dataDir: string, video: Buffer): number {
  const db = openDatabase(path.join(dataDir, 'library.sqlite'));
  const t = '2020-01-01T00:00:00.000Z';
  const clip = db
    .prepare(
      `INSERT INTO clips (name, source, path, stored, sha256, size_bytes, duration_s, width, height, fps, has_audio, imported_at)
       VALUES ('c.mp4', 'c.mp4', ?, 'copy', 'aa', 1, 1, 160, 120, 10, 0, ?)`,
    )
    .run(path.join(dataDir, 'clips', 'c.mp4'), t);
  const model = db
    .prepare(`INSERT INTO models (name, checkpoint, sha256, created_at) VALUES ('m', '/nowhere/checkpoint.pt', ?, ?)`)
    .run(crypto.randomUUID(), t);
  const file = path.join(dataDir, 'outputs', 'o.mp4');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, video);
  const sha = crypto.createHash('sha256').update(video).digest('hex');
  const settings = { size: 112, batch: 8, keepAudio: false, width: 160, height: 120 };
  const out = db
    .prepare(
      `INSERT INTO outputs (clip_id, model_id, path, sha256, settings, frames, fps, duration_s, created_at)
       VALUES (?, ?, ?, ?, ?, 10, 10, 1, ?)`,
    )
    .run(clip.lastInsertRowid, model.lastInsertRowid, file, sha, JSON.stringify(settings), t);
  db.close();
  return Number(out.lastInsertRowid);
}

describe('thumbnails', () => {
  it('are made once for simultaneous requests, as a JPEG, with no temporary file left', async () => {
    const dataDir = tmpDir('spact-thumbs-');
    const video = fs.readFileSync(makeVideo(path.join(tmpDir('spact-thumbs-src-'), 'v.mp4'), { seconds: 1 }));
    const id = libraryWithOutput(dataDir, video);
    const s = createCoreServices({ dataDir, role: 'viewer' });
    open.push(s);
    const got = await Promise.all([1, 2, 3].map(() => s.resolveMedia('thumb', id)));
    expect(new Set(got.map((g) => g.file)).size).toBe(1);
    expect(got[0]!.contentType).toBe('image/jpeg');
    expect([...fs.readFileSync(got[0]!.file).subarray(0, 2)]).toEqual([0xff, 0xd8]);
    expect(fs.readdirSync(path.dirname(got[0]!.file))).toEqual([path.basename(got[0]!.file)]);
  });

  it('a broken output gives a clear error and no file', async () => {
    const dataDir = tmpDir('spact-thumbs-');
    const id = libraryWithOutput(dataDir, Buffer.from('not a video'));
    const s = createCoreServices({ dataDir, role: 'viewer' });
    open.push(s);
    await expect(s.resolveMedia('thumb', id)).rejects.toMatchObject({ kind: 'internal' });
    const thumbs = path.join(dataDir, 'thumbs');
    expect(fs.existsSync(thumbs) ? fs.readdirSync(thumbs) : []).toEqual([]);
  });
});
