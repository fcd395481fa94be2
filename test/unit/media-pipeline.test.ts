import fs from 'node:fs';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { openAppCore, type AppCore } from '../../electron/core/app-core.js';
import { anonymizeFile, DEFAULT_SETTINGS } from '../../electron/core/anonymize/anonymize-service.js';
import { openDatabase, SCHEMA_VERSION } from '../../electron/core/db/database.js';
import { sha256File } from '../../electron/core/library/library-service.js';
import { decodeFrames, Mp4Writer, probeVideo } from '../../electron/core/media/video.js';
import { Anonymizer } from '../../native-models/ts/index.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo, tinyModel } from '../helpers/video.js';

let modelDir = '';
let anonymizer: Anonymizer;
const dir = tmpDir('spact-media-');

beforeAll(async () => {
  modelDir = await tinyModel();
  anonymizer = await Anonymizer.load(modelDir, { threads: 2 });
}, 120_000);

async function decodeAll(
  file: string,
  w: number,
  h: number,
  fps: number,
): Promise<{ frames: number; first: Uint8Array }> {
  let frames = 0;
  let first: Uint8Array | null = null;
  for await (const b of decodeFrames(file, { width: w, height: h, fps, batch: 8 })) {
    first ??= b.frames.slice(0, w * h * 3);
    frames += b.n;
  }
  return { frames, first: first! };
}

