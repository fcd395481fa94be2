// The working size: resolver rules, the room setting (migration, library, API, jobs, CLI) and the
// output size. Person detection is faked where the rule, not the detector, is under test.
import fs from 'node:fs';
import path from 'node:path';

import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';

import { openAppCore } from '../../electron/core/app-core.js';
import { openDatabase } from '../../electron/core/db/database.js';
import { MIGRATIONS } from '../../electron/core/db/migrations/index.js';
import { probeVideo } from '../../electron/core/media/video.js';
import {
  AUTO_TARGET_PERSON_PX,
  estimatePersonHeightFraction,
  MAX_WORKING_SIZE,
  MIN_WORKING_SIZE,
  parseOutputSize,
  parseWorkingSize,
  quantile,
  resolveWorkingSize,
} from '../../electron/core/media/working-size.js';
import { createCoreServices } from '../../electron/core/services.js';
import { spact } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo, tinyModel } from '../helpers/video.js';

const oneLine = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    const m = (e as Error).message;
    expect(m.split('\n')).toHaveLength(1);
    return m;
  }
  throw new Error('expected an error');
};

/** A person detector that reports one box of this height (fraction of the frame) per frame. */
const fakeDetector = (h: number, calls = { n: 0 }) => ({
  persons: async () => {
    calls.n++;
    return [
      { box: { x: 0.1, y: 0.1, w: 0.1, h }, score: 0.9 },
      { box: { x: 0.5, y: 0.1, w: 0.1, h: 0.01 }, score: 0.2 }, // below the score threshold: ignored
    ];
  },
});

describe('resolveWorkingSize', () => {
  const cam = { width: 768, height: 576 };

  it('uses an explicit number as is, within the limits, even above the source', () => {
    expect(resolveWorkingSize(576, cam)).toBe(576);
    expect(resolveWorkingSize(1080, { width: 320, height: 240 })).toBe(1080);
    expect(resolveWorkingSize(5000, cam)).toBe(MAX_WORKING_SIZE);
    expect(resolveWorkingSize(8, cam)).toBe(MIN_WORKING_SIZE);
  });

  it('auto without a person height: the source short side up to 480, at least the minimum', () => {
    expect(resolveWorkingSize('auto', cam)).toBe(480);
    expect(resolveWorkingSize('auto', cam, null)).toBe(480);
    expect(resolveWorkingSize('auto', { width: 320, height: 240 })).toBe(240);
    expect(resolveWorkingSize('auto', { width: 3840, height: 2160 })).toBe(480);
    expect(resolveWorkingSize('auto', { width: 100, height: 80 })).toBe(MIN_WORKING_SIZE);
  });

  it(`auto with a person height: people ${AUTO_TARGET_PERSON_PX} px tall, never upscaled, at most 1080`, () => {
    // 20th percentile of people at 25% of the frame height: 64 / 0.25 = 256.
    expect(resolveWorkingSize('auto', cam, 0.25)).toBe(256);
    // People at 10%: 640 wanted, but the source is only 576 tall: no upscaling.
    expect(resolveWorkingSize('auto', cam, 0.1)).toBe(576);
    // Tiny people on a 4K camera: capped at 1080.
    expect(resolveWorkingSize('auto', { width: 3840, height: 2160 }, 0.02)).toBe(1080);
    // Large people: the minimum.
    expect(resolveWorkingSize('auto', cam, 0.9)).toBe(MIN_WORKING_SIZE);
    // Portrait: the frame height at the working size is short · 4/3.
    expect(resolveWorkingSize('auto', { width: 576, height: 768 }, 0.25)).toBe(192);
  });

  it('refuses bad values with one line', () => {
    expect(oneLine(() => resolveWorkingSize(NaN, cam))).toMatch(/working size/);
    expect(oneLine(() => resolveWorkingSize('big' as unknown as number, cam))).toMatch(/auto or a number/);
    expect(oneLine(() => resolveWorkingSize('auto', cam, 0))).toMatch(/person height/);
    expect(oneLine(() => resolveWorkingSize('auto', cam, 1.5))).toMatch(/person height/);
    expect(oneLine(() => resolveWorkingSize('auto', { width: 0, height: 0 }))).toMatch(/frame size/);
  });

  it('parses user input strictly: auto or an integer within the limits', () => {
    expect(parseWorkingSize('auto')).toBe('auto');
    expect(parseWorkingSize('576')).toBe(576);
    expect(parseWorkingSize(2160)).toBe(2160);
    for (const bad of ['5', 'big', '111', '2161', '200.5', '', 64, null])
      expect(oneLine(() => parseWorkingSize(bad, '--size'))).toMatch(/--size must be auto or an integer 112–2160/);
    expect(parseOutputSize('source')).toBe('source');
    expect(oneLine(() => parseOutputSize('huge'))).toMatch(/working or source/);
  });

  it('estimates the 20th percentile of person heights over frames spread across files', async () => {
    expect(quantile([], 0.2)).toBeNull();
    expect(quantile([0.5, 0.1, 0.3, 0.2, 0.4], 0.2)).toBe(0.1);
    const dir = tmpDir('spact-ws-');
    const files = [0, 1, 2].map((i) => makeVideo(path.join(dir, `v${i}.mp4`), { seconds: 1 }));
    let call = 0;
    const heights = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
    const seen: number[] = [];
    const m = await estimatePersonHeightFraction(files, {
      persons: async (_rgb, w, h) => {
        seen.push(w * 1000 + h);
        return [{ box: { x: 0, y: 0, w: 0.1, h: heights[call++]! }, score: 0.8 }];
      },
    });
    expect(m).toMatchObject({ frames: 8, files: 3, persons: 8 });
    expect(m.fraction).toBeCloseTo(0.2, 6);
    expect(new Set(seen)).toEqual(new Set([160_120])); // at the source's size
    const none = await estimatePersonHeightFraction([files[0]!], { persons: async () => [] });
    expect(none).toMatchObject({ fraction: null, persons: 0, files: 1 });
  });
});

