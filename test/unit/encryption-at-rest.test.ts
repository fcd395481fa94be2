// Encryption at rest (issue 14, item 2): raw clips are sealed in AES-256-GCM chunks (Range reads,
// tamper and truncation detected), the key is wrapped by a passphrase (scrypt) or the OS keystore,
// ffmpeg reads sealed footage through the loopback feed, cached raw frames are sealed record by
// record, the database keeps no name or path of a person's file in the clear, and — the proof —
// no byte sequence of an imported clip or of its decoded frames exists unencrypted anywhere under
// the data folder after import, anonymization and caching frames. Files 0600, folders 0700.
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openAppCore, type AppCore } from '../../electron/core/app-core.js';
import { DEFAULT_SETTINGS } from '../../electron/core/anonymize/anonymize-service.js';
import { sha256File } from '../../electron/core/library/library-service.js';
import { decodeFrames, probeVideo } from '../../electron/core/media/video.js';
import { mediaInput, sealedRangeResponse } from '../../electron/core/vault/raw-feed.js';
import { isSealedFile, SealedReader, SealedWriter } from '../../electron/core/vault/sealed-file.js';
import { Vault, vaultById, vaultGoverning, VAULT_FILE } from '../../electron/core/vault/vault.js';
import { rawCachePrefix } from '../../electron/core/privacy-audit/cache-names.js';
import { ClipDataset, ClipDatasetWriter } from '../../native-models/ts/dataset.js';
import { RoomDatasetWriter, ROOM_FRAMES } from '../../native-models/ts/room-data.js';
import { spact } from '../helpers/cli.js';
import { tmpDir } from '../helpers/toy-clips.js';
import { makeVideo, tinyModel } from '../helpers/video.js';

const PASSPHRASE = 'correct horse battery staple';

/** Every file under a folder. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).flatMap((e) => {
    const p = path.join(e.parentPath, e.name);
    return e.isFile() ? [p] : [];
  });
}

/** Byte windows of a plaintext, taken where the bytes vary (not runs of one value). */
function windows(plain: Buffer, count: number, size = 48): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const at = Math.floor(((i + 0.5) / count) * (plain.length - size));
    const w = plain.subarray(at, at + size);
    if (new Set(w).size > 8) out.push(Buffer.from(w));
  }
  return out;
}

/** Windows of an MP4's picture data (the mdat box; not the encoder's text, not container
 *  boxes every MP4 of this encoder shares with the anonymized output). */
function pictureWindows(mp4: Buffer, count: number): Buffer[] {
  for (let at = 0; at + 8 <= mp4.length;) {
    const size = mp4.readUInt32BE(at);
    if (mp4.toString('latin1', at + 4, at + 8) === 'mdat') {
      const printable = (w: Buffer) => w.filter((b) => b >= 0x20 && b < 0x7f).length > w.length / 2;
      return windows(mp4.subarray(at + 8, at + size), count).filter((w) => !printable(w));
    }
    if (size < 8) break;
    at += size;
  }
  throw new Error('no mdat box');
}

/** The files under `dir` holding any of the windows, by file. */
function plaintextHits(dir: string, needles: Buffer[]): string[] {
  return filesUnder(dir).filter((f) => {
    const data = fs.readFileSync(f);
    return needles.some((n) => data.includes(n));
  });
}

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of it) parts.push(p);
  return Buffer.concat(parts);
}

