// Deletion that deletes, and retention (issue 14, items 3 and 4): deleting a clip removes its raw
// copy, outputs, thumbnails and the cached frames of its room's runs — an exported clip too (the
// export history keeps its manifest, the exported files are the user's); deleting a room removes
// everything of it; runs keep cached frames only while resumable; rooms delete raw clips N days
// after import (start-up and daily), audited; `rooms.rawData` and `spact raw-data` list where raw
// data lives. Real files in a temporary data folder; after each deletion no file under the data
// folder holds a byte sequence of the clip's raw file or of its cached frames.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { methods, type RawDataView, type RoomView } from '../../electron/contract.js';
import { openDatabase, type Db } from '../../electron/core/db/database.js';
import { applyRetention } from '../../electron/core/library/retention.js';
import { createCoreServices, JOB_START_DELAY_MS } from '../../electron/core/services.js';
import { spact } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo, tinyModel } from '../helpers/video.js';

type Services = ReturnType<typeof createCoreServices>;
const open: Services[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

function services(dataDir: string, role: 'admin' | 'operator' | 'viewer' = 'admin'): Services {
  const s = createCoreServices({ dataDir, role });
  open.push(s);
  return s;
}

async function call<T>(s: Services, method: string, req: unknown): Promise<T> {
  const r = await s.dispatcher.dispatch(method, req, { transport: 'bridge' });
  if (!r.ok) throw new Error(`${method}: ${r.error.kind}: ${r.error.message}`);
  return r.value as T;
}

async function refused(s: Services, method: string, req: unknown): Promise<string> {
  const r = await s.dispatcher.dispatch(method, req, { transport: 'bridge' });
  if (r.ok) throw new Error(`${method} was not refused`);
  return r.error.kind;
}

const videos: string[] = [];
beforeAll(() => {
  const dir = tmpDir('spact-raw-src-');
  // Different sizes: different bytes, so each clip has its own raw copy.
  for (const [i, w] of [160, 176, 192, 208].entries())
    videos.push(makeVideo(path.join(dir, `cam-${i}.mp4`), { width: w, height: 120, seconds: 1 }));
});

/** Every file under a folder. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** The files under the data folder that contain `needle`. */
function holding(dataDir: string, needle: Buffer): string[] {
  return filesUnder(dataDir).filter((f) => fs.readFileSync(f).includes(needle));
}

/** 4 KiB from the middle of a file: a byte sequence only copies of it hold. */
function needleOf(file: string): Buffer {
  const b = fs.readFileSync(file);
  const at = Math.max(0, Math.floor(b.length / 2) - 2048);
  return Buffer.from(b.subarray(at, at + 4096));
}

/** An output of a clip (a file in outputs/, its row, a thumbnail) as anonymize would leave it. */
function addOutput(db: Db, dataDir: string, clipId: number): { id: number; file: string; thumb: string } {
  const t = new Date().toISOString();
  const modelId = Number(
    db
      .prepare(`INSERT INTO models (name, checkpoint, sha256, created_at) VALUES ('m', '/nowhere/checkpoint.pt', ?, ?)`)
      .run(crypto.randomUUID(), t).lastInsertRowid,
  );
  const bytes = crypto.randomBytes(8192);
  const file = path.join(dataDir, 'outputs', `out-${crypto.randomUUID()}.mp4`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  const sha = crypto.createHash('sha256').update(bytes).digest('hex');
  const settings = {
    size: 112,
    batch: 8,
    keepAudio: false,
    width: 112,
    height: 112,
    outputWidth: 112,
    outputHeight: 112,
    outputSize: 'working',
  };
  const id = Number(
    db
      .prepare(
        `INSERT INTO outputs (clip_id, model_id, path, sha256, settings, frames, fps, duration_s, created_at)
         VALUES (?, ?, ?, ?, ?, 10, 10, 1, ?)`,
      )
      .run(clipId, modelId, file, sha, JSON.stringify(settings), t).lastInsertRowid,
  );
  const thumb = path.join(dataDir, 'thumbs', `output-${id}-${sha.slice(0, 8)}.jpg`);
  fs.mkdirSync(path.dirname(thumb), { recursive: true });
  fs.writeFileSync(thumb, crypto.randomBytes(512));
  return { id, file, thumb };
}

/** A fine-tune run of a room with cached frames (frames.u8) and its manifest, in a given state. */
function addRun(
  db: Db,
  dataDir: string,
  roomId: number | null,
  status: 'queued' | 'running' | 'done' | 'failed' | 'cancelled',
  o: { checkpoint?: boolean; frames?: Buffer } = {},
): { id: number; frames: string; manifest: string; needle: Buffer } {
  const id = Number(
    db
      .prepare(
        `INSERT INTO runs (kind, room_id, config, status, run_dir, created_at) VALUES ('finetune', ?, '{}', ?, '', ?)`,
      )
      .run(roomId, status, new Date().toISOString()).lastInsertRowid,
  );
  const dir = path.join(dataDir, 'runs', `run-${id}`);
  db.prepare(`UPDATE runs SET run_dir = ? WHERE id = ?`).run(dir, id);
  fs.mkdirSync(path.join(dir, 'footage-data'), { recursive: true });
  const frames = path.join(dir, 'footage-data', 'frames.u8');
  const bytes = o.frames ?? crypto.randomBytes(16384);
  fs.writeFileSync(frames, bytes);
  const manifest = path.join(dir, 'footage-data', 'room.json');
  fs.writeFileSync(manifest, JSON.stringify({ format: 'spact-room-v1', frames: 4 }));
  if (o.checkpoint) fs.writeFileSync(path.join(dir, 'checkpoint.pt'), 'stand-in');
  return { id, frames, manifest, needle: Buffer.from(bytes.subarray(4096, 8192)) };
}

describe('deleting a clip deletes its raw data', () => {
  it('removes an exported clip: raw copy, outputs, thumbnails, cached frames; the export keeps its manifest', async () => {
    const dataDir = tmpDir('spact-delete-clip-');
    const s = services(dataDir, 'operator');
    const room = await call<RoomView>(s, 'rooms.create', { name: 'Ward' });
    const { imported } = await call<{ imported: { id: number }[] }>(s, 'clips.import', {
      paths: [videos[0], videos[1]],
      roomId: room.id,
    });
    const [clip, other] = imported.map((c) => s.core.library.clip(c.id));
    const rawNeedle = needleOf(clip!.path);
    expect(holding(dataDir, rawNeedle)).toEqual([clip!.path]);
    const db = s.core.db;
    const out = addOutput(db, dataDir, clip!.id);
    const otherOut = addOutput(db, dataDir, other!.id);
    // Exported: the history holds a manifest (hashes, sizes), the exported file is in the user's folder.
    const exportDir = tmpDir('spact-export-dest-');
    const exported = path.join(exportDir, 'clip-0001-aaaaaaaa.mp4');
    fs.copyFileSync(out.file, exported);
    const manifest = JSON.stringify({
      format: 'spact-export',
      version: 1,
      items: [{ file: 'clip-0001-aaaaaaaa.mp4' }],
    });
    const exp = Number(
      db
        .prepare(
          `INSERT INTO exports (destination, manifest, items, actor, created_at) VALUES (?, ?, 2, 'operator', ?)`,
        )
        .run(exportDir, manifest, new Date().toISOString()).lastInsertRowid,
    );
    db.prepare(`INSERT INTO export_items (export_id, output_id) VALUES (?, ?), (?, ?)`).run(
      exp,
      out.id,
      exp,
      otherOut.id,
    );
    // Runs of the room: an ended one (resumable or not) mixes this clip's frames; a running one ends by itself.
    const ended = addRun(db, dataDir, room.id, 'failed', { checkpoint: true });
    const running = addRun(db, dataDir, room.id, 'running');

    expect(await call(s, 'clips.delete', { id: clip!.id })).toEqual({ deleted: clip!.id });

    expect(fs.existsSync(clip!.path)).toBe(false);
    expect(fs.existsSync(out.file)).toBe(false);
    expect(fs.existsSync(out.thumb)).toBe(false);
    expect(fs.existsSync(ended.frames)).toBe(false);
    expect(fs.existsSync(ended.manifest)).toBe(true); // the run's record, no pixels
    expect(fs.existsSync(running.frames)).toBe(true);
    // The ended run cannot be resumed without its frames, and says so.
    expect(await refused(s, 'runs.resume', { runId: ended.id })).toBe('conflict');
    expect(holding(dataDir, rawNeedle)).toEqual([]);
    expect(holding(dataDir, ended.needle)).toEqual([]);
    // The export history and the user's exported file stay; only the link to the gone output goes.
    expect(db.prepare(`SELECT manifest, items FROM exports WHERE id = ?`).get(exp)).toEqual({ manifest, items: 2 });
    expect(db.prepare(`SELECT output_id FROM export_items WHERE export_id = ?`).all(exp)).toEqual([
      { output_id: otherOut.id },
    ]);
    expect(fs.existsSync(exported)).toBe(true);
    // The other clip of the room is untouched.
    expect(fs.existsSync(other!.path)).toBe(true);
    expect(fs.existsSync(otherOut.file)).toBe(true);
    expect(fs.existsSync(otherOut.thumb)).toBe(true);
    const entry = s.core.audit.entries().find((e) => e.action === 'clip-delete');
    expect(entry).toMatchObject({ actor: 'operator', object: `clip:${clip!.id}`, details: { files: 4 } });
    // A viewer cannot delete.
    await call(s, 'session.switch', { role: 'viewer' });
    expect(await refused(s, 'clips.delete', { id: other!.id })).toBe('forbidden');
  }, 60_000);

  it('stops the running anonymize job of the clip first: no output of a gone clip is written', async () => {
    const dataDir = tmpDir('spact-delete-busy-');
    const s = services(dataDir, 'operator');
    const long = makeVideo(path.join(tmpDir('spact-busy-src-'), 'long.mp4'), { width: 320, height: 240, seconds: 30 });
    const { imported } = await call<{ imported: { id: number }[] }>(s, 'clips.import', { paths: [long] });
    const clipId = imported[0]!.id;
    const model = s.core.resolveModel(await tinyModel());
    const { jobIds } = await call<{ jobIds: number[] }>(s, 'clips.anonymize', { clipIds: [clipId], modelId: model.id });
    const jobId = jobIds[0]!;
    for (let i = 0; i < 1000 && s.core.jobs.get(jobId).status !== 'running'; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(s.core.jobs.get(jobId).status).toBe('running');
    await call(s, 'clips.delete', { id: clipId });
    expect(s.core.jobs.get(jobId).status).toBe('cancelled');
    expect(s.core.db.prepare(`SELECT COUNT(*) AS n FROM outputs`).get()).toEqual({ n: 0 });
    const outputs = path.join(dataDir, 'outputs');
    expect(fs.existsSync(outputs) ? fs.readdirSync(outputs) : []).toEqual([]);
    expect(fs.readdirSync(path.join(dataDir, 'clips'))).toEqual([]);
  }, 60_000);

  it('deletes a room and everything of it; refused while one of its runs is running', async () => {
    const dataDir = tmpDir('spact-delete-room-');
    const s = services(dataDir, 'operator');
    const room = await call<RoomView>(s, 'rooms.create', { name: 'Home' });
    const keep = await call<RoomView>(s, 'rooms.create', { name: 'Kitchen' });
    const a = await call<{ imported: { id: number }[] }>(s, 'clips.import', {
      paths: [videos[0], videos[1]],
      roomId: room.id,
    });
    const b = await call<{ imported: { id: number }[] }>(s, 'clips.import', { paths: [videos[2]], roomId: keep.id });
    const clips = a.imported.map((c) => s.core.library.clip(c.id));
    const kept = s.core.library.clip(b.imported[0]!.id);
    const needles = clips.map((c) => needleOf(c.path));
    const outs = clips.map((c) => addOutput(s.core.db, dataDir, c.id));
    const keptOut = addOutput(s.core.db, dataDir, kept.id);
    const done = addRun(s.core.db, dataDir, room.id, 'done');
    const resumable = addRun(s.core.db, dataDir, room.id, 'cancelled', { checkpoint: true });
    const otherRoomRun = addRun(s.core.db, dataDir, keep.id, 'failed', { checkpoint: true });
    const running = addRun(s.core.db, dataDir, room.id, 'running');

    expect(await refused(s, 'rooms.delete', { roomId: room.id })).toBe('conflict');
    s.core.db.prepare(`UPDATE runs SET status = 'cancelled' WHERE id = ?`).run(running.id);
    await call(s, 'session.switch', { role: 'viewer' });
    expect(await refused(s, 'rooms.delete', { roomId: room.id })).toBe('forbidden');
    await call(s, 'session.switch', { role: 'operator' });

    const res = await call<{ deleted: number; clips: number[]; files: number; bytes: number }>(s, 'rooms.delete', {
      roomId: room.id,
    });
    expect(methods['rooms.delete'].response.parse(res)).toEqual(res);
    expect(res).toMatchObject({ deleted: room.id, clips: clips.map((c) => c.id) });
    expect(res.bytes).toBeGreaterThan(0);
    expect((await call<RoomView[]>(s, 'rooms.list', {})).map((r) => r.name)).toEqual(['Kitchen']);
    for (const c of clips) expect(fs.existsSync(c.path)).toBe(false);
    for (const o of outs) expect([fs.existsSync(o.file), fs.existsSync(o.thumb)]).toEqual([false, false]);
    for (const r of [done, resumable, running]) expect(fs.existsSync(r.frames)).toBe(false);
    for (const n of [...needles, done.needle, resumable.needle, running.needle])
      expect(holding(dataDir, n)).toEqual([]);
    // The other room keeps everything.
    expect(fs.existsSync(kept.path)).toBe(true);
    expect(fs.existsSync(keptOut.file)).toBe(true);
    expect(fs.existsSync(otherRoomRun.frames)).toBe(true);
    expect(s.core.audit.entries().find((e) => e.action === 'room-delete')).toMatchObject({
      object: `room:${room.id}`,
      details: { clips: clips.map((c) => c.id) },
    });
  }, 60_000);
});

describe('cached frames of fine-tune runs', () => {
  it('are kept only while a run can be resumed (swept at start-up)', async () => {
    const dataDir = tmpDir('spact-run-frames-');
    let s = services(dataDir, 'operator');
    const room = await call<RoomView>(s, 'rooms.create', { name: 'Lab' });
    const db = s.core.db;
    const done = addRun(db, dataDir, room.id, 'done');
    const failedNoCkpt = addRun(db, dataDir, room.id, 'failed');
    const cancelledNoCkpt = addRun(db, dataDir, room.id, 'cancelled');
    const failedCkpt = addRun(db, dataDir, room.id, 'failed', { checkpoint: true });
    const cancelledCkpt = addRun(db, dataDir, room.id, 'cancelled', { checkpoint: true });
    const roomless = addRun(db, dataDir, null, 'failed', { checkpoint: true });
    await s.close();
    open.splice(0);
    s = services(dataDir, 'operator');
    for (const r of [done, failedNoCkpt, cancelledNoCkpt, roomless]) {
      expect(fs.existsSync(r.frames)).toBe(false);
      expect(fs.existsSync(r.manifest)).toBe(true);
    }
    for (const r of [failedCkpt, cancelledCkpt]) expect(fs.existsSync(r.frames)).toBe(true);
  }, 60_000);
});

describe('retention per room', () => {
  it('deletes raw clips N days after import (fake clock), with their cached frames, audited; off by default', async () => {
    const dataDir = tmpDir('spact-retention-');
    const s = services(dataDir, 'admin');
    const room = await call<RoomView>(s, 'rooms.create', { name: 'Bedroom' });
    const off = await call<RoomView>(s, 'rooms.create', { name: 'Hall' });
    expect(room.retentionDays).toBeNull();
    const a = await call<{ imported: { id: number }[] }>(s, 'clips.import', {
      paths: [videos[0], videos[1]],
      roomId: room.id,
    });
    const b = await call<{ imported: { id: number }[] }>(s, 'clips.import', { paths: [videos[2]], roomId: off.id });
    const [oldClip, newClip] = a.imported.map((c) => s.core.library.clip(c.id));
    const hallClip = s.core.library.clip(b.imported[0]!.id);
    const oldNeedle = needleOf(oldClip!.path);
    const oldOut = addOutput(s.core.db, dataDir, oldClip!.id);
    const run = addRun(s.core.db, dataDir, room.id, 'failed', { checkpoint: true });
    const now = new Date('2030-06-15T12:00:00.000Z');
    const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000).toISOString();
    const setImported = (id: number, at: string) =>
      s.core.db.prepare(`UPDATE clips SET imported_at = ? WHERE id = ?`).run(at, id);
    setImported(oldClip!.id, daysAgo(10));
    setImported(newClip!.id, daysAgo(3));
    setImported(hallClip.id, daysAgo(400));

    // Off by default: nothing expires.
    expect(applyRetention(s.core.library, s.core.audit, now).deleted).toEqual([]);

    // Set by admins only.
    await call(s, 'session.switch', { role: 'operator' });
    expect(await refused(s, 'rooms.setRetention', { roomId: room.id, days: 7 })).toBe('forbidden');
    await call(s, 'session.switch', { role: 'admin' });
    expect(await refused(s, 'rooms.setRetention', { roomId: room.id, days: 0 })).toBe('validation');
    const set = await call<RoomView>(s, 'rooms.setRetention', { roomId: room.id, days: 7 });
    expect(methods['rooms.setRetention'].response.parse(set)).toEqual(set);
    expect(set.retentionDays).toBe(7);

    const result = applyRetention(s.core.library, s.core.audit, now);
    expect(result.deleted.map((d) => d.clipId)).toEqual([oldClip!.id]);
    expect(fs.existsSync(oldClip!.path)).toBe(false);
    expect(fs.existsSync(oldOut.file)).toBe(false); // an output cannot outlive its clip (outputs.clip_id)
    expect(fs.existsSync(run.frames)).toBe(false);
    expect(holding(dataDir, oldNeedle)).toEqual([]);
    expect(holding(dataDir, run.needle)).toEqual([]);
    expect(fs.existsSync(newClip!.path)).toBe(true);
    expect(fs.existsSync(hallClip.path)).toBe(true); // retention off in the hall
    const entry = s.core.audit.entries().find((e) => e.action === 'clip-expired');
    expect(entry).toMatchObject({ actor: 'retention', object: `clip:${oldClip!.id}`, details: { days: 7 } });
    // Idempotent: the next day's pass finds nothing more until the newer clip's time comes.
    expect(applyRetention(s.core.library, s.core.audit, now).deleted).toEqual([]);
    expect(applyRetention(s.core.library, s.core.audit, new Date(now.getTime() + 4 * 86_400_000)).deleted).toHaveLength(
      1,
    );
    expect(fs.existsSync(newClip!.path)).toBe(false);
  }, 60_000);

  it('is applied a moment after start-up', async () => {
    const dataDir = tmpDir('spact-retention-start-');
    let s = services(dataDir, 'admin');
    const room = await call<RoomView>(s, 'rooms.create', { name: 'Ward' });
    const { imported } = await call<{ imported: { id: number }[] }>(s, 'clips.import', {
      paths: [videos[3]],
      roomId: room.id,
    });
    const clip = s.core.library.clip(imported[0]!.id);
    await call(s, 'rooms.setRetention', { roomId: room.id, days: 30 });
    await s.close();
    open.splice(0);
    const db = openDatabase(path.join(dataDir, 'library.sqlite'));
    db.prepare(`UPDATE clips SET imported_at = ? WHERE id = ?`).run(
      new Date(Date.now() - 31 * 86_400_000).toISOString(),
      clip.id,
    );
    db.close();
    s = services(dataDir, 'viewer');
    expect(fs.existsSync(clip.path)).toBe(true); // start-up does not wait for it
    for (let i = 0; i < 100 && fs.existsSync(clip.path); i++)
      await new Promise((r) => setTimeout(r, JOB_START_DELAY_MS / 3));
    expect(fs.existsSync(clip.path)).toBe(false);
    expect(s.core.library.clips()).toEqual([]);
    expect(s.core.audit.entries().some((e) => e.action === 'clip-expired' && e.object === `clip:${clip.id}`)).toBe(
      true,
    );
  }, 60_000);
});

describe('where raw data lives', () => {
  it('rooms.rawData (admin only) and `spact raw-data` list clip files and cached frames with sizes and ages', async () => {
    const dataDir = tmpDir('spact-raw-data-');
    const s = services(dataDir, 'admin');
    const room = await call<RoomView>(s, 'rooms.create', { name: 'Ward' });
    const { imported } = await call<{ imported: { id: number }[] }>(s, 'clips.import', {
      paths: [videos[0]],
      roomId: room.id,
    });
    const clip = s.core.library.clip(imported[0]!.id);
    const run = addRun(s.core.db, dataDir, room.id, 'failed', { checkpoint: true });
    const view = await call<RawDataView>(s, 'rooms.rawData', { roomId: room.id });
    expect(methods['rooms.rawData'].response.parse(view)).toEqual(view);
    // Bytes on disk: the sealed copy is the clip plus its header and chunk tags.
    const onDisk = fs.statSync(clip.path).size;
    expect(onDisk).toBeGreaterThan(clip.sizeBytes);
    expect(view.entries).toEqual([
      expect.objectContaining({ kind: 'clip', clipId: clip.id, path: clip.path, files: 1, bytes: onDisk }),
      expect.objectContaining({ kind: 'run-frames', runId: run.id, files: 1, bytes: 16384 }),
    ]);
    expect(view.totalBytes).toBe(onDisk + 16384);
    await call(s, 'session.switch', { role: 'operator' });
    expect(await refused(s, 'rooms.rawData', { roomId: room.id })).toBe('forbidden');
    await s.close();
    open.splice(0);

    const r = await spact(['raw-data', '--room', String(room.id), '--data-dir', dataDir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { roomId: number; entries: unknown[]; totalBytes: number }[];
    expect(report).toHaveLength(1);
    expect(report[0]).toMatchObject({
      roomId: room.id,
      name: 'Ward',
      retentionDays: null,
      totalBytes: view.totalBytes,
    });
    const text = await spact(['raw-data', '--data-dir', dataDir]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/room \d+ Ward: .* of raw data, retention off/);
    expect(text.stdout).toContain(`run ${run.id} cached frames`);
  }, 60_000);
});