describe('stored with the room', () => {
  it('migrates a v1 database: rooms kept with auto / working and no measurement; old sizes kept within limits', async () => {
    for (const [stored, expected] of [
      ['64', 112],
      ['320', 320],
      ['"auto"', 'auto'],
    ] as const) {
      const dir = tmpDir('spact-migrate-');
      const file = path.join(dir, 'library.sqlite');
      const v1 = new Database(file);
      v1.exec(MIGRATIONS[0]!.sql);
      v1.pragma('user_version = 1');
      v1.prepare(`INSERT INTO rooms (name, created_at) VALUES ('Ward A', 't'), ('Ward B', 't')`).run();
      v1.prepare(`INSERT INTO settings (key, value) VALUES ('inputSize', ?), ('threads', '3')`).run(stored);
      v1.close();

      const core = openAppCore({ dataDir: dir });
      expect(core.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      const rooms = core.library.rooms();
      expect(rooms.map((r) => r.name)).toEqual(['Ward A', 'Ward B']);
      for (const r of rooms)
        expect(r).toMatchObject({
          workingSize: 'auto',
          outputSize: 'working',
          personHeight: null,
          resolvedWorkingSize: null,
        });
      await core.close();
      const services = createCoreServices({ dataDir: dir, role: 'admin' });
      const res = await services.dispatcher.dispatch('settings.get', {}, { transport: 'ipc' });
      expect(res).toMatchObject({ ok: true, value: { inputSize: expected, threads: 3, outputSize: 'working' } });
      await services.close();
    }
  });

  it('the database refuses a stored working size outside the limits', () => {
    const db = openDatabase(path.join(tmpDir('spact-db-'), 'library.sqlite'));
    db.prepare(`INSERT INTO rooms (name, created_at) VALUES ('x', 't')`).run();
    expect(() => db.prepare(`UPDATE rooms SET working_size = 64`).run()).toThrow(/CHECK/);
    expect(() => db.prepare(`UPDATE rooms SET output_size = 'huge'`).run()).toThrow(/CHECK/);
    db.close();
  });

  it('is set, validated and returned through the API dispatcher, and persists across restarts', async () => {
    const dir = tmpDir('spact-api-');
    const call = (s: ReturnType<typeof createCoreServices>, m: string, req: unknown) =>
      s.dispatcher.dispatch(m, req, { transport: 'bridge' });
    let services = createCoreServices({ dataDir: dir, role: 'operator' });
    const created = await call(services, 'rooms.create', { name: 'Ward 7' });
    expect(created).toMatchObject({ ok: true, value: { workingSize: 'auto', outputSize: 'working' } });
    const roomId = (created as { value: { id: number } }).value.id;
    const set = await call(services, 'rooms.setSize', { roomId, workingSize: 576, outputSize: 'source' });
    expect(set).toMatchObject({ ok: true, value: { id: roomId, workingSize: 576, outputSize: 'source' } });
    for (const bad of [
      { roomId, workingSize: 5 },
      { roomId, workingSize: 'big' },
      { roomId, outputSize: 'huge' },
      { roomId },
    ]) {
      const r = await call(services, 'rooms.setSize', bad);
      expect(r).toMatchObject({ ok: false, error: { kind: 'validation' } });
    }
    expect(await call(services, 'rooms.setSize', { roomId: 999, workingSize: 'auto' })).toMatchObject({
      ok: false,
      error: { kind: 'not-found' },
    });
    await call(services, 'session.switch', { role: 'viewer' });
    expect(await call(services, 'rooms.setSize', { roomId, workingSize: 'auto' })).toMatchObject({
      ok: false,
      error: { kind: 'forbidden' },
    });
    await services.close();

    services = createCoreServices({ dataDir: dir, role: 'admin' });
    const listed = await call(services, 'rooms.list', {});
    expect(listed).toMatchObject({ ok: true, value: [{ id: roomId, workingSize: 576, outputSize: 'source' }] });
    // The default for clips without a room: auto, or a number within the limits.
    expect(await call(services, 'settings.get', {})).toMatchObject({ ok: true, value: { inputSize: 'auto' } });
    expect(await call(services, 'settings.set', { inputSize: 720, outputSize: 'source' })).toMatchObject({
      ok: true,
      value: { inputSize: 720, outputSize: 'source' },
    });
    expect(await call(services, 'settings.set', { inputSize: 64 })).toMatchObject({
      ok: false,
      error: { kind: 'validation' },
    });
    expect(await call(services, 'settings.set', { inputSize: 'auto' })).toMatchObject({
      ok: true,
      value: { inputSize: 'auto' },
    });
    await services.close();
  });
});

describe('used by anonymization', () => {
  let model = '';
  const videos = tmpDir('spact-ws-videos-');
  let clip320 = '';
  beforeAll(async () => {
    model = await tinyModel();
    clip320 = makeVideo(path.join(videos, 'cam.mp4'), { width: 320, height: 240, seconds: 1 });
  }, 120_000);

  it("an anonymize job of a room's clip uses the room's working size; auto measures the room once", async () => {
    const core = openAppCore({ dataDir: tmpDir('spact-ws-data-'), startJobs: true, threads: 2 });
    const calls = { n: 0 };
    core.anonymize.loadPersonDetector = async () => fakeDetector(0.5, calls);
    const room = core.library.createRoom('Ward 3');
    const clip = await core.library.importClip(clip320, { roomId: room.id });
    const m = core.resolveModel(model);
    const run = async () => {
      const job = core.jobs.enqueue('anonymize', { clipId: clip.id, modelId: m.id, settings: {} });
      const done = await core.jobs.wait(job.id);
      expect(done.status, done.error ?? '').toBe('done');
      const out = core.anonymize.output((done.result as { outputId: number }).outputId);
      const info = await probeVideo(out.path);
      return { out, info };
    };

    core.library.setRoomSize(room.id, { workingSize: 128 });
    const fixed = await run();
    expect([fixed.info.width, fixed.info.height]).toEqual([170, 128]);
    expect(fixed.out.settings).toMatchObject({ size: 128, sizeSetting: 128, width: 170, height: 128 });
    expect(calls.n).toBe(0); // a fixed size measures nothing

    // Auto: people at 50% of the frame height → 64 / 0.5 = 128 px, measured once and stored.
    core.library.setRoomSize(room.id, { workingSize: 'auto', outputSize: 'source' });
    const auto = await run();
    expect(calls.n).toBeGreaterThan(0);
    const measured = calls.n;
    expect(core.library.room(room.id)).toMatchObject({
      personHeight: { fraction: 0.5, files: 1, persons: measured },
      resolvedWorkingSize: { min: 128, max: 128 },
    });
    expect(auto.out.settings).toMatchObject({
      size: 128,
      sizeSetting: 'auto',
      outputSize: 'source',
      width: 170,
      height: 128,
      personHeightFraction: 0.5,
    });
    // Output size 'source': the video is the source's size (frames still made at 170×128).
    expect([auto.info.width, auto.info.height]).toEqual([320, 240]);
    await run();
    expect(calls.n).toBe(measured); // not measured again
    await core.close();
  });

  it('a clip without a room uses the app setting; auto falls back when people cannot be measured', async () => {
    const core = openAppCore({ dataDir: tmpDir('spact-ws-data-'), threads: 2 });
    core.anonymize.loadPersonDetector = () => Promise.reject(new Error('no judges here'));
    const clip = await core.library.importClip(clip320);
    const m = core.resolveModel(model);
    const notes: string[] = [];
    const auto = await core.anonymize.anonymizeClip(clip.id, m.id, {}, { onNote: (n) => notes.push(n) });
    expect(auto.settings).toMatchObject({ size: 240, sizeSetting: 'auto', width: 320, height: 240 });
    expect(notes.join(' ')).toMatch(/could not be measured \(no judges here\)/);
    core.db.prepare(`INSERT INTO settings (key, value) VALUES ('inputSize', '112')`).run();
    const fixed = await core.anonymize.anonymizeClip(clip.id, m.id);
    expect(fixed.settings).toMatchObject({ size: 112, width: 150, height: 112 });
    await expect(core.anonymize.anonymizeClip(clip.id, m.id, { size: 5 })).rejects.toThrow(
      /size must be auto or an integer 112–2160/,
    );
    await core.close();
  });

  it('CLI: --output-size source gives a source-sized video; bad --size exits non-zero with one line', async () => {
    const out = tmpDir('spact-ws-cli-');
    const r = await spact([
      'anonymize',
      clip320,
      '-o',
      path.join(out, 'a.mp4'),
      '--model',
      model,
      '--size',
      '128',
      '--output-size',
      'source',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const [item] = JSON.parse(r.stdout);
    expect(item).toMatchObject({ width: 170, height: 128, outputWidth: 320, outputHeight: 240, workingSize: 128 });
    const info = await probeVideo(path.join(out, 'a.mp4'));
    expect([info.width, info.height]).toEqual([320, 240]);

    for (const [flag, value, reason] of [
      ['--size', '5', /--size must be auto or an integer 112–2160.*"5"/],
      ['--size', 'big', /--size must be auto or an integer 112–2160.*"big"/],
      ['--output-size', 'huge', /--output-size must be working or source/],
    ] as const) {
      const bad = await spact(['anonymize', clip320, '-o', out, '--model', model, flag, value]);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr.split('\n')[0]).toMatch(reason);
      expect(fs.readdirSync(out)).toEqual(['a.mp4']);
    }
  });

  it('CLI: --size auto measures people in the files with the real detector (none in a test pattern)', async () => {
    const out = tmpDir('spact-ws-cli-');
    const r = await spact(['anonymize', clip320, '-o', out, '--model', model, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/measuring people in 1 input/);
    // Nobody found: the source's short side (240, under the 480 cap).
    expect(JSON.parse(r.stdout)[0]).toMatchObject({ sizeSetting: 'auto', workingSize: 240, width: 320, height: 240 });
  }, 180_000);

  it('CLI: spact rooms set / list show and change the working and output size', async () => {
    const dd = ['--data-dir', tmpDir('spact-ws-rooms-')];
    expect((await spact(['rooms', 'add', 'Ward 9', ...dd])).code).toBe(0);
    const set = await spact([
      'rooms',
      'set',
      'Ward 9',
      '--working-size',
      '720',
      '--output-size',
      'source',
      '--json',
      ...dd,
    ]);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ name: 'Ward 9', workingSize: 720, outputSize: 'source' });
    const list = await spact(['rooms', ...dd]);
    expect(list.stdout).toMatch(/Ward 9\t0 clip\(s\)\tmodel default\tworking size 720 px\toutput source/);
    const back = await spact(['rooms', 'set', 'Ward 9', '--working-size', 'auto', '--json', ...dd]);
    expect(JSON.parse(back.stdout)).toMatchObject({ workingSize: 'auto', outputSize: 'source' });
    const bad = await spact(['rooms', 'set', 'Ward 9', '--working-size', '99999', ...dd]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.split('\n')[0]).toMatch(/--working-size must be auto or an integer 112–2160/);
    const none = await spact(['rooms', 'set', 'Nowhere', '--working-size', 'auto', ...dd]);
    expect(none.code).not.toBe(0);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
    expect(none.stderr).toMatch(/room "Nowhere" does not exist/);
    const measure = await spact(['rooms', 'measure', 'Ward 9', ...dd]);
    expect(measure.code).not.toBe(0);
    expect(measure.stderr.trim().split('\n').at(-1)).toMatch(/has no clip to measure people on/);
  });
});
