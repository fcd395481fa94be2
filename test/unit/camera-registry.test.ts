// The camera registry with privacy masks (issue 14, item 5): admins register cameras, every role
// lists them without credentials, live opens registered cameras only (no path or URL is taken any
// more), a stream URL's password is sealed in the database and in no response, event or audit
// entry, and a camera's privacy masks are burned into the raw frames before anything sees them:
// the stored copy of an imported clip, its anonymized output, and the live view (raw and
// anonymized). The proof that no masked pixel reaches an output is twofold: the masked region is
// black, and two sources that differ only inside the mask give the same stored clip, the same
// anonymized output and the same live frames.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { methods, type CameraView, type ClipView, type EventName } from '../../electron/contract.js';
import { DEFAULT_SETTINGS } from '../../electron/core/anonymize/anonymize-service.js';
import { applyMasks, maskSpans, validateMasks, type MaskPolygon } from '../../electron/core/cameras/masks.js';
import { ffmpegPath } from '../../electron/core/media/ffmpeg.js';
import { decodeFrames, probeVideo, workingSize } from '../../electron/core/media/video.js';
import { createCoreServices } from '../../electron/core/services.js';
import { isSealedFile } from '../../electron/core/vault/sealed-file.js';
import { spactSync } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo, tinyModel } from '../helpers/video.js';

type Services = ReturnType<typeof createCoreServices>;

const PASSWORD = 'Pw-7d3f91-Zq';
const TOKEN = 'tok-55aa21c9';
const STREAM_URL = `rtsp://admin:${PASSWORD}@127.0.0.1:9/ward-3?token=${TOKEN}`;

/** A quadrilateral over the right half of the frame (normalized coordinates). */
const MASK: MaskPolygon = [
  [0.5, 0.1],
  [0.95, 0.2],
  [0.9, 0.8],
  [0.55, 0.7],
];
/** A box strictly inside MASK on a 160×120 frame, where the two sources differ. */
const BOX = { x: 96, y: 36, w: 40, h: 36 };

/** Ray casting at a pixel centre: an implementation independent of masks.ts. */
function inside(poly: MaskPolygon, x: number, y: number): boolean {
  let c = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i]!;
    const [xj, yj] = poly[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}

/** Distance from a point to the polygon's outline (pixels of a w×h frame). */
function edgeDistance(poly: MaskPolygon, x: number, y: number, w: number, h: number): number {
  let best = Infinity;
  for (let i = 0; i < poly.length; i++) {
    const [ax, ay] = [poly[i]![0] * w, poly[i]![1] * h];
    const [bx, by] = [poly[(i + 1) % poly.length]![0] * w, poly[(i + 1) % poly.length]![1] * h];
    const t = Math.max(
      0,
      Math.min(1, ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)),
    );
    best = Math.min(best, Math.hypot(x - (ax + t * (bx - ax)), y - (ay + t * (by - ay))));
  }
  return best;
}

/** The brightest channel value inside the mask (farther than `border` px from its edge), and the
 *  mean value outside it, over frames [n, h, w, 3]. */
function regionStats(
  frames: Uint8Array,
  w: number,
  h: number,
  border: number,
): { insideMax: number; outsideMean: number; insidePixels: number } {
  const n = frames.length / (w * h * 3);
  let insideMax = 0;
  let insidePixels = 0;
  let outSum = 0;
  let outCount = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const cx = (x + 0.5) / w;
      const cy = (y + 0.5) / h;
      const isIn = inside(MASK, cx, cy);
      const far = edgeDistance(MASK, x + 0.5, y + 0.5, w, h) > border;
      if (!far) continue;
      for (let f = 0; f < n; f++) {
        const at = ((f * h + y) * w + x) * 3;
        if (isIn) {
          insideMax = Math.max(insideMax, frames[at]!, frames[at + 1]!, frames[at + 2]!);
          insidePixels++;
        } else {
          outSum += frames[at]! + frames[at + 1]! + frames[at + 2]!;
          outCount += 3;
        }
      }
    }
  return { insideMax, outsideMean: outSum / Math.max(1, outCount), insidePixels };
}