describe('sealed files', () => {
  const dir = tmpDir('spact-sealed-');
  const vault = Vault.open(path.join(dir, 'data'), { passphrase: PASSPHRASE });
  const plain = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251));

  function seal(bytes: Buffer, chunk = 4096): string {
    const w = new SealedWriter(path.join(dir, `s-${Math.random().toString(36).slice(2)}.sealed`), vault, chunk);
    // Written in odd-sized pieces: chunking must not depend on how the writer is fed.
    for (let i = 0; i < bytes.length; i += 1000 + (i % 3)) w.write(bytes.subarray(i, i + 1000 + (i % 3)));
    w.finish();
    return w.file;
  }

  it('round-trips any range, and the file holds no plaintext window', async () => {
    const file = seal(plain);
    expect(isSealedFile(file)).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const r = new SealedReader(file, vaultById);
    expect(r.plainSize).toBe(plain.length);
    expect((await collect(r.range())).equals(plain)).toBe(true);
    for (const [a, b] of [
      [0, 0],
      [4095, 4096],
      [4096, 8191],
      [12345, 200_000],
      [plain.length - 1, plain.length - 1],
    ] as const)
      expect((await collect(r.range(a, b))).equals(plain.subarray(a, b + 1))).toBe(true);
    expect(plaintextHits(dir, windows(plain, 40))).toEqual([]);
    // Empty and exact-multiple sizes.
    expect(new SealedReader(seal(Buffer.alloc(0)), vaultById).plainSize).toBe(0);
    const exact = seal(plain.subarray(0, 8192));
    expect((await collect(new SealedReader(exact, vaultById).range())).equals(plain.subarray(0, 8192))).toBe(true);
  });

  it('detects a flipped bit, a dropped tail and swapped chunks', async () => {
    const file = seal(plain);
    const bytes = fs.readFileSync(file);
    const flipped = Buffer.from(bytes);
    flipped[48 + 5000] = flipped[48 + 5000]! ^ 1;
    fs.writeFileSync(`${file}.flip`, flipped);
    await expect(collect(new SealedReader(`${file}.flip`, vaultById).range())).rejects.toThrow(/damaged or altered/);
    // Cut at a chunk boundary: the new last chunk was not sealed as the last one.
    const stride = 4096 + 16;
    fs.writeFileSync(`${file}.cut`, bytes.subarray(0, 48 + 10 * stride));
    await expect(collect(new SealedReader(`${file}.cut`, vaultById).range())).rejects.toThrow(/damaged or altered/);
    const swapped = Buffer.from(bytes);
    bytes.copy(swapped, 48, 48 + stride, 48 + 2 * stride);
    bytes.copy(swapped, 48 + stride, 48, 48 + stride);
    fs.writeFileSync(`${file}.swap`, swapped);
    await expect(collect(new SealedReader(`${file}.swap`, vaultById).range(0, 10))).rejects.toThrow(/damaged/);
  });

  it('serves HTTP ranges of the plaintext (admin playback, ffmpeg seeking)', async () => {
    const file = seal(plain);
    const r = sealedRangeResponse(file, 'bytes=1000-4999', 'video/mp4');
    expect(r.status).toBe(206);
    expect(r.headers['Content-Range']).toBe(`bytes 1000-4999/${plain.length}`);
    expect((await collect(r.body!)).equals(plain.subarray(1000, 5000))).toBe(true);
    expect(sealedRangeResponse(file, `bytes=${plain.length}-`, 'video/mp4').status).toBe(416);
    const src = await mediaInput(file);
    expect(src.input).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{64}$/);
    const res = await fetch(src.input, { headers: { Range: 'bytes=10-19' } });
    expect(res.status).toBe(206);
    expect(Buffer.from(await res.arrayBuffer()).equals(plain.subarray(10, 20))).toBe(true);
    src.release();
    expect((await fetch(src.input)).status).toBe(404); // released: the path is gone
  });
});

describe('the vault', () => {
  it('is created with a passphrase, refuses a wrong one, and enrols a keystore', () => {
    const dataDir = path.join(tmpDir('spact-vault-'), 'data');
    expect(() => Vault.open(dataDir, {})).toThrow(/encrypted: give its passphrase/);
    expect(() => Vault.open(dataDir, { passphrase: 'short' })).toThrow(/at least 8/);
    const v = Vault.open(dataDir, { passphrase: PASSPHRASE });
    expect(fs.statSync(path.join(dataDir, VAULT_FILE)).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(path.join(dataDir, VAULT_FILE), 'utf8')).not.toContain(v.exportKey().toString('hex'));
    expect(() => Vault.open(dataDir, { passphrase: 'not the passphrase' })).toThrow(/wrong passphrase/);
    expect(() => Vault.open(dataDir, { key: Buffer.alloc(32, 1) })).toThrow(/encrypted/);
    expect(Vault.open(dataDir, { key: v.exportKey() }).exportKey().equals(v.exportKey())).toBe(true);
    // A keystore offered with the passphrase is enrolled: next time the keystore alone opens it.
    const mask = Buffer.alloc(32, 0x5a);
    const keystore = {
      protect: (k: Buffer) => Buffer.from(k.map((b, i) => b ^ mask[i]!)),
      unprotect: (b: Buffer) => Buffer.from(b.map((x, i) => x ^ mask[i]!)),
    };
    Vault.open(dataDir, { passphrase: PASSPHRASE, keystore });
    expect(Vault.open(dataDir, { keystore }).exportKey().equals(v.exportKey())).toBe(true);
    const sealed = v.sealText('Frau Müller – Sturz, Kamera 2.mp4');
    expect(sealed).not.toContain('Müller');
    expect(v.openText(sealed)).toBe('Frau Müller – Sturz, Kamera 2.mp4');
  });
});

