// The clip library: rooms, cameras, raw clips (copied or linked into the data folder, with their
// sha256), and the models known to the app. Every multi-row change is one transaction.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { fileSha256, readCheckpointMeta, resolveCheckpointPath } from '../../../native-models/ts/checkpoint.js';
import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';
import { SpactError } from '../errors.js';
import { probeVideo, VIDEO_EXTENSIONS, type VideoInfo } from '../media/video.js';
import { rawCachePrefix } from '../privacy-audit/cache-names.js';
import { maskedSealedCopy } from '../cameras/masked-copy.js';
import { masksHash, type MaskPolygon } from '../cameras/masks.js';
import { isSealedFile, SealedReader, SealedWriter } from '../vault/sealed-file.js';
import { vaultById, type Vault } from '../vault/vault.js';
import {
  parseOutputSize,
  parseWorkingSize,
  resolveWorkingSize,
  type OutputSizeMode,
  type PersonHeightEstimate,
  type WorkingSizeSetting,
} from '../media/working-size.js';

/** The person-height measurement a room's 'auto' working size uses, and what it was made on. */
export interface PersonHeight extends PersonHeightEstimate {
  measuredAt: string;
}

export interface Room {
  id: number;
  name: string;
  activeModelId: number | null;
  createdAt: string;
  clips: number;
  /** Short side f_A works at for this room's clips, or 'auto' (follows the people measured here). */
  workingSize: WorkingSizeSetting;
  /** The encoded video: at the working size, or scaled up to the source's size. */
  outputSize: OutputSizeMode;
  /** The measurement 'auto' uses (null until the first anonymization or a re-measure). */
  personHeight: PersonHeight | null;
  /** What the working size resolves to for the room's clips now (null when the room has none). */
  resolvedWorkingSize: { min: number; max: number } | null;
  /** Raw clips are deleted this many days after their import (null: kept until deleted). */
  retentionDays: number | null;
}

interface RoomRow {
  id: number;
  name: string;
  active_model_id: number | null;
  created_at: string;
  clips: number;
  working_size: number | null;
  output_size: OutputSizeMode;
  person_height_fraction: number | null;
  person_height_measured_at: string | null;
  person_height_frames: number | null;
  person_height_files: number | null;
  person_height_persons: number | null;
  retention_days: number | null;
}

const ROOM_SELECT = `SELECT r.*, (SELECT COUNT(*) FROM clips c WHERE c.room_id = r.id) AS clips FROM rooms r`;

export interface Clip {
  id: number;
  roomId: number | null;
  name: string;
  source: string;
  path: string;
  stored: 'copy' | 'link';
  sha256: string;
  sizeBytes: number;
  durationS: number;
  width: number;
  height: number;
  fps: number;
  hasAudio: boolean;
  importedAt: string;
  outputs: number;
  /** The registered camera it was imported for (null: none, or the camera was removed). */
  cameraId: number | null;
  /** sha256 of the privacy masks burned into the stored copy at import (null: none). */
  maskHash: string | null;
}

export interface ModelRecord {
  id: number;
  name: string;
  checkpoint: string;
  sha256: string;
  parentId: number | null;
  runId: number | null;
  preset: string | null;
  createdAt: string;
}

/** Streams a file through sha256 (no whole-file read); of sealed raw footage, its plaintext. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  const chunks = isSealedFile(file) ? new SealedReader(file, vaultById).range() : fs.createReadStream(file);
  for await (const chunk of chunks) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Copies a file into the library sealed with the vault (an upload sealed already is copied as is). */
async function sealedCopy(source: string, target: string, vault: Vault): Promise<void> {
  if (isSealedFile(source)) {
    fs.copyFileSync(source, target);
    fs.chmodSync(target, 0o600);
    return;
  }
  const writer = new SealedWriter(target, vault);
  try {
    for await (const chunk of fs.createReadStream(source, { highWaterMark: 1 << 20 })) writer.write(chunk as Buffer);
    writer.finish();
  } catch (err) {
    writer.abort();
    throw err;
  }
}

/** What a deletion removed from the data folder. */
export interface DeletionReport {
  files: string[];
  bytes: number;
}

/** One place raw data of a room lives (rawData). */
export interface RawDataEntry {
  kind: 'clip' | 'linked-clip' | 'run-frames';
  clipId: number | null;
  runId: number | null;
  path: string;
  files: number;
  bytes: number;
  /** When it was made: a clip's import, or the newest cached frame file of a run. */
  since: string;
  ageDays: number;
}