async function decodeAll(file: string, width: number, height: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of decodeFrames(file, { width, height, fps: 10, batch: 8 })) parts.push(Buffer.from(b.frames));
  return Buffer.concat(parts);
}

/** A lossless 160×120 test pattern with a filled box of `colour` inside the mask (4:4:4, qp 0:
 *  pixels outside the box decode identically whatever the box holds). */
function source(file: string, colour: string): string {
  const r = spawnSync(
    ffmpegPath(),
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      `testsrc=size=160x120:rate=10:duration=2,drawbox=x=${BOX.x}:y=${BOX.y}:w=${BOX.w}:h=${BOX.h}:color=${colour}:t=fill`,
      '-c:v',
      'libx264',
      '-qp',
      '0',
      '-pix_fmt',
      'yuv444p',
      '-y',
      file,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return file;
}

let s: Services;
let dataDir = '';
let srcA = '';
let srcB = '';
/** Every response and event, as JSON: no credential may appear in any of them. */
const seen: string[] = [];
const events: { event: EventName; payload: unknown }[] = [];

async function dispatch(method: string, req: unknown) {
  const r = await s.dispatcher.dispatch(method, req, { transport: 'bridge' });
  seen.push(JSON.stringify(r));
  return r;
}
async function call<T>(method: string, req: unknown): Promise<T> {
  const r = await dispatch(method, req);
  if (!r.ok) throw new Error(`${method}: ${r.error.kind}: ${r.error.message}`);
  // Every response is what the contract says.
  methods[method as keyof typeof methods].response.parse(r.value);
  return r.value as T;
}
async function refused(method: string, req: unknown): Promise<string> {
  const r = await dispatch(method, req);
  if (r.ok) throw new Error(`${method} was not refused`);
  return r.error.kind;
}
const asRole = (role: 'admin' | 'operator' | 'viewer') => call('session.switch', { role });

/** Runs a live stream to its end; its frames and its end event. */
async function liveRun(req: Record<string, unknown>) {
  const frames: { anonymized: Buffer; raw: Buffer | null; width: number; height: number }[] = [];
  let streamId = 0;
  const ended = new Promise<string | null>((resolve) => {
    const off = s.events.subscribe((event, payload) => {
      const p = payload as {
        streamId: number;
        error?: string | null;
        anonymized?: Uint8Array;
        raw?: Uint8Array;
        width?: number;
        height?: number;
      };
      if (event === 'live.frame' && p.streamId === streamId)
        frames.push({
          anonymized: Buffer.from(p.anonymized!),
          raw: p.raw ? Buffer.from(p.raw) : null,
          width: p.width!,
          height: p.height!,
        });
      if (event === 'live.ended' && p.streamId === streamId) {
        off();
        resolve(p.error ?? null);
      }
    });
  });
  streamId = (await call<{ streamId: number }>('live.start', req)).streamId;
  return { streamId, error: await ended, frames };
}

beforeAll(async () => {
  dataDir = tmpDir('spact-cameras-');
  const dir = tmpDir('spact-cameras-src-');
  srcA = source(path.join(dir, 'bathroom-door-a.mp4'), 'yellow');
  srcB = source(path.join(dir, 'bathroom-door-b.mp4'), 'white');
  s = createCoreServices({ dataDir, role: 'admin' });
  s.events.subscribe((event, payload) => {
    events.push({ event, payload });
    seen.push(JSON.stringify(payload));
  });
});

afterAll(async () => {
  await s?.close();
});

describe('privacy masks: the fill', () => {
  it('covers the pixels whose centres lie inside (even-odd), leaves the notch of a concave polygon', () => {
    // A square over [0.25, 0.75]² of an 8×8 frame: pixel centres 2.5…5.5 are inside.
    const square: MaskPolygon = [
      [0.25, 0.25],
      [0.75, 0.25],
      [0.75, 0.75],
      [0.25, 0.75],
    ];
    const spans = maskSpans([square], 8, 8);
    expect(spans.map((r) => [...r])).toEqual([[], [], [2, 6], [2, 6], [2, 6], [2, 6], [], []]);
    // An L: the top-right quarter of its bounding box stays open.
    const ell: MaskPolygon = [
      [0, 0],
      [0.5, 0],
      [0.5, 0.5],
      [1, 0.5],
      [1, 1],
      [0, 1],
    ];
    const frame = new Uint8Array(8 * 8 * 3).fill(200);
    applyMasks(frame, 1, 8, 8, [ell]);
    const px = (x: number, y: number) => frame[(y * 8 + x) * 3]!;
    expect([px(1, 1), px(6, 1), px(6, 6), px(1, 6)]).toEqual([0, 200, 0, 0]);
    // Every pixel agrees with an independent point-in-polygon test.
    for (let y = 0; y < 8; y++)
      for (let x = 0; x < 8; x++)
        expect([x, y, px(x, y)]).toEqual([x, y, inside(ell, (x + 0.5) / 8, (y + 0.5) / 8) ? 0 : 200]);
  });

  it('holds polygons to 3–64 points in [0, 1], at most 16', () => {
    expect(() =>
      validateMasks([
        [
          [0, 0],
          [1, 1],
        ],
      ]),
    ).toThrow(/3–64 points/);
    expect(() =>
      validateMasks([
        [
          [0, 0],
          [1, 1],
          [1.5, 0],
        ],
      ]),
    ).toThrow(/from 0 to 1/);
    expect(() => validateMasks(Array.from({ length: 17 }, () => MASK))).toThrow(/at most 16/);
    expect(validateMasks([MASK])).toEqual([MASK]);
  });
});

describe('camera registry: roles, credentials, live opens registered cameras only', () => {
  let rtsp: CameraView;
  let file: CameraView;

  it('admins register cameras; views carry no credentials and no path', async () => {
    rtsp = await call<CameraView>('cameras.create', { name: 'Ward 3', kind: 'rtsp', source: STREAM_URL });
    expect(rtsp).toMatchObject({ kind: 'rtsp', source: 'rtsp://127.0.0.1:9/ward-3', hasCredentials: true, masks: [] });
    file = await call<CameraView>('cameras.create', { name: 'Door', kind: 'file', source: srcA, masks: [MASK] });
    expect(file.source).toBe('bathroom-door-a.mp4');
    expect(file.masksHash).toMatch(/^[0-9a-f]{64}$/);
    // Sources that do not fit their kind, and masks out of bounds, are refused.
    expect(await refused('cameras.create', { name: 'x', kind: 'rtsp', source: 'file:///etc/passwd' })).toBe(
      'validation',
    );
    expect(await refused('cameras.create', { name: 'x', kind: 'file', source: 'relative.mp4' })).toBe('validation');
    expect(await refused('cameras.create', { name: 'x', kind: 'file', source: '/no/such/file.mp4' })).toBe('not-found');
    const bad = { name: 'x', kind: 'http', source: 'http://127.0.0.1:9/' };
    expect(
      await refused('cameras.create', {
        ...bad,
        masks: [
          [
            [0, 0],
            [1, 1],
          ],
        ],
      }),
    ).toBe('validation');
    expect(
      await refused('cameras.create', {
        ...bad,
        masks: [
          [
            [0, 0],
            [1, 1],
            [1.2, 0],
          ],
        ],
      }),
    ).toBe('validation');
    expect(await refused('cameras.create', { ...bad, masks: Array.from({ length: 17 }, () => MASK) })).toBe(
      'validation',
    );
    const listed = await call<CameraView[]>('cameras.list', {});
    expect(listed.map((c) => c.id)).toEqual([rtsp.id, file.id]);
  });

  for (const role of ['viewer', 'operator'] as const) {
    it(`a ${role} lists cameras but cannot create, change or remove them`, async () => {
      await asRole(role);
      expect((await call<CameraView[]>('cameras.list', {})).length).toBe(2);
      expect(await refused('cameras.create', { name: 'x', kind: 'rtsp', source: 'rtsp://127.0.0.1:9/x' })).toBe(
        'forbidden',
      );
      expect(await refused('cameras.update', { cameraId: rtsp.id, masks: [] })).toBe('forbidden');
      expect(await refused('cameras.update', { cameraId: rtsp.id, source: 'rtsp://10.0.0.1/' })).toBe('forbidden');
      expect(await refused('cameras.delete', { cameraId: rtsp.id })).toBe('forbidden');
      // The raw side-by-side stays admin only.
      expect(await refused('live.start', { cameraId: file.id, showRaw: true })).toBe('forbidden');
      await asRole('admin');
    });
  }

  it('nobody can live.start a path or a URL any more', async () => {
    for (const role of ['viewer', 'operator', 'admin'] as const) {
      await asRole(role);
      for (const req of [
        { source: { kind: 'file', path: '/etc/passwd' } },
        { source: { kind: 'stream', url: 'http://127.0.0.1:9/admin' } },
        { cameraId: file.id, path: '/etc/passwd' },
        { cameraId: file.id, url: 'rtsp://127.0.0.1:9/' },
        { cameraId: '/etc/passwd' },
      ])
        expect([role, await refused('live.start', req)]).toEqual([role, 'validation']);
      expect(await refused('live.start', { cameraId: 999 })).toBe('not-found');
    }
    await asRole('admin');
  });

  it('a viewer starts a registered stream; its failure names it without the password', async () => {
    await asRole('viewer');
    const run = await liveRun({ cameraId: rtsp.id, size: 112 });
    expect(run.frames).toEqual([]);
    expect(run.error).toBeTruthy(); // nothing listens on port 9
    expect(run.error).not.toContain(PASSWORD);
    await asRole('admin');
  });

  it('updates are audited; the password is in no response, event or audit entry, and sealed in the database', async () => {
    const moved = await call<CameraView>('cameras.update', {
      cameraId: rtsp.id,
      source: STREAM_URL.replace('ward-3', 'ward-4'),
    });
    expect(moved).toMatchObject({ source: 'rtsp://127.0.0.1:9/ward-4', hasCredentials: true });
    expect(moved.updatedAt).not.toBeNull();
    const audit = await call<{ action: string; object: string }[]>('audit.list', {});
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['camera-create', 'camera-update']));
    const removed = await call<CameraView>('cameras.create', {
      name: 'Old',
      kind: 'http',
      source: 'http://u:p@127.0.0.1:9/',
    });
    expect(await call('cameras.delete', { cameraId: removed.id })).toEqual({ deleted: removed.id });
    expect((await call<{ action: string }[]>('audit.list', {})).map((a) => a.action)).toContain('camera-delete');
    expect(await refused('cameras.update', { cameraId: removed.id, name: 'x' })).toBe('not-found');

    expect(seen.length).toBeGreaterThan(20);
    expect(events.some((e) => e.event === 'live.ended')).toBe(true);
    for (const json of seen) {
      expect(json).not.toContain(PASSWORD);
      expect(json).not.toContain(TOKEN);
      expect(json).not.toContain(path.dirname(srcA));
    }
    // Sealed at rest: no file of the data folder (the database and its WAL included) holds it.
    s.core.db.pragma('wal_checkpoint(TRUNCATE)');
    const files = fs.readdirSync(dataDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    expect(files.map((e) => e.name)).toContain('library.sqlite');
    for (const e of files) {
      const bytes = fs.readFileSync(path.join(e.parentPath, e.name));
      expect([e.name, bytes.includes(PASSWORD)]).toEqual([e.name, false]);
      expect([e.name, bytes.includes(TOKEN)]).toEqual([e.name, false]);
    }
  });
});

