// Output destinations (issue 13, item 1): system file systems are refused at once and off the
// calling thread, an output is never its input, and nothing is overwritten unless asked.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { checkDestination, checkDestinations, systemRootOf } from '../../electron/core/destinations.js';
import { SpactError } from '../../electron/core/errors.js';
import { createCoreServices } from '../../electron/core/services.js';
import { spact } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo, tinyModel } from '../helpers/video.js';

const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** The SpactError a promise rejects with. */
async function refusal(p: () => Promise<unknown>): Promise<{ err: SpactError }> {
  try {
    await p();
  } catch (err) {
    expect(err).toBeInstanceOf(SpactError);
    return { err: err as SpactError };
  }
  throw new Error('expected a refusal');
}

const reasonOf = (err: SpactError) => (err.details as { reason?: string } | undefined)?.reason;
const isRoot = process.getuid?.() === 0;

describe('checkDestination', () => {
  it('refuses /proc, /sys and /dev with one clear line, and creates nothing', async () => {
    const { err } = await refusal(() => checkDestination('/proc/nope/export', 'folder', 'the export folder'));
    expect(err.kind).toBe('validation');
    expect(err.message).toBe(
      'the export folder /proc/nope/export is on a system file system (proc); choose a folder in your home or on a data disk',
    );
    expect(err.message).not.toContain('\n');
    expect(fs.existsSync('/proc/nope')).toBe(false);
    for (const p of ['/sys/nope/x', '/dev/nope', '/dev/shm/spact-x', '/proc'])
      expect(reasonOf((await refusal(() => checkDestination(p, 'folder', 'the folder'))).err)).toBe('system-fs');
    expect(systemRootOf('/processes/x')).toBeNull();
    expect(systemRootOf('/proc/../home/x')).toBeNull();
  });

  it('finds a system file system behind a symbolic link (by real path and mount table)', async () => {
    const dir = tmpDir('spact-dest-');
    fs.symlinkSync('/proc', path.join(dir, 'looks-normal'));
    const target = path.join(dir, 'looks-normal', 'nope', 'export');
    const { err } = await refusal(() => checkDestination(target, 'folder', 'the export folder'));
    expect(err.message).toMatch(/is on a system file system \(proc\); choose a folder/);
    fs.symlinkSync('/sys/kernel', path.join(dir, 'kernel'));
    expect((await refusal(() => checkDestination(path.join(dir, 'kernel', 'x'), 'folder', 'f'))).err.message).toMatch(
      /\(sysfs\)/,
    );
  });

  it('refuses relative paths, paths through a file, and a check that runs out of time', async () => {
    const rel = await refusal(() => checkDestination('out/export', 'folder', 'the export folder'));
    expect(rel.err.message).toBe('the export folder must be an absolute path, got "out/export"');
    const dir = tmpDir('spact-dest-');
    fs.writeFileSync(path.join(dir, 'file.txt'), 'x');
    const through = await refusal(() => checkDestination(path.join(dir, 'file.txt', 'sub'), 'folder', 'the folder'));
    expect(through.err.message).toMatch(/file\.txt is a file, not a folder/);
    const slow = await refusal(() => checkDestination(dir, 'folder', 'the folder', { timeoutMs: 1 }));
    expect(slow.err.kind).toBe('unavailable');
    expect(slow.err.message).toMatch(/did not answer within/);
  });

  it.skipIf(isRoot)('refuses a folder it cannot write to', async () => {
    const dir = tmpDir('spact-dest-');
    fs.chmodSync(dir, 0o500);
    const { err } = await refusal(() => checkDestination(path.join(dir, 'new'), 'folder', 'the folder'));
    expect(err.message).toMatch(/is not writable/);
    fs.chmodSync(dir, 0o700);
  });

  it('accepts a writable normal folder (missing or empty) without creating it; a non-empty one needs overwrite', async () => {
    const dir = tmpDir('spact-dest-');
    const nested = path.join(dir, 'a', 'b', 'export');
    await checkDestination(nested, 'folder', 'the export folder', { requireEmpty: true });
    expect(fs.existsSync(path.join(dir, 'a'))).toBe(false);
    await checkDestination(dir, 'folder', 'the export folder', { requireEmpty: true });
    fs.writeFileSync(path.join(dir, 'old.txt'), 'x');
    const { err } = await refusal(() =>
      checkDestination(dir, 'folder', 'the export folder', { requireEmpty: true, overwriteHint: 'add --force' }),
    );
    expect(err.kind).toBe('conflict');
    expect(reasonOf(err)).toBe('not-empty');
    expect(err.message).toBe(`the export folder ${dir} is not empty; add --force`);
    await checkDestination(dir, 'folder', 'the export folder', { requireEmpty: true, overwrite: true });
  });

  it('refuses an output file that is the input: same path, ../, symbolic link, hard link; even with overwrite', async () => {
    const dir = tmpDir('spact-dest-');
    const input = path.join(dir, 'a.mp4');
    fs.writeFileSync(input, 'raw video');
    fs.mkdirSync(path.join(dir, 'x'));
    fs.symlinkSync(input, path.join(dir, 'link.mp4'));
    fs.linkSync(input, path.join(dir, 'hard.mp4'));
    for (const out of [
      input,
      path.join(dir, 'x', '..', 'a.mp4'),
      path.join(dir, 'link.mp4'),
      path.join(dir, 'hard.mp4'),
    ]) {
      const { err } = await refusal(() =>
        checkDestination(path.resolve(out), 'file', 'the output file', { inputs: [input], overwrite: true }),
      );
      expect(reasonOf(err)).toBe('same-as-input');
      expect(err.message).toMatch(/is the input .*a\.mp4 itself/);
    }
    const other = path.join(dir, 'other.mp4');
    fs.writeFileSync(other, 'older output');
    const exists = await refusal(() =>
      checkDestination(other, 'file', 'the output file', {
        inputs: [input],
        overwriteHint: 'add --force to replace it',
      }),
    );
    expect(exists.err.kind).toBe('conflict');
    expect(exists.err.message).toBe(`the output file ${other} already exists; add --force to replace it`);
    await checkDestination(other, 'file', 'the output file', { inputs: [input], overwrite: true });
    await checkDestinations([{ path: path.join(dir, 'new', 'b.mp4'), kind: 'file', label: 'the output file' }], {
      inputs: [input],
    });
    expect(fs.readFileSync(input, 'utf8')).toBe('raw video');
  });
});