/** A fine-tune run's cached footage (training/finetune.ts FOOTAGE_DATA_DIR; not imported here:
 *  the library does not depend on the training code). */
export const FOOTAGE_DATA_DIR = 'footage-data';

function statOrNull(file: string): fs.Stats | null {
  try {
    return fs.statSync(file);
  } catch {
    return null;
  }
}

function removeFile(file: string, report: DeletionReport): void {
  const st = statOrNull(file);
  if (!st?.isFile()) return;
  fs.rmSync(file, { force: true });
  report.files.push(file);
  report.bytes += st.size;
}

/** The files of a run's cached footage that hold frames (every file but the JSON manifests). */
export function cachedFrameFiles(runDir: string): { file: string; size: number; mtimeMs: number }[] {
  const out: { file: string; size: number; mtimeMs: number }[] = [];
  const walk = (dir: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (!e.name.endsWith('.json')) {
        const st = statOrNull(p);
        if (st) out.push({ file: p, size: st.size, mtimeMs: st.mtimeMs });
      }
    }
  };
  walk(path.join(runDir, FOOTAGE_DATA_DIR));
  return out;
}

/** Removes a run's cached frames (frames.u8, train.u8, val.u8, partial and slot files); the JSON
 *  manifests (sizes, counts, where frames came from) stay as the run's record. */
export function removeCachedFrames(runDir: string, report: DeletionReport = { files: [], bytes: 0 }): DeletionReport {
  for (const f of cachedFrameFiles(runDir)) removeFile(f.file, report);
  return report;
}

/**
 * Gives a finished copy its library name while it keeps its temporary one (a hard link), so that
 * the temporary name marks it as not yet recorded. Another import of the same content may have
 * published it first (EEXIST: same name, same bytes). Where links are not supported the copy is
 * renamed instead.
 */
function publishCopy(tmp: string, stored: string): 'linked' | 'renamed' | 'existed' {
  try {
    fs.linkSync(tmp, stored);
    return 'linked';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      fs.rmSync(tmp, { force: true });
      return 'existed';
    }
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EXDEV') {
      fs.renameSync(tmp, stored);
      return 'renamed';
    }
    throw err;
  }
}

export class LibraryService {
  constructor(
    private readonly db: Db,
    private readonly dataDir: string,
    /** Seals raw copies and the fields naming people's files; null: the library can be listed, not imported into. */
    private readonly vault: Vault | null = null,
  ) {}

  private requireVault(): Vault {
    if (!this.vault)
      throw new SpactError('unauthorized', 'the raw footage of this data folder is locked: give its passphrase');
    return this.vault;
  }

  get clipsDir(): string {
    return path.join(this.dataDir, 'clips');
  }

  // ---- rooms ----
  createRoom(name: string): Room {
    const trimmed = name.trim();
    if (!trimmed) throw new SpactError('validation', 'a room needs a name');
    try {
      const info = this.db.prepare(`INSERT INTO rooms (name, created_at) VALUES (?, ?)`).run(trimmed, nowIso());
      return this.room(Number(info.lastInsertRowid));
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE')
        throw new SpactError('conflict', `a room named "${trimmed}" already exists`);
      throw err;
    }
  }

  room(id: number): Room {
    const r = this.db.prepare(`${ROOM_SELECT} WHERE r.id = ?`).get(id) as RoomRow | undefined;
    if (!r) throw new SpactError('not-found', `room ${id} does not exist`);
    return this.toRoom(r);
  }

  private toRoom(r: RoomRow): Room {
    const workingSize: WorkingSizeSetting = r.working_size ?? 'auto';
    const personHeight: PersonHeight | null =
      r.person_height_measured_at === null
        ? null
        : {
            fraction: r.person_height_fraction,
            measuredAt: r.person_height_measured_at,
            frames: r.person_height_frames ?? 0,
            files: r.person_height_files ?? 0,
            persons: r.person_height_persons ?? 0,
          };
    const sizes = (
      this.db.prepare(`SELECT DISTINCT width, height FROM clips WHERE room_id = ?`).all(r.id) as {
        width: number;
        height: number;
      }[]
    ).map((c) => resolveWorkingSize(workingSize, c, personHeight?.fraction));
    return {
      id: r.id,
      name: r.name,
      activeModelId: r.active_model_id,
      createdAt: r.created_at,
      clips: r.clips,
      workingSize,
      outputSize: r.output_size,
      personHeight,
      resolvedWorkingSize: sizes.length ? { min: Math.min(...sizes), max: Math.max(...sizes) } : null,
      retentionDays: r.retention_days ?? null,
    };
  }