describe('privacy masks: burned in before anything sees the frame', () => {
  let camera: CameraView;
  let twin: CameraView;
  let clipA: ClipView;
  let clipB: ClipView;

  it('imports a camera clip masked: the stored copy is sealed, black inside, the same whatever was masked', async () => {
    const room = await call<{ id: number }>('rooms.create', { name: 'Ward 3' });
    camera = await call<CameraView>('cameras.create', {
      name: 'Bathroom',
      kind: 'file',
      source: srcA,
      roomId: room.id,
      masks: [MASK],
    });
    twin = await call<CameraView>('cameras.create', { name: 'Twin', kind: 'file', source: srcB, masks: [MASK] });
    await asRole('operator');
    const a = await call<{ imported: ClipView[]; failed: unknown[] }>('clips.import', {
      paths: [srcA],
      cameraId: camera.id,
    });
    const b = await call<{ imported: ClipView[]; failed: unknown[] }>('clips.import', {
      paths: [srcB],
      cameraId: camera.id,
    });
    await asRole('admin');
    expect([a.failed, b.failed]).toEqual([[], []]);
    [clipA, clipB] = [a.imported[0]!, b.imported[0]!];
    // A camera's clips go to its room.
    expect(clipA).toMatchObject({
      cameraId: camera.id,
      roomId: room.id,
      maskHash: camera.masksHash,
      width: 160,
      height: 120,
    });
    expect(clipA.durationS).toBeGreaterThan(1.5);
    const storedA = s.core.library.clip(clipA.id).path;
    expect(isSealedFile(storedA)).toBe(true);

    // The sources differ inside the mask and are bright there.
    const rawA = await decodeAll(srcA, 160, 120);
    const rawB = await decodeAll(srcB, 160, 120);
    expect(rawA.equals(rawB)).toBe(false);
    expect(regionStats(rawA, 160, 120, 2).insideMax).toBeGreaterThan(200);

    const maskedA = await decodeAll(storedA, 160, 120);
    const maskedB = await decodeAll(s.core.library.clip(clipB.id).path, 160, 120);
    expect(maskedA.length).toBe(rawA.length);
    // H.264 rings a little along the black edge (4:2:0 chroma, 4×4 transforms): 3 px are left out.
    const st = regionStats(maskedA, 160, 120, 3);
    expect(st.insidePixels).toBeGreaterThan(1000);
    expect(st.insideMax).toBeLessThanOrEqual(16); // codec tolerance
    expect(st.outsideMean).toBeGreaterThan(40); // the rest of the picture is kept
    // What was under the mask left no trace: the stored clips are the same, frame for frame.
    expect(maskedA.equals(maskedB)).toBe(true);

    // A recording uploaded for the camera (browser mode) is stored masked too.
    const upload = path.join(tmpDir('spact-cameras-up-'), 'upload-1.part');
    fs.copyFileSync(srcB, upload);
    const recorded = await s.importUpload(upload, 'recording.mp4', null, camera.id);
    expect(recorded).toMatchObject({ cameraId: camera.id, roomId: room.id, maskHash: camera.masksHash });
    expect((await decodeAll(s.core.library.clip(recorded.id).path, 160, 120)).equals(maskedA)).toBe(true);
  });

  it('masks odd-sized, variable-rate footage too (padded to even sides for H.264 4:2:0)', async () => {
    const odd = makeVideo(path.join(tmpDir('spact-cameras-odd-'), 'odd.mp4'), { width: 161, height: 121, vfr: true });
    const r = await call<{ imported: ClipView[]; failed: unknown[] }>('clips.import', {
      paths: [odd],
      cameraId: camera.id,
    });
    expect(r.failed).toEqual([]);
    const clip = r.imported[0]!;
    expect([clip.width, clip.height, clip.maskHash]).toEqual([162, 122, camera.masksHash]);
    const frames = await decodeAll(s.core.library.clip(clip.id).path, 162, 122);
    expect(frames.length).toBeGreaterThan(0);
    expect(regionStats(frames, 162, 122, 3).insideMax).toBeLessThanOrEqual(16);
  });

  it('the anonymized output never sees the masked pixels', async () => {
    const model = s.core.resolveModel(await tinyModel());
    const outA = await s.core.anonymize.anonymizeClip(clipA.id, model.id, { ...DEFAULT_SETTINGS, size: 112 });
    const outB = await s.core.anonymize.anonymizeClip(clipB.id, model.id, { ...DEFAULT_SETTINGS, size: 112 });
    const { outputWidth: w, outputHeight: h } = outA.settings;
    const framesA = await decodeAll(outA.path, w, h);
    const framesB = await decodeAll(outB.path, w, h);
    expect(framesA.length).toBeGreaterThan(0);
    // Sources differing only under the mask anonymize to the same video: nothing of what was
    // masked reaches f_A's output. (Its colour there is f_A's answer to black: the tiny model's
    // is not black, so that is what the equality shows rather than a dark region.)
    expect(regionStats(framesA, w, h, 2).outsideMean).toBeGreaterThan(20);
    expect(framesA.equals(framesB)).toBe(true);
  });

  it('live from a file camera: every raw and anonymized frame is masked', async () => {
    const model = s.core.resolveModel(await tinyModel());
    const a = await liveRun({ cameraId: camera.id, modelId: model.id, showRaw: true, size: 112 });
    const b = await liveRun({ cameraId: twin.id, modelId: model.id, showRaw: true, size: 112 });
    expect([a.error, b.error]).toEqual([null, null]);
    expect(a.frames.length).toBeGreaterThanOrEqual(15);
    expect(b.frames.length).toBe(a.frames.length);
    const { width: w, height: h } = workingSize(await probeVideo(srcA), 112);
    for (const [i, f] of a.frames.entries()) {
      expect([f.width, f.height]).toEqual([w, h]);
      // Masked after scaling: exactly black inside (1 px of the outline aside).
      expect(regionStats(f.raw!, w, h, 1).insideMax).toBe(0);
      // The twin source differs only under the mask: the same frames come out.
      expect(f.raw!.equals(b.frames[i]!.raw!)).toBe(true);
      expect(f.anonymized.equals(b.frames[i]!.anonymized)).toBe(true);
    }
    // The raw view was audited by camera, never by its source.
    const audit = await call<{ action: string; details: unknown }[]>('audit.list', {});
    const rawViews = audit.filter((e) => e.action === 'raw-view');
    expect(rawViews.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(rawViews)).not.toContain(srcA);
  });

  it('a local camera frame is masked before f_A; masks changed later leave imported clips as they were', async () => {
    const model = s.core.resolveModel(await tinyModel());
    const local = await call<CameraView>('cameras.create', {
      name: 'Desk',
      kind: 'local',
      source: 'dev-1',
      masks: [MASK],
    });
    const [w, h] = [32, 24];
    const frame = Buffer.from(Array.from({ length: w * h * 3 }, (_, i) => 40 + ((i * 37) % 200)));
    const bright = frame.toString('base64');
    // The same frame blacked out by the test's own point-in-polygon (pixel centres).
    const blacked = Buffer.from(frame);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        if (inside(MASK, (x + 0.5) / w, (y + 0.5) / h)) blacked.fill(0, (y * w + x) * 3, (y * w + x) * 3 + 3);
    expect(blacked.equals(frame)).toBe(false);
    await asRole('viewer');
    // Without a registered camera, capture stays an operator's.
    expect(await refused('live.anonymizeFrame', { width: w, height: h, rgb: bright, modelId: model.id })).toBe(
      'forbidden',
    );
    const out = await call<{ rgb: string }>('live.anonymizeFrame', {
      width: w,
      height: h,
      rgb: bright,
      modelId: model.id,
      cameraId: local.id,
    });
    await asRole('admin');
    const plain = await call<{ rgb: string }>('live.anonymizeFrame', {
      width: w,
      height: h,
      rgb: bright,
      modelId: model.id,
    });
    const reference = await call<{ rgb: string }>('live.anonymizeFrame', {
      width: w,
      height: h,
      rgb: blacked.toString('base64'),
      modelId: model.id,
    });
    // f_A saw the frame with the mask blacked out, not the frame as captured.
    expect(out.rgb).toBe(reference.rgb);
    expect(out.rgb).not.toBe(plain.rgb);
    expect(await refused('live.start', { cameraId: local.id })).toBe('bad-input');

    const changed = await call<CameraView>('cameras.update', { cameraId: camera.id, masks: [] });
    expect(changed.masksHash).toBeNull();
    const clip = (await call<ClipView[]>('clips.list', {})).find((c) => c.id === clipA.id)!;
    expect(clip.maskHash).toBe(camera.masksHash);
  });
});