describe('anonymize a video end to end', () => {
  it('keeps frame count and rate, differs from the input, and drops audio by default', async () => {
    const input = makeVideo(path.join(dir, 'in.mp4'), { width: 160, height: 120, fps: 10, seconds: 2, audio: true });
    const output = path.join(dir, 'out.mp4');
    const r = await anonymizeFile(anonymizer, input, output, { ...DEFAULT_SETTINGS, size: 112 });
    const info = await probeVideo(output);
    expect(info.fps).toBeCloseTo(10, 3);
    expect(r.frames).toBe(20);
    expect(info.hasAudio).toBe(false);
    expect(info.codec).toBe('h264');
    const out = await decodeAll(output, r.width, r.height, 10);
    expect(out.frames).toBe(20);
    const raw = await decodeAll(input, r.width, r.height, 10);
    const diff = out.first.reduce((acc, v, i) => acc + Math.abs(v - raw.first[i]!), 0) / out.first.length;
    expect(diff).toBeGreaterThan(2);
    expect(r.sha256).toBe(await sha256File(output));
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('keeps audio only when asked', async () => {
    const input = makeVideo(path.join(dir, 'audio.mp4'), { audio: true, seconds: 1 });
    const out = path.join(dir, 'audio-kept.mp4');
    await anonymizeFile(anonymizer, input, out, { ...DEFAULT_SETTINGS, size: 112, keepAudio: true });
    expect((await probeVideo(out)).hasAudio).toBe(true);
  });

  it('handles odd sizes (641×479) and variable frame rate input', async () => {
    const odd = makeVideo(path.join(dir, 'odd.mp4'), { width: 641, height: 479, fps: 8, seconds: 1 });
    const r = await anonymizeFile(anonymizer, odd, path.join(dir, 'odd-out.mp4'), { ...DEFAULT_SETTINGS, size: 112 });
    expect(r.frames).toBe(8);
    expect(r.width % 2).toBe(0);
    const vfr = makeVideo(path.join(dir, 'vfr.mp4'), { fps: 12, seconds: 2, vfr: true });
    const info = await probeVideo(vfr);
    const v = await anonymizeFile(anonymizer, vfr, path.join(dir, 'vfr-out.mp4'), { ...DEFAULT_SETTINGS, size: 112 });
    expect((await probeVideo(path.join(dir, 'vfr-out.mp4'))).variableFrameRate).toBe(false);
    expect(Math.abs(v.frames - Math.round(info.durationS * info.fps))).toBeLessThanOrEqual(2);
  });
});

describe('bad input gets a one-line error naming the file and the cause', () => {
  const oneLine = (e: unknown) => {
    const m = (e as Error).message;
    expect(m.split('\n')).toHaveLength(1);
    return m;
  };

  it('corrupt, truncated, non-video, empty, huge', async () => {
    const empty = path.join(dir, 'empty.mp4');
    fs.writeFileSync(empty, '');
    const text = path.join(dir, 'notes.mp4');
    fs.writeFileSync(text, 'this is not a video');
    const good = makeVideo(path.join(dir, 'good.mp4'), { seconds: 2 });
    const truncated = path.join(dir, 'truncated.mp4');
    const bytes = fs.readFileSync(good);
    fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 3)));
    const huge = makeVideo(path.join(dir, 'huge.mp4'), { width: 7700, height: 16, seconds: 0.2, fps: 5 });
    await expect(probeVideo(empty)).rejects.toThrow(/empty\.mp4: the file is empty/);
    expect(oneLine(await probeVideo(text).catch((e) => e))).toMatch(/notes\.mp4: not a readable video/);
    expect(oneLine(await probeVideo(huge).catch((e) => e))).toMatch(/huge\.mp4: frame size 7700×16 exceeds/);
    await expect(probeVideo(path.join(dir, 'missing.mp4'))).rejects.toThrow(/missing\.mp4: no such file/);
    const err = await anonymizeFile(anonymizer, truncated, path.join(dir, 'trunc-out.mp4'), {
      ...DEFAULT_SETTINGS,
      size: 112,
    }).catch((e) => e);
    expect(oneLine(err)).toMatch(/truncated\.mp4/);
    expect(fs.existsSync(path.join(dir, 'trunc-out.mp4'))).toBe(false);
  });

  it('a destination that cannot be written, and a disk that fills up mid-write', async () => {
    const input = makeVideo(path.join(dir, 'dest.mp4'), { seconds: 1 });
    const blocker = path.join(dir, 'a-file');
    fs.writeFileSync(blocker, 'x');
    const e1 = await anonymizeFile(anonymizer, input, path.join(blocker, 'out.mp4'), {
      ...DEFAULT_SETTINGS,
      size: 112,
    }).catch((e) => e);
    expect(oneLine(e1)).toMatch(/not writable/);
    // The encoder's temporary file is a link to /dev/full: every write fails with ENOSPC.
    const outDir = tmpDir('spact-full-');
    const target = path.join(outDir, 'full.mp4');
    fs.symlinkSync('/dev/full', path.join(outDir, `.full.mp4.tmp-${process.pid}.mp4`));
    const e2 = await anonymizeFile(anonymizer, input, target, { ...DEFAULT_SETTINGS, size: 112 }).catch((e) => e);
    expect(oneLine(e2)).toMatch(/full\.mp4.*(disk is full|No space left)/i);
    expect(fs.existsSync(target)).toBe(false);
  });

  it('an Mp4Writer that is aborted leaves nothing behind', async () => {
    const w = new Mp4Writer(path.join(dir, 'aborted.mp4'), { width: 32, height: 32, fps: 5 });
    await w.write(new Uint8Array(32 * 32 * 3 * 2));
    await w.abort();
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('.aborted'))).toEqual([]);
  });
});