  roomByName(name: string): Room | null {
    const r = this.db.prepare(`SELECT id FROM rooms WHERE name = ?`).get(name) as { id: number } | undefined;
    return r ? this.room(r.id) : null;
  }

  /** A room by numeric id or by name. */
  resolveRoom(ref: string | number): Room {
    if (typeof ref === 'number' || /^\d+$/.test(ref)) return this.room(Number(ref));
    const r = this.roomByName(ref);
    if (!r) throw new SpactError('not-found', `room "${ref}" does not exist`);
    return r;
  }

  rooms(): Room[] {
    return (this.db.prepare(`${ROOM_SELECT} ORDER BY r.name`).all() as RoomRow[]).map((r) => this.toRoom(r));
  }

  /**
   * Sets a room's working size ('auto' or a short side within the limits) and/or output size
   * ('working' or 'source'); anything else is refused with a one-line reason.
   */
  setRoomSize(roomId: number, change: { workingSize?: unknown; outputSize?: unknown }): Room {
    this.room(roomId);
    if (change.workingSize === undefined && change.outputSize === undefined)
      throw new SpactError('validation', 'give a working size and/or an output size');
    const workingSize = change.workingSize === undefined ? undefined : parseWorkingSize(change.workingSize);
    const outputSize = change.outputSize === undefined ? undefined : parseOutputSize(change.outputSize);
    this.db.transaction(() => {
      if (workingSize !== undefined)
        this.db
          .prepare(`UPDATE rooms SET working_size = ? WHERE id = ?`)
          .run(workingSize === 'auto' ? null : workingSize, roomId);
      if (outputSize !== undefined)
        this.db.prepare(`UPDATE rooms SET output_size = ? WHERE id = ?`).run(outputSize, roomId);
    })();
    return this.room(roomId);
  }

  /** Stores a person-height measurement of a room (what its 'auto' working size follows). */
  recordPersonHeight(roomId: number, m: PersonHeightEstimate, measuredAt = nowIso()): Room {
    this.room(roomId);
    this.db
      .prepare(
        `UPDATE rooms SET person_height_fraction = ?, person_height_measured_at = ?, person_height_frames = ?,
           person_height_files = ?, person_height_persons = ? WHERE id = ?`,
      )
      .run(m.fraction, measuredAt, m.frames, m.files, m.persons, roomId);
    return this.room(roomId);
  }

  setActiveModel(roomId: number, modelId: number | null): Room {
    this.room(roomId);
    if (modelId !== null) this.model(modelId);
    this.db.prepare(`UPDATE rooms SET active_model_id = ? WHERE id = ?`).run(modelId, roomId);
    return this.room(roomId);
  }