describe('spact cameras', () => {
  it('adds, lists, sets masks and removes; never prints the password; refuses bad masks in one line', () => {
    const dir = tmpDir('spact-cameras-cli-');
    const add = spactSync([
      'cameras',
      'add',
      'Ward',
      '3',
      '--kind',
      'rtsp',
      '--source',
      STREAM_URL,
      '--masks',
      JSON.stringify([MASK]),
      '--data-dir',
      dir,
      '--json',
    ]);
    expect(add.code, add.stderr).toBe(0);
    const cam = JSON.parse(add.stdout) as CameraView;
    expect(cam).toMatchObject({ name: 'Ward 3', source: 'rtsp://127.0.0.1:9/ward-3', hasCredentials: true });
    expect(cam.masks).toEqual([MASK]);
    const bad = spactSync(['cameras', 'set-masks', String(cam.id), '--masks', '[[[0,0],[1,1]]]', '--data-dir', dir]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/3–64 points/);
    const cleared = spactSync(['cameras', 'set-masks', String(cam.id), '--masks', 'none', '--data-dir', dir, '--json']);
    expect((JSON.parse(cleared.stdout) as CameraView).masks).toEqual([]);
    const list = spactSync(['cameras', 'list', '--data-dir', dir]);
    expect(list.stdout).toContain('rtsp://127.0.0.1:9/ward-3');
    // `spact import --camera`: the clip is stored with the camera's masks (here none: cleared above).
    const video = makeVideo(path.join(dir, '..', `${path.basename(dir)}-cam.mp4`), { seconds: 1 });
    const imp = spactSync(['import', video, '--camera', String(cam.id), '--data-dir', dir, '--json']);
    expect(imp.code, imp.stderr).toBe(0);
    const [clip] = (JSON.parse(imp.stdout) as { imported: { cameraId: number | null }[] }).imported;
    expect(clip).toMatchObject({ cameraId: cam.id });
    const notId = spactSync(['import', video, '--camera', 'Ward', '--data-dir', dir]);
    expect(notId.code).toBe(2);
    expect(notId.stderr).toMatch(/--camera takes a camera id/);
    expect(spactSync(['cameras', 'remove', String(cam.id), '--data-dir', dir]).code).toBe(0);
    expect(JSON.parse(spactSync(['cameras', '--data-dir', dir, '--json']).stdout)).toEqual([]);
    for (const r of [add, bad, cleared, list]) expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile()))
      expect([e.name, fs.readFileSync(path.join(e.parentPath, e.name)).includes(PASSWORD)]).toEqual([e.name, false]);
  });
});