describe('library, outputs and export', () => {
  let core: AppCore;
  beforeAll(() => {
    core = openAppCore({ dataDir: tmpDir('spact-data-'), threads: 2 });
  });

  it('imports, anonymizes and exports only anonymized files with a valid manifest', async () => {
    const room = core.library.createRoom('Room 12');
    const clip = await core.library.importClip(makeVideo(path.join(dir, 'lib.mp4'), { seconds: 1 }), {
      roomId: room.id,
    });
    expect(clip.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(clip.path.startsWith(core.dataDir)).toBe(true);
    const model = core.resolveModel(modelDir);
    const out = await core.anonymize.anonymizeClip(clip.id, model.id, { ...DEFAULT_SETTINGS, size: 112 });
    const row = core.db.prepare('SELECT sha256 FROM outputs WHERE id = ?').get(out.id) as { sha256: string };
    expect(row.sha256).toBe(await sha256File(out.path));

    const dest = path.join(tmpDir('spact-export-'), 'cloud');
    const exp = await core.exports.exportClips({ clipIds: [clip.id], to: dest, actor: 'tester' });
    const files = fs.readdirSync(dest).sort();
    expect(files).toHaveLength(2);
    expect(files).toContain('manifest.json');
    const manifest = JSON.parse(fs.readFileSync(path.join(dest, 'manifest.json'), 'utf8'));
    expect(manifest.items[0]).toMatchObject({
      sha256: out.sha256,
      model: { id: model.id, sha256: model.sha256 },
      fps: 10,
    });
    expect(JSON.stringify(manifest)).not.toContain(clip.path);
    expect(JSON.stringify(manifest)).not.toContain('lib.mp4');
    expect(manifest.items[0].roomId).toBeUndefined();
    const exported = files.find((f) => f.endsWith('.mp4'))!;
    expect(await sha256File(path.join(dest, exported))).toBe(out.sha256);
    expect(await sha256File(path.join(dest, exported))).not.toBe(clip.sha256);
    expect(core.audit.entries().some((e) => e.action === 'export' && e.object === `export:${exp.id}`)).toBe(true);
  });

  it('refuses to export a clip that has no anonymized output, writing nothing', async () => {
    const clip = await core.library.importClip(makeVideo(path.join(dir, 'raw-only.mp4'), { seconds: 1 }));
    const dest = path.join(tmpDir('spact-export-'), 'cloud');
    await expect(core.exports.exportClips({ clipIds: [clip.id], to: dest, actor: 'tester' })).rejects.toThrow(
      /no anonymized output/,
    );
    expect(fs.existsSync(dest) ? fs.readdirSync(dest) : []).toEqual([]);
  });

  it('a failed import leaves no row and no file', async () => {
    const before = core.library.clips().length;
    const bad = path.join(dir, 'bad.mp4');
    fs.writeFileSync(bad, 'garbage');
    await expect(core.library.importClip(bad)).rejects.toThrow(/bad\.mp4/);
    expect(core.library.clips()).toHaveLength(before);
    expect(fs.readdirSync(core.library.clipsDir).filter((f) => f.includes('bad'))).toEqual([]);
  });

  it('a missing model is a clear error', () => {
    expect(() => core.resolveModel(path.join(dir, 'no-such-run'))).toThrow(/does not exist/);
  });
});

describe('database', () => {
  it('migrates a new file to the current schema, and refuses one from a newer version', () => {
    const file = path.join(tmpDir('spact-db-'), 'library.sqlite');
    const db = openDatabase(file);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map(
      (t) => t.name,
    );
    for (const t of [
      'rooms',
      'cameras',
      'clips',
      'models',
      'runs',
      'run_metrics',
      'outputs',
      'exports',
      'audit_log',
      'settings',
      'jobs',
      'users',
    ]) {
      expect(tables).toContain(t);
    }
    expect(() =>
      db
        .prepare(
          `INSERT INTO clips (name, source, path, stored, sha256, size_bytes, duration_s, width, height, fps, has_audio, imported_at) VALUES ('a','b','c','copy','d','big',1,1,1,1,0,'t')`,
        )
        .run(),
    ).toThrow();
    db.pragma('user_version = 99');
    db.close();
    expect(() => openDatabase(file)).toThrow(/newer SPAct Desktop \(schema 99/);
  });

  it('reports a locked database with the file name', () => {
    const file = path.join(tmpDir('spact-db-'), 'library.sqlite');
    const holder = openDatabase(file);
    holder.exec('BEGIN EXCLUSIVE');
    const err = (() => {
      try {
        openDatabase(file, { busyTimeoutMs: 100 }).close();
        return null;
      } catch (e) {
        return e as Error;
      }
    })();
    holder.exec('ROLLBACK');
    holder.close();
    expect(err?.message).toMatch(/library\.sqlite is locked/);
  });
});