describe('exports.start (the service the UI calls)', () => {
  const services: ReturnType<typeof createCoreServices>[] = [];
  afterAll(async () => {
    for (const s of services) await s.close();
  });

  it('refuses /proc before queuing a job, with a clear reason; a non-empty folder needs overwrite', async () => {
    const s = createCoreServices({ dataDir: tmpDir('spact-dest-data-'), role: 'operator' });
    services.push(s);
    const room = s.core.library.createRoom('Room 1');
    const r = await s.dispatcher.dispatch(
      'exports.start',
      { roomId: room.id, to: '/proc/nope/export' },
      { transport: 'bridge' },
    );
    expect(r).toMatchObject({
      ok: false,
      error: {
        kind: 'validation',
        message:
          'the export folder /proc/nope/export is on a system file system (proc); choose a folder in your home or on a data disk',
      },
    });
    expect(s.core.jobs.list().filter((j) => j.kind === 'export')).toHaveLength(0);

    const rel = await s.dispatcher.dispatch(
      'exports.start',
      { roomId: room.id, to: 'export' },
      { transport: 'bridge' },
    );
    expect(rel).toMatchObject({ ok: false, error: { kind: 'validation', message: /absolute path/ } });

    const dir = tmpDir('spact-dest-export-');
    fs.writeFileSync(path.join(dir, 'keep.txt'), 'the user’s file');
    const full = await s.dispatcher.dispatch('exports.start', { roomId: room.id, to: dir }, { transport: 'bridge' });
    expect(full).toMatchObject({ ok: false, error: { kind: 'conflict', details: { reason: 'not-empty' } } });
    expect(s.core.jobs.list().filter((j) => j.kind === 'export')).toHaveLength(0);
    const forced = await s.dispatcher.dispatch(
      'exports.start',
      { roomId: room.id, to: dir, overwrite: true },
      { transport: 'bridge' },
    );
    expect(forced.ok).toBe(true);
    // The room has no clips: the queued job fails on that, not on the folder, and leaves it as it was.
    const job = await s.core.jobs.wait((forced as { value: { jobId: number } }).value.jobId);
    expect(job.error).toMatch(/nothing to export/);
    expect(fs.readdirSync(dir)).toEqual(['keep.txt']);
  });

  it('the export job itself refuses /proc (a job queued before, or requeued at start-up)', async () => {
    const s = createCoreServices({ dataDir: tmpDir('spact-dest-data-'), role: 'operator' });
    services.push(s);
    const { err } = await refusal(() =>
      s.core.exports.exportClips({ clipIds: [1], to: '/proc/nope/export', actor: 'tester' }),
    );
    expect(reasonOf(err)).toBe('system-fs');
  });
});