describe('the library at rest', () => {
  let core: AppCore;
  let dataDir: string;
  let source: string;
  beforeAll(() => {
    dataDir = path.join(tmpDir('spact-at-rest-'), 'data');
    const src = tmpDir('spact-at-rest-src-');
    source = makeVideo(path.join(src, 'Frau Müller – Sturz, Kamera 2.mp4'), { width: 192, height: 144, seconds: 2 });
    core = openAppCore({ dataDir, unlock: { passphrase: PASSPHRASE } });
  });
  afterAll(async () => {
    await core.close();
  });

  it('seals imports; probes, decodes and anonymizes them through the feed; leaves no plaintext', async () => {
    const clip = await core.library.importClip(source);
    expect(clip.name).toBe('Frau Müller – Sturz, Kamera 2.mp4');
    expect(path.basename(clip.path)).not.toMatch(/M.ller|Sturz/);
    expect(isSealedFile(clip.path)).toBe(true);
    const info = await probeVideo(source);
    expect(clip).toMatchObject({ width: 192, height: 144, sizeBytes: fs.statSync(source).size });
    expect(clip.durationS).toBeCloseTo(info.durationS, 1);
    // Decoded through the feed: the same frames as from the plain file.
    const opts = { width: 96, height: 72, fps: 10, batch: 30 };
    const fromSealed: Buffer[] = [];
    for await (const b of decodeFrames(clip.path, opts)) fromSealed.push(Buffer.from(b.frames));
    const fromPlain: Buffer[] = [];
    for await (const b of decodeFrames(source, opts)) fromPlain.push(Buffer.from(b.frames));
    const decoded = Buffer.concat(fromPlain);
    expect(Buffer.concat(fromSealed).equals(decoded)).toBe(true);

    const model = core.resolveModel(await tinyModel());
    const out = await core.anonymize.anonymizeClip(clip.id, model.id, { ...DEFAULT_SETTINGS, size: 112 });
    expect(isSealedFile(out.path)).toBe(false); // outputs stay plain: they are what gets exported

    // Cached frames of a run, sealed with the vault's record cipher.
    const runDir = path.join(dataDir, 'runs', 'r1', 'footage-data');
    const room = new RoomDatasetWriter(runDir, 96, 72, core.vault.recordCipher);
    const frameBytes = 96 * 72 * 3;
    for (let i = 0; i < 5; i++) room.add(decoded.subarray(i * frameBytes, (i + 1) * frameBytes));
    const back = new Uint8Array(frameBytes);
    room.readFrame(3, back);
    expect(Buffer.from(back).equals(decoded.subarray(3 * frameBytes, 4 * frameBytes))).toBe(true);
    room.abort();
    expect(fs.existsSync(path.join(runDir, ROOM_FRAMES))).toBe(true);

    // The proof: nothing under the data folder holds a window of the raw file or its frames,
    // and no name or path of the source appears in any file (the database included).
    const needles = [
      ...pictureWindows(fs.readFileSync(source), 60),
      ...windows(decoded.subarray(0, 5 * frameBytes), 60),
      Buffer.from('Müller'),
      Buffer.from(path.dirname(source)),
    ];
    expect(needles.length).toBeGreaterThan(50);
    expect(plaintextHits(dataDir, needles)).toEqual([]);
    // Owner-only: every file 0600, every folder 0700.
    for (const e of fs.readdirSync(dataDir, { withFileTypes: true, recursive: true })) {
      const p = path.join(e.parentPath, e.name);
      expect([p, fs.statSync(p).mode & 0o777]).toEqual([p, e.isDirectory() ? 0o700 : 0o600]);
    }
  }, 120_000);

  it("goes with the clip: the judges' findings on its raw frames (sealed, in the data folder's audit cache)", async () => {
    const clip = await core.library.importClip(makeVideo(path.join(tmpDir(), 'other.mp4'), { seconds: 1 }));
    const cache = path.join(dataDir, 'audit-cache');
    expect(vaultGoverning(cache)).toBe(core.vault);
    expect(vaultGoverning(tmpDir())).toBeNull();
    fs.mkdirSync(cache, { recursive: true });
    const mine = path.join(cache, `${rawCachePrefix(clip.path)}0123.json`);
    const others = path.join(cache, `${rawCachePrefix(source)}0123.json`);
    for (const f of [mine, others]) fs.writeFileSync(f, core.vault.sealText('{"faces":[]}'));
    const report = core.library.deleteClip(clip.id);
    expect(report.files).toContain(mine);
    expect(fs.existsSync(mine)).toBe(false);
    expect(fs.existsSync(others)).toBe(true);
  });

  it('seals what a folder from before encryption holds: plain copies and names, once', async () => {
    const legacy = path.join(dataDir, 'clips', '0123456789ab-Frau_Legacy.mp4');
    fs.copyFileSync(source, legacy);
    const sha = await sha256File(source);
    const id = Number(
      core.db
        .prepare(
          `INSERT INTO clips (name, source, path, stored, sha256, size_bytes, duration_s, width, height, fps, has_audio, imported_at)
           VALUES ('Frau Legacy.mp4', '/home/pflege/Frau Legacy.mp4', ?, 'copy', ?, 1, 2, 192, 144, 10, 0, 't')`,
        )
        .run(legacy, sha).lastInsertRowid,
    );
    expect(await core.library.sealLegacyClips()).toEqual({ files: 1, rows: 1 });
    const clip = core.library.clip(id);
    expect(clip).toMatchObject({ name: 'Frau Legacy.mp4', source: '/home/pflege/Frau Legacy.mp4', sha256: sha });
    expect(fs.existsSync(legacy)).toBe(false);
    expect(isSealedFile(clip.path)).toBe(true);
    expect(await sha256File(clip.path)).toBe(sha);
    const row = core.db.prepare(`SELECT name, source FROM clips WHERE id = ?`).get(id) as {
      name: string;
      source: string;
    };
    expect(row.name + row.source).not.toContain('Legacy');
    expect(await core.library.sealLegacyClips()).toEqual({ files: 0, rows: 0 }); // idempotent
    core.library.deleteClip(id);
  });

  it('seals dataset clips record by record and refuses an altered one', () => {
    const dir = path.join(dataDir, 'runs', 'r2', 'footage-data');
    const shape = { frames: 2, height: 8, width: 8 };
    const w = new ClipDatasetWriter(dir, shape, { actions: ['a'] }, core.vault.recordCipher);
    const clips = Array.from({ length: 3 }, (_, i) =>
      Uint8Array.from({ length: 384 }, (_, j) => (i * 31 + j * 7) % 256),
    );
    for (const c of clips) w.add('train', c, 0);
    expect(w.finish().sealedBy).toBe(core.vault.recordCipher.id);
    const ds = ClipDataset.open(dir);
    expect(Buffer.from(ds.readBatch('train', [2, 0]).frames).equals(Buffer.concat([clips[2]!, clips[0]!]))).toBe(true);
    ds.close();
    const file = path.join(dir, 'train.u8');
    expect(fs.readFileSync(file).includes(Buffer.from(clips[1]!.subarray(0, 48)))).toBe(false);
    const bytes = fs.readFileSync(file);
    bytes.writeUInt8(bytes.readUInt8(384 + 28 + 20) ^ 1, 384 + 28 + 20); // inside record 1
    fs.writeFileSync(file, bytes);
    const altered = ClipDataset.open(dir);
    expect(() => altered.readBatch('train', [1])).toThrow(/damaged or altered/);
    altered.close();
  });
});