  // ---- clips ----
  /**
   * Imports one video: probes it (rejecting what is not a readable video), hashes it, copies it
   * into the library (temporary name, then rename) or records a link to it, and inserts the row.
   */
  async importClip(
    file: string,
    opts: {
      roomId?: number | null;
      link?: boolean;
      /** the name the user gave it (an upload's) */
      name?: string;
      /** The registered camera it comes from: its privacy masks are burned into the stored copy. */
      camera?: { id: number; masks: MaskPolygon[] };
    } = {},
  ): Promise<Clip> {
    const vault = this.requireVault();
    const source = path.resolve(file);
    let info: VideoInfo = await probeVideo(source);
    if (opts.roomId != null) this.room(opts.roomId);
    let sha = await sha256File(source);
    const name = opts.name ?? path.basename(source);
    const masks = opts.camera?.masks ?? [];
    const maskHash = masks.length ? masksHash(masks) : null;
    // A linked clip is the user's own file: it cannot be masked, so a masked camera's clip is copied.
    if (maskHash && opts.link)
      throw new SpactError('validation', `${name}: clips of a camera with privacy masks are copied masked, not linked`);
    let stored = source;
    // The copy's temporary name, kept (hard-linked to the copy) until its row exists: a copy whose
    // writer died before recording it is found and removed at start-up (reconcileUnrecordedImports).
    let pending: string | null = null;
    if (!opts.link) {
      fs.mkdirSync(this.clipsDir, { recursive: true, mode: 0o700 });
      // Sealed, and named by content and a keyed tag of the name: the folder listing names nobody.
      // A masked copy is a new H.264 MP4, named by its source and its masks.
      const ext = maskHash
        ? `-m${maskHash.slice(0, 8)}.mp4`
        : VIDEO_EXTENSIONS.includes(path.extname(name).toLowerCase())
          ? path.extname(name).toLowerCase()
          : '';
      stored = path.join(this.clipsDir, `${sha.slice(0, 12)}-${vault.nameTag(name)}${ext}.sealed`);
      if (!fs.existsSync(stored)) {
        const tmp = `${stored}.tmp-${process.pid}`;
        try {
          if (maskHash) await maskedSealedCopy(source, tmp, vault, info, masks);
          else await sealedCopy(source, tmp, vault);
          if (publishCopy(tmp, stored) === 'linked') pending = tmp;
        } catch (err) {
          fs.rmSync(tmp, { force: true });
          if (err instanceof SpactError) throw err;
          const code = (err as NodeJS.ErrnoException).code;
          throw new SpactError(
            'unavailable',
            `${source}: could not copy into the library (${code === 'ENOSPC' ? 'the disk is full' : code})`,
          );
        }
      }
      if (maskHash) {
        // What is stored is the masked video: its own content hash and properties (no audio).
        const masked = await probeVideo(stored);
        sha = await sha256File(stored);
        info = { ...masked, durationS: masked.durationS || info.durationS, fps: info.fps, hasAudio: false };
      }
    }
    try {
      return this.recordClip(source, stored, sha, info, {
        ...opts,
        name,
        cameraId: opts.camera?.id ?? null,
        maskHash,
      });
    } catch (err) {
      if (pending) fs.rmSync(stored, { force: true }); // never recorded: no raw copy without its row
      throw err;
    } finally {
      if (pending) fs.rmSync(pending, { force: true });
    }
  }