describe('spact anonymize / export: destinations', () => {
  let model = '';
  let videos = '';
  let input = '';
  beforeAll(async () => {
    model = await tinyModel();
    videos = tmpDir('spact-dest-videos-');
    input = makeVideo(path.join(videos, 'a.mp4'), { seconds: 1 });
  }, 120_000);

  it('refuses a /proc destination before reading the input or the model, with one line', async () => {
    // Neither the model nor (for the second call) the input exists: the destination is judged first,
    // so nothing is decoded or loaded before the refusal.
    const missingModel = path.join(videos, 'no-such-model.pt');
    for (const source of [input, path.join(videos, 'no-such-clip.mp4')]) {
      const a = await spact(['anonymize', source, '-o', '/proc/nope/out.mp4', '--model', missingModel], {}, 60_000);
      expect(a.code).toBe(1);
      expect(a.stderr.trim()).toBe(
        'spact anonymize: error: the output file /proc/nope/out.mp4 is on a system file system (proc); choose a folder in your home or on a data disk',
      );
    }
    const e = await spact(['export', '--clips', '1', '--to', '/proc/nope/export', '--data-dir', tmpDir()], {}, 60_000);
    expect(e.code).toBe(1);
    expect(e.stderr.trim()).toMatch(/^spact export: error: the export folder \/proc\/nope\/export is on a system/);
    const d = await spact(['rooms', '--data-dir', '/proc/nope/library'], {}, 60_000);
    expect(d.code).toBe(1);
    expect(d.stderr.trim()).toMatch(/^spact rooms: error: the data folder \/proc\/nope\/library is on a system/);
    expect(fs.existsSync('/proc/nope')).toBe(false);
  });

  it('-o equal to the input (also via ../ and a symbolic link) is refused and the input is untouched', async () => {
    const before = sha(input);
    fs.mkdirSync(path.join(videos, 'x'), { recursive: true });
    fs.symlinkSync(input, path.join(videos, 'link.mp4'));
    for (const out of [input, path.join(videos, 'x', '..', 'a.mp4'), './x/../a.mp4', path.join(videos, 'link.mp4')]) {
      // A relative -o is resolved against the current folder: run from the videos folder.
      const r = await spact(
        ['anonymize', out.startsWith('.') ? 'a.mp4' : input, '-o', out, '--model', model, '--force'],
        {},
        60_000,
        videos,
      );
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/is the input .*a\.mp4 itself; choose another output/);
    }
    expect(sha(input)).toBe(before);
  });

  it('an existing output is kept without --force and replaced with it; a new folder is created', async () => {
    const outDir = path.join(tmpDir('spact-dest-out-'), 'new', 'folder');
    const first = await spact(['anonymize', input, '-o', outDir, '--model', model, '--size', '112', '--json']);
    expect(first.code, first.stderr).toBe(0);
    const out = path.join(outDir, 'a.anon.mp4');
    expect(JSON.parse(first.stdout)[0].output).toBe(out);
    fs.writeFileSync(out, 'an older output');
    const again = await spact(['anonymize', input, '-o', outDir, '--model', model, '--size', '112']);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(
      `spact anonymize: error: the output file ${out} already exists; add --force to replace it`,
    );
    expect(fs.readFileSync(out, 'utf8')).toBe('an older output');
    const forced = await spact(['anonymize', input, '-o', out, '--model', model, '--size', '112', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(fs.readFileSync(out).subarray(4, 8).toString()).toBe('ftyp');
  });
});