describe('the CLI and the passphrase', () => {
  it('takes it from --passphrase-file or SPACT_PASSPHRASE; says in one line when it is missing or wrong', async () => {
    const dir = tmpDir('spact-cli-vault-');
    const dataDir = path.join(dir, 'data');
    const file = path.join(dir, 'passphrase.txt');
    fs.writeFileSync(file, `${PASSPHRASE}\n`);
    const video = makeVideo(path.join(dir, 'Zimmer 4.mp4'), { seconds: 1 });
    const none = { SPACT_PASSPHRASE: '' };
    const imported = await spact(['import', video, '--data-dir', dataDir, '--passphrase-file', file, '--json'], none);
    expect(imported.code, imported.stderr).toBe(0);
    const listed = await spact(['clips', '--data-dir', dataDir, '--json'], { SPACT_PASSPHRASE: PASSPHRASE });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('Zimmer 4.mp4');
    const missing = await spact(['clips', '--data-dir', dataDir], none);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(
      /^spact clips: error: .*encrypted: give its passphrase \(SPACT_PASSPHRASE or --passphrase-file\)$/,
    );
    const wrong = await spact(['clips', '--data-dir', dataDir], { SPACT_PASSPHRASE: 'another passphrase' });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/wrong passphrase/);
  }, 60_000);
});
