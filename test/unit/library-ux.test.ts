// The Library's core side of issue 15: recordings without a stated duration get their real one,
// clips move between rooms (admin, audited), "re-anonymize the room" picks exactly the clips whose
// newest output another model made, and the audit log reads as sentences with today's names (a
// deleted clip's name from its entry, where it is kept sealed).
import path from 'node:path';

import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import type { ClipView } from '../../electron/contract.js';
import { describeAuditEntry, type AuditNames } from '../../electron/core/audit/audit-text.js';
import { applyRetention } from '../../electron/core/library/retention.js';
import { probeVideo } from '../../electron/core/media/video.js';
import { createCoreServices } from '../../electron/core/services.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo } from '../helpers/video.js';
import { makeStreamedWebm } from '../helpers/webm.js';

type Services = ReturnType<typeof createCoreServices>;
const open: Services[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

function services(role: 'admin' | 'operator' = 'admin'): Services {
  const s = createCoreServices({ dataDir: tmpDir('spact-library-ux-'), role });
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
let webm = '';
beforeAll(() => {
  const dir = tmpDir('spact-library-ux-src-');
  for (const [i, w] of [160, 176, 192, 208].entries())
    videos.push(makeVideo(path.join(dir, `Kitchen ${i + 1}.mp4`), { width: w, height: 120, seconds: 1 }));
  webm = makeStreamedWebm(path.join(dir, 'recording.webm'), { seconds: 3, fps: 10 });
});

describe('recordings without a stated duration', () => {
  it('probes the real duration and frame count of a streamed WebM', async () => {
    const info = await probeVideo(webm);
    expect(info.durationS).toBeCloseTo(3, 1);
    expect(info.frames).toBe(30);
    expect(info.fps).toBeCloseTo(10, 1);
  });

  it('shows it in the library after an import (through the sealed copy)', async () => {
    const s = services();
    const r = await call<{ imported: ClipView[] }>(s, 'clips.import', { paths: [webm] });
    expect(r.imported[0]!.durationS).toBeCloseTo(3, 1);
    expect((await call<ClipView[]>(s, 'clips.list', {}))[0]!.durationS).toBeCloseTo(3, 1);
  });
});

/** A model row and an output row written as the services would (no engine needed). */
function addModel(s: Services, name: string): number {
  return Number(
    s.core.db
      .prepare(`INSERT INTO models (name, checkpoint, sha256, created_at) VALUES (?, ?, ?, ?)`)
      .run(name, `/nowhere/${name}.pt`, `sha-${name}`, new Date().toISOString()).lastInsertRowid,
  );
}
function addOutput(s: Services, clipId: number, modelId: number): void {
  const file = path.join(s.core.dataDir, `out-${clipId}-${modelId}-${Math.random()}.mp4`);
  s.core.db
    .prepare(
      `INSERT INTO outputs (clip_id, model_id, path, sha256, settings, frames, fps, duration_s, created_at)
       VALUES (?, ?, ?, 'x', ?, 10, 10, 1, ?)`,
    )
    .run(clipId, modelId, file, JSON.stringify({ width: 160, height: 120, size: 120 }), new Date().toISOString());
}

describe('re-anonymize a room', () => {
  it('flags and picks exactly the clips whose newest output another model made', async () => {
    const s = services();
    const room = await call<{ id: number }>(s, 'rooms.create', { name: 'Kitchen' });
    const other = await call<{ id: number }>(s, 'rooms.create', { name: 'Hall' });
    const { imported } = await call<{ imported: ClipView[] }>(s, 'clips.import', { paths: videos, roomId: room.id });
    const [a, b, c, d] = imported.map((x) => x.id) as [number, number, number, number];
    const old = addModel(s, 'room 1 run 1');
    const current = addModel(s, 'room 1 run 2');
    await call(s, 'rooms.setModel', { roomId: room.id, modelId: current });
    addOutput(s, a, old); // outdated
    addOutput(s, b, old);
    addOutput(s, b, current); // newest is the current model: up to date
    addOutput(s, c, current);
    addOutput(s, c, old); // newest made by the old one again: outdated
    // d: never anonymized, nothing outdated. A clip of another room with an old output is not this room's.
    const { imported: hall } = await call<{ imported: ClipView[] }>(s, 'clips.import', {
      paths: [webm],
      roomId: other.id,
    });
    addOutput(s, hall[0]!.id, old);

    const listed = await call<ClipView[]>(s, 'clips.list', { roomId: room.id });
    expect(Object.fromEntries(listed.map((x) => [x.id, x.olderModel ?? null]))).toEqual({
      [a]: true,
      [b]: false,
      [c]: true,
      [d]: null,
    });

    expect(await refused(services('operator'), 'rooms.reanonymize', { roomId: room.id })).toBe('forbidden');
    const r = await call<{ modelId: number; clipIds: number[]; jobIds: number[] }>(s, 'rooms.reanonymize', {
      roomId: room.id,
    });
    expect(r.modelId).toBe(current);
    expect(r.clipIds).toEqual([a, c]);
    const queued = r.jobIds.map((id) => s.core.jobs.get(id)!.payload as { clipId: number; modelId: number });
    expect(queued.map((p) => [p.clipId, p.modelId])).toEqual([
      [a, current],
      [c, current],
    ]);
    // Asked again while those jobs wait: the same jobs, no second output.
    const again = await call<{ jobIds: number[] }>(s, 'rooms.reanonymize', { roomId: room.id });
    expect(again.jobIds).toEqual(r.jobIds);
  });
});

describe('moving clips and the audit log in words', () => {
  it('moves a clip to another room (admin only) and logs it, and its deletion, with names', async () => {
    const s = services();
    const kitchen = await call<{ id: number }>(s, 'rooms.create', { name: 'Kitchen' });
    const hall = await call<{ id: number }>(s, 'rooms.create', { name: 'Hall' });
    const { imported } = await call<{ imported: ClipView[] }>(s, 'clips.import', {
      paths: [videos[2]!],
      roomId: hall.id,
    });
    const clip = imported[0]!;
    s.session.switchTo('operator');
    expect(await refused(s, 'clips.move', { clipIds: [clip.id], roomId: kitchen.id })).toBe('forbidden');
    s.session.switchTo('admin');
    expect(await call(s, 'clips.move', { clipIds: [clip.id], roomId: kitchen.id })).toEqual({ moved: [clip.id] });
    expect((await call<ClipView[]>(s, 'clips.list', { roomId: kitchen.id })).map((c) => c.id)).toEqual([clip.id]);
    expect(await refused(s, 'clips.move', { clipIds: [clip.id], roomId: 999 })).toBe('not-found');
    await call(s, 'clips.delete', { id: clip.id });

    const log = await call<{ action: string; object: string; text: string; details: { name?: string } }[]>(
      s,
      'audit.list',
      {},
    );
    const text = (action: string) => log.find((e) => e.action === action)!.text;
    expect(text('clip-move')).toBe("Admin moved clip 'Kitchen 3.mp4' from room Hall to room Kitchen");
    expect(text('clip-delete')).toBe("Admin deleted clip 'Kitchen 3.mp4' (room Kitchen)");
    // The ids stay; the name is kept sealed in the entry, never in the clear.
    const del = log.find((e) => e.action === 'clip-delete')!;
    expect(del.object).toBe(`clip:${clip.id}`);
    expect(del.details.name).toMatch(/^sealed:/);
    expect(JSON.stringify(s.core.db.prepare(`SELECT details FROM audit_log`).all())).not.toContain('Kitchen 3');
  });
});

describe('retention in the audit log', () => {
  it('names the clip retention deleted', async () => {
    const s = services();
    const room = await call<{ id: number }>(s, 'rooms.create', { name: 'Kitchen' });
    await call(s, 'rooms.setRetention', { roomId: room.id, days: 1 });
    await call(s, 'clips.import', { paths: [videos[0]!], roomId: room.id });
    expect(applyRetention(s.core.library, s.core.audit, new Date(Date.now() + 2 * 86_400_000)).deleted).toHaveLength(1);
    const log = await call<{ action: string; text: string }[]>(s, 'audit.list', {});
    expect(log.find((e) => e.action === 'clip-expired')!.text).toBe(
      "Retention deleted clip 'Kitchen 1.mp4' (room Kitchen) after 1 day(s)",
    );
  });
});

describe('audit entries in words', () => {
  // Today's library: room 1 Kitchen, clip 7 in it, camera 3 Door, model 2; room 9 and clip 8 are gone.
  const names: AuditNames = {
    clip: (id) => (id === 7 ? { name: 'Frau Müller – Sturz', roomId: 1 } : null),
    room: (id) => (id === 1 ? 'Kitchen' : null),
    camera: (id) => (id === 3 ? 'Door' : null),
    model: (id) => (id === 2 ? 'room 1 run 4' : null),
    open: (sealed) => (sealed === 'sealed:kept' ? 'Kamera 2.mp4' : null),
  };
  const say = (action: string, object: string | null, details: unknown = null, actor = 'admin') =>
    describeAuditEntry({ id: 1, at: '', actor, action, object, details }, names);

  it('names clips, rooms, cameras and models as they are now, and what is gone by its kept name or id', () => {
    expect(say('raw-view', 'clip:7')).toBe("Admin viewed the raw video of clip 'Frau Müller – Sturz'");
    expect(say('raw-view', 'live:4', { cameraId: 3 })).toBe("Admin watched the raw live video of camera 'Door'");
    expect(say('raw-view-denied', 'clip:7', null, 'viewer')).toBe(
      "Viewer was refused the raw video of clip 'Frau Müller – Sturz'",
    );
    expect(say('clip-expired', 'clip:8', { name: 'sealed:kept', roomId: 9, days: 30 }, 'retention')).toBe(
      "Retention deleted clip 'Kamera 2.mp4' (room #9 (deleted)) after 30 day(s)",
    );
    // Entries from before names were kept: the id.
    expect(say('clip-delete', 'clip:8', { files: 2 }, 'operator')).toBe('Operator deleted clip #8 (no room)');
    expect(say('room-model', 'room:1', { modelId: 2 })).toBe(
      "Admin set the model of room Kitchen to model 'room 1 run 4'",
    );
    expect(say('room-model', 'room:1', { modelId: null })).toBe(
      'Admin set the model of room Kitchen to the default model',
    );
    expect(say('camera-delete', 'camera:5', { name: 'Hall cam', kind: 'rtsp' })).toBe(
      "Admin removed camera 'Hall cam'",
    );
    expect(say('export', 'export:2', { destination: '/srv/out', items: 1 })).toBe('Admin exported 1 clip to /srv/out');
    expect(say('role-switch', 'admin', { pin: true }, 'viewer')).toBe('Viewer signed in as admin with a PIN');
    // An action without words yet still says who did what to what.
    expect(say('something-new', 'clip:7')).toBe('Admin: something-new clip:7');
  });
});