  private recordClip(
    source: string,
    stored: string,
    sha: string,
    info: VideoInfo,
    opts: {
      roomId?: number | null;
      link?: boolean;
      name: string;
      cameraId?: number | null;
      maskHash?: string | null;
    },
  ): Clip {
    const vault = this.requireVault();
    const existing = this.db.prepare(`SELECT id FROM clips WHERE path = ?`).get(stored) as { id: number } | undefined;
    if (existing) return this.clip(existing.id);
    const row = this.db
      .prepare(
        `INSERT INTO clips (room_id, camera_id, mask_hash, name, source, path, stored, sha256, size_bytes, duration_s, width, height, fps, has_audio, imported_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        opts.roomId ?? null,
        opts.cameraId ?? null,
        opts.maskHash ?? null,
        vault.sealText(opts.name),
        vault.sealText(source),
        stored,
        opts.link ? 'link' : 'copy',
        sha,
        info.sizeBytes,
        info.durationS,
        info.width,
        info.height,
        info.fps,
        info.hasAudio ? 1 : 0,
        nowIso(),
      );
    return this.clip(Number(row.lastInsertRowid));
  }

  private toClip(r: ClipRow): Clip {
    return toClip(r, this.vault);
  }

  clip(id: number): Clip {
    const r = this.db.prepare(`${CLIP_SELECT} WHERE c.id = ?`).get(id) as ClipRow | undefined;
    if (!r) throw new SpactError('not-found', `clip ${id} does not exist`);
    return this.toClip(r);
  }

  /** A clip's name as stored (sealed): what an audit entry keeps to name a clip after it is gone. */
  storedName(id: number): string {
    const r = this.db.prepare(`SELECT name FROM clips WHERE id = ?`).get(id) as { name: string } | undefined;
    if (!r) throw new SpactError('not-found', `clip ${id} does not exist`);
    return r.name;
  }

  clips(opts: { roomId?: number } = {}): Clip[] {
    const rows =
      opts.roomId === undefined
        ? (this.db.prepare(`${CLIP_SELECT} ORDER BY c.id`).all() as ClipRow[])
        : (this.db.prepare(`${CLIP_SELECT} WHERE c.room_id = ? ORDER BY c.id`).all(opts.roomId) as ClipRow[]);
    return rows.map((r) => this.toClip(r));
  }

  /**
   * Moves clips to another room (null: no room), all or none. Returns each clip's room before the
   * move. Outputs stay (a clip whose newest output was made with another model than the new
   * room's shows as made with an older model).
   */
  moveClips(clipIds: number[], roomId: number | null): { clip: Clip; fromRoomId: number | null }[] {
    if (roomId !== null) this.room(roomId);
    return this.db.transaction(() => {
      const before = [...new Set(clipIds)].map((id) => this.clip(id));
      const update = this.db.prepare(`UPDATE clips SET room_id = ? WHERE id = ?`);
      for (const c of before) update.run(roomId, c.id);
      return before.map((c) => ({ clip: this.clip(c.id), fromRoomId: c.roomId }));
    })();
  }

  /** The clips of a room whose newest output was made with another model than `modelId`
   *  (clips without an output are not among them: nothing of theirs is outdated). */
  clipsMadeWithOtherModel(roomId: number, modelId: number): number[] {
    this.room(roomId);
    return (
      this.db
        .prepare(
          `SELECT c.id FROM clips c
             JOIN outputs o ON o.id = (SELECT MAX(id) FROM outputs WHERE clip_id = c.id)
            WHERE c.room_id = ? AND o.model_id != ? ORDER BY c.id`,
        )
        .all(roomId, modelId) as { id: number }[]
    ).map((r) => r.id);
  }

  /**
   * Deletes a clip and everything made of its frames in the data folder: the raw copy (a linked
   * clip's file is the user's and stays), its outputs and their thumbnails, privacy audits, and the
   * cached frames of its room's fine-tune runs that are not running (they mix every clip of the
   * room; such a run can no longer be resumed). Exports keep their history: the export row and its
   * manifest (file names, hashes, sizes) stay, the links to the deleted outputs go, and the files
   * already exported are the user's.
   */
  deleteClip(id: number): DeletionReport {
    const clip = this.clip(id);
    const outputs = this.db.prepare(`SELECT id, path FROM outputs WHERE clip_id = ?`).all(id) as {
      id: number;
      path: string;
    }[];
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM export_items WHERE output_id IN (SELECT id FROM outputs WHERE clip_id = ?)`).run(id);
      this.db.prepare(`DELETE FROM outputs WHERE clip_id = ?`).run(id);
      this.db.prepare(`DELETE FROM clips WHERE id = ?`).run(id);
    })();
    const report: DeletionReport = { files: [], bytes: 0 };
    for (const o of outputs) {
      removeFile(o.path, report);
      this.removeThumbnails(o.id, report);
    }
    const sharedCopy = this.db.prepare(`SELECT COUNT(*) AS n FROM clips WHERE path = ?`).get(clip.path) as {
      n: number;
    };
    if (clip.stored === 'copy' && sharedCopy.n === 0) removeFile(clip.path, report);
    // What the audit's judges found on its raw frames (people, poses, faces) goes with it.
    const auditCache = path.join(this.dataDir, 'audit-cache');
    const prefix = rawCachePrefix(clip.path);
    for (const n of fs.existsSync(auditCache) ? fs.readdirSync(auditCache) : [])
      if (n.startsWith(prefix)) removeFile(path.join(auditCache, n), report);
    if (clip.roomId !== null) this.removeRunFrames(clip.roomId, report);
    return report;
  }

  /** Thumbnails of an output (thumbs/output-<id>-<sha>.jpg, see services.ts). */
  private removeThumbnails(outputId: number, report: DeletionReport): void {
    const dir = path.join(this.dataDir, 'thumbs');
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) if (n.startsWith(`output-${outputId}-`)) removeFile(path.join(dir, n), report);
  }

  /**
   * Removes the cached raw frames (`footage-data`, every file but the small JSON manifests) of a
   * room's fine-tune runs, except those of runs queued or running (they end by themselves, and a
   * finished run drops its frames). Returns what was removed.
   */
  removeRunFrames(roomId: number, report: DeletionReport = { files: [], bytes: 0 }): DeletionReport {
    const runs = this.db
      .prepare(`SELECT run_dir FROM runs WHERE room_id = ? AND status NOT IN ('queued', 'running') AND run_dir != ''`)
      .all(roomId) as { run_dir: string }[];
    for (const r of runs) removeCachedFrames(r.run_dir, report);
    return report;
  }

  /**
   * Deletes a room and everything of it: its clips (as deleteClip), its runs' cached frames, and
   * the room. Refused while one of its runs is queued or running (cancel it first). Cameras and
   * runs stay as records without a room; models trained on it stay (weights, not footage).
   */
  deleteRoom(id: number): DeletionReport & { clips: number[] } {
    this.room(id);
    const active = this.db
      .prepare(`SELECT id FROM runs WHERE room_id = ? AND status IN ('queued', 'running')`)
      .all(id) as { id: number }[];
    if (active.length > 0)
      throw new SpactError(
        'conflict',
        `room ${id} has a fine-tune run in progress (run ${active.map((r) => r.id).join(', ')}); cancel it first`,
      );
    const report: DeletionReport & { clips: number[] } = { files: [], bytes: 0, clips: [] };
    for (const c of this.clips({ roomId: id })) {
      const r = this.deleteClip(c.id);
      report.files.push(...r.files);
      report.bytes += r.bytes;
      report.clips.push(c.id);
    }
    this.removeRunFrames(id, report);
    this.db.prepare(`DELETE FROM rooms WHERE id = ?`).run(id);
    return report;
  }

  /**
   * Seals what a data folder from before encryption at rest holds in the clear: raw copies (sealed
   * beside, the row moved, the plain file removed) and the names and paths of people's files.
   * Idempotent; run at start-up before any job.
   */
  async sealLegacyClips(): Promise<{ files: number; rows: number }> {
    const vault = this.requireVault();
    const rows = this.db.prepare(`SELECT id, name, source, path, stored FROM clips`).all() as Pick<
      ClipRow,
      'id' | 'name' | 'source' | 'path' | 'stored'
    >[];
    let files = 0;
    let fields = 0;
    for (const r of rows) {
      const name = vault.openText(r.name);
      if (r.stored === 'copy' && fs.existsSync(r.path) && !isSealedFile(r.path)) {
        const ext = VIDEO_EXTENSIONS.includes(path.extname(r.path).toLowerCase())
          ? path.extname(r.path).toLowerCase()
          : '';
        const sha = (this.db.prepare(`SELECT sha256 FROM clips WHERE id = ?`).get(r.id) as { sha256: string }).sha256;
        const sealed = path.join(path.dirname(r.path), `${sha.slice(0, 12)}-${vault.nameTag(name)}${ext}.sealed`);
        const tmp = `${sealed}.tmp-${process.pid}`;
        await sealedCopy(r.path, tmp, vault);
        fs.renameSync(tmp, sealed);
        this.db.prepare(`UPDATE clips SET path = ? WHERE id = ?`).run(sealed, r.id);
        fs.rmSync(r.path, { force: true });
        files++;
      }
      if (!r.name.startsWith('sealed:') || !r.source.startsWith('sealed:')) {
        this.db
          .prepare(`UPDATE clips SET name = ?, source = ? WHERE id = ?`)
          .run(vault.sealText(name), vault.sealText(vault.openText(r.source)), r.id);
        fields++;
      }
    }
    return { files, rows: fields };
  }

  // ---- raw data and retention ----
  /**
   * Where raw data of a room lives: each clip's raw file (a copy in the library, or the user's file
   * for a linked clip) and each run's cached frames, with sizes and ages. Nothing is read but sizes.
   */
  rawData(roomId: number, now: Date = new Date()): RawDataEntry[] {
    this.room(roomId);
    const out: RawDataEntry[] = [];
    const ageDays = (iso: string) => Math.max(0, (now.getTime() - Date.parse(iso)) / 86_400_000);
    for (const c of this.clips({ roomId })) {
      const st = statOrNull(c.path);
      out.push({
        kind: c.stored === 'copy' ? 'clip' : 'linked-clip',
        clipId: c.id,
        runId: null,
        path: c.path,
        files: st ? 1 : 0,
        bytes: st?.size ?? 0,
        since: c.importedAt,
        ageDays: ageDays(c.importedAt),
      });
    }
    const runs = this.db
      .prepare(`SELECT id, run_dir, created_at FROM runs WHERE room_id = ? AND run_dir != '' ORDER BY id`)
      .all(roomId) as { id: number; run_dir: string; created_at: string }[];
    for (const r of runs) {
      const frames = cachedFrameFiles(r.run_dir);
      if (frames.length === 0) continue;
      const newest = Math.max(...frames.map((f) => f.mtimeMs));
      const since = new Date(newest).toISOString();
      out.push({
        kind: 'run-frames',
        clipId: null,
        runId: r.id,
        path: path.join(r.run_dir, FOOTAGE_DATA_DIR),
        files: frames.length,
        bytes: frames.reduce((a, f) => a + f.size, 0),
        since,
        ageDays: ageDays(since),
      });
    }
    return out;
  }

  /** Sets how many days a room keeps raw clips after their import (null: off). */
  setRetention(roomId: number, days: number | null): Room {
    this.room(roomId);
    if (days !== null && (!Number.isInteger(days) || days < 1 || days > 3650))
      throw new SpactError('validation', 'retention is a whole number of days from 1 to 3650, or off');
    this.db.prepare(`UPDATE rooms SET retention_days = ? WHERE id = ?`).run(days, roomId);
    return this.room(roomId);
  }

  /** The clips whose room's retention has run out at `now` (imported more than N days before). */
  expiredClips(now: Date = new Date()): { clipId: number; roomId: number; days: number; importedAt: string }[] {
    const rows = this.db
      .prepare(
        `SELECT c.id AS clipId, c.room_id AS roomId, r.retention_days AS days, c.imported_at AS importedAt
           FROM clips c JOIN rooms r ON r.id = c.room_id WHERE r.retention_days IS NOT NULL ORDER BY c.id`,
      )
      .all() as { clipId: number; roomId: number; days: number; importedAt: string }[];
    return rows.filter((c) => now.getTime() - Date.parse(c.importedAt) >= c.days * 86_400_000);
  }

  // ---- models ----
  /** Registers a checkpoint (idempotent by sha256) and returns its record. */
  registerModel(
    modelPath: string,
    opts: { name?: string; runId?: number | null; parentId?: number | null } = {},
  ): ModelRecord {
    const file = resolveCheckpointPath(modelPath);
    const meta = readCheckpointMeta(file);
    const sha = fileSha256(file);
    const existing = this.db.prepare(`SELECT id FROM models WHERE sha256 = ?`).get(sha) as { id: number } | undefined;
    if (existing) return this.model(existing.id);
    const info = this.db
      .prepare(
        `INSERT INTO models (name, checkpoint, sha256, parent_id, run_id, preset, metrics, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        opts.name ?? path.basename(path.dirname(file)),
        file,
        sha,
        opts.parentId ?? null,
        opts.runId ?? null,
        meta.config.model.fA.widths.join('-'),
        JSON.stringify(meta.metrics),
        nowIso(),
      );
    return this.model(Number(info.lastInsertRowid));
  }

  model(id: number): ModelRecord {
    const r = this.db
      .prepare(
        `SELECT id, name, checkpoint, sha256, parent_id AS parentId, run_id AS runId, preset, created_at AS createdAt FROM models WHERE id = ?`,
      )
      .get(id) as ModelRecord | undefined;
    if (!r) throw new SpactError('not-found', `model ${id} does not exist`);
    return r;
  }

  models(): ModelRecord[] {
    return this.db
      .prepare(
        `SELECT id, name, checkpoint, sha256, parent_id AS parentId, run_id AS runId, preset, created_at AS createdAt FROM models ORDER BY id`,
      )
      .all() as ModelRecord[];
  }
}

const CLIP_SELECT = `SELECT c.*, (SELECT COUNT(*) FROM outputs o WHERE o.clip_id = c.id) AS outputs FROM clips c`;

interface ClipRow {
  id: number;
  room_id: number | null;
  name: string;
  source: string;
  path: string;
  stored: 'copy' | 'link';
  sha256: string;
  size_bytes: number;
  duration_s: number;
  width: number;
  height: number;
  fps: number;
  has_audio: number;
  imported_at: string;
  outputs: number;
  camera_id: number | null;
  mask_hash: string | null;
}

function toClip(r: ClipRow, vault: Vault | null): Clip {
  // Without the key (a listing by a locked command) the sealed fields stay unreadable.
  const open = (text: string) => (vault ? vault.openText(text) : text.startsWith('sealed:') ? '(locked)' : text);
  return {
    id: r.id,
    roomId: r.room_id,
    name: open(r.name),
    source: open(r.source),
    path: r.path,
    stored: r.stored,
    sha256: r.sha256,
    sizeBytes: r.size_bytes,
    durationS: r.duration_s,
    width: r.width,
    height: r.height,
    fps: r.fps,
    hasAudio: r.has_audio === 1,
    importedAt: r.imported_at,
    outputs: r.outputs,
    cameraId: r.camera_id ?? null,
    maskHash: r.mask_hash ?? null,
  };
}
