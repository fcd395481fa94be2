// Raw media and uploads: the role is checked before an upload's body is read; one raw view is one
// audit entry; a refused raw request is audited; a clip id that does not exist is no view.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ApiDispatcher } from '../../electron/core/api-dispatcher.js';
import { RAW_VIEW_IDLE_MS, RawViewLog } from '../../electron/core/audit/raw-view-log.js';
import { isSealedFile, SealedReader } from '../../electron/core/vault/sealed-file.js';
import { Vault, vaultById } from '../../electron/core/vault/vault.js';
import { BridgeServer } from '../../electron/core/bridge/bridge-server.js';
import { EventHub } from '../../electron/core/event-hub.js';
import { createCoreServices, type CoreServices } from '../../electron/core/services.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo } from '../helpers/video.js';

describe('raw views in the audit log', () => {
  let services: CoreServices;
  let clipId: number;
  const call = (m: string, req: unknown) => services.dispatcher.dispatch(m, req, { transport: 'bridge' });
  const entries = (action: string) => services.core.audit.entries(1000).filter((e) => e.action === action);

  beforeAll(async () => {
    const dir = tmpDir('spact-raw-');
    services = createCoreServices({ dataDir: dir, role: 'admin' });
    const clip = await services.core.library.importClip(makeVideo(path.join(dir, 'cam.mp4'), { seconds: 1 }));
    clipId = clip.id;
  });
  afterAll(() => services.close());

  it('logs one entry for a view: rawAccess and the playback requests that follow it', async () => {
    expect(await call('clips.rawAccess', { clipId })).toMatchObject({ ok: true });
    // A video element asks for the file several times (Range requests).
    for (let i = 0; i < 3; i++) expect((await services.resolveMedia('clip', clipId)).file).toMatch(/\.mp4\.sealed$/);
    expect(entries('raw-view')).toHaveLength(1);
    // The next rawAccess is the next view.
    await call('clips.rawAccess', { clipId });
    expect(entries('raw-view')).toHaveLength(2);
  });

  it('does not log a clip that does not exist as viewed', async () => {
    const before = entries('raw-view').length;
    await expect(services.resolveMedia('clip', 9999)).rejects.toMatchObject({ kind: 'not-found' });
    expect(await call('clips.rawAccess', { clipId: 9999 })).toMatchObject({ ok: false, error: { kind: 'not-found' } });
    expect(entries('raw-view')).toHaveLength(before);
  });

  it('logs a refused raw request, by media URL or API', async () => {
    await call('session.switch', { role: 'viewer' });
    await expect(services.resolveMedia('clip', clipId)).rejects.toMatchObject({ kind: 'forbidden' });
    expect(await call('clips.rawAccess', { clipId })).toMatchObject({ ok: false, error: { kind: 'forbidden' } });
    expect(entries('raw-view-denied').map((e) => [e.actor, e.object])).toEqual([
      ['viewer', `clip:${clipId}`],
      ['viewer', `clip:${clipId}`],
    ]);
    expect(services.uploadAllowed()).toBe(false);
    expect(entries('upload-denied')).toMatchObject([{ actor: 'viewer' }]);
    await call('session.switch', { role: 'operator' });
    expect(services.uploadAllowed()).toBe(true);
    expect(entries('upload-denied')).toHaveLength(1);
    await call('session.switch', { role: 'admin' });
  });

  it('starts a new view when a media request comes after the last one went idle', () => {
    const clock = { ms: 0 };
    const logged: number[] = [];
    const views = new RawViewLog(
      (id) => logged.push(id),
      () => clock.ms,
    );
    views.touch(1); // no rawAccess before it: this request is the view
    clock.ms += 1000;
    views.touch(1);
    views.touch(2);
    expect(logged).toEqual([1, 2]);
    clock.ms += RAW_VIEW_IDLE_MS + 1;
    views.touch(1);
    expect(logged).toEqual([1, 2, 1]);
  });
});

describe('upload refused before its body is read', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spact-upload-'));
  const staticDir = fs.mkdtempSync(path.join(os.tmpdir(), 'spact-static-'));
  let allowed = false;
  const handled: string[] = [];
  const received: { roomId: number | null; cameraId: number | null; sealed: boolean; plain: Buffer }[] = [];
  const vault = Vault.open(path.join(dir, 'vault'), { passphrase: 'upload test passphrase' });
  const bridge = new BridgeServer({
    dispatcher: new ApiDispatcher({}),
    events: new EventHub(),
    staticDir,
    upload: {
      dir,
      maxBytes: 4 * 2 ** 30,
      seal: vault,
      authorize: () => allowed,
      handle: async (tmp, name, roomId, cameraId) => {
        handled.push(name);
        const parts: Buffer[] = [];
        for await (const p of new SealedReader(tmp, vaultById).range()) parts.push(p);
        received.push({ roomId, cameraId, sealed: isSealedFile(tmp), plain: Buffer.concat(parts) });
        return { size: Buffer.concat(parts).length };
      },
    },
  });
  beforeAll(() => bridge.start());
  afterAll(() => bridge.stop());

  /** Declares a big body (1 GiB), sends 64 KiB of it and waits for an answer without ending it. */
  function bigUpload(declared = 2 ** 30): Promise<{ status: number; body: string; sent: number }> {
    return new Promise((resolve, reject) => {
      let sent = 0;
      const req = http.request(
        {
          host: '127.0.0.1',
          port: bridge.port,
          path: '/upload?name=big.mp4',
          method: 'POST',
          headers: { Authorization: `Bearer ${bridge.token}`, 'Content-Length': String(declared) },
        },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sent }));
        },
      );
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 1);
      req.write(chunk, () => (sent += chunk.length));
      setTimeout(() => reject(new Error('no answer while the body was still being sent')), 10_000).unref();
    });
  }

  it('answers 403 without waiting for the body, and writes nothing to disk', async () => {
    const r = await bigUpload();
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ ok: false, error: { kind: 'forbidden' } });
    expect(r.sent).toBeLessThanOrEqual(64 * 1024);
    expect(handled).toEqual([]);
    expect(fs.readdirSync(dir)).toEqual(['vault']);
  });

  it('refuses a body declared larger than the limit before reading it, even for an allowed role', async () => {
    allowed = true;
    const r = await bigUpload(5 * 2 ** 30);
    expect(r.status).toBe(413);
    expect(r.sent).toBeLessThanOrEqual(64 * 1024);
    expect(handled).toEqual([]);
    expect(fs.readdirSync(dir)).toEqual(['vault']);
  });

  it('reads the body when the role allows it, sealed as it arrives, with its room and camera', async () => {
    allowed = true;
    const body = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31) % 253));
    const res = await fetch(`${bridge.origin}/upload?name=ok.mp4&roomId=3&cameraId=7`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${bridge.token}` },
      body,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, value: { size: body.length } });
    expect(handled).toEqual(['ok.mp4']);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ roomId: 3, cameraId: 7, sealed: true });
    expect(received[0]!.plain.equals(body)).toBe(true);
  });
});
