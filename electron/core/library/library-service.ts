// The clip library: rooms, cameras, raw clips (copied or linked into the data folder, with their
// sha256), and the models known to the app. Every multi-row change is one transaction.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { fileSha256, readCheckpointMeta, resolveCheckpointPath } from '../../../native-models/ts/checkpoint.js';
import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';
import { SpactError } from '../errors.js';
import { probeVideo, type VideoInfo } from '../media/video.js';
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

/** Streams a file through sha256 (no whole-file read). */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

const safeName = (name: string) => name.replace(/[^\w.-]+/g, '_').slice(0, 80) || 'clip';

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
  ) {}

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
  async importClip(file: string, opts: { roomId?: number | null; link?: boolean } = {}): Promise<Clip> {
    const source = path.resolve(file);
    const info: VideoInfo = await probeVideo(source);
    if (opts.roomId != null) this.room(opts.roomId);
    const sha = await sha256File(source);
    let stored = source;
    // The copy's temporary name, kept (hard-linked to the copy) until its row exists: a copy whose
    // writer died before recording it is found and removed at start-up (reconcileUnrecordedImports).
    let pending: string | null = null;
    if (!opts.link) {
      fs.mkdirSync(this.clipsDir, { recursive: true });
      stored = path.join(this.clipsDir, `${sha.slice(0, 12)}-${safeName(path.basename(source))}`);
      if (!fs.existsSync(stored)) {
        const tmp = `${stored}.tmp-${process.pid}`;
        try {
          fs.copyFileSync(source, tmp);
          if (publishCopy(tmp, stored) === 'linked') pending = tmp;
        } catch (err) {
          fs.rmSync(tmp, { force: true });
          const code = (err as NodeJS.ErrnoException).code;
          throw new SpactError(
            'unavailable',
            `${source}: could not copy into the library (${code === 'ENOSPC' ? 'the disk is full' : code})`,
          );
        }
      }
    }
    try {
      return this.recordClip(source, stored, sha, info, opts);
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
    opts: { roomId?: number | null; link?: boolean },
  ): Clip {
    const existing = this.db.prepare(`SELECT id FROM clips WHERE path = ?`).get(stored) as { id: number } | undefined;
    if (existing) return this.clip(existing.id);
    const row = this.db
      .prepare(
        `INSERT INTO clips (room_id, name, source, path, stored, sha256, size_bytes, duration_s, width, height, fps, has_audio, imported_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        opts.roomId ?? null,
        path.basename(source),
        source,
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

  clip(id: number): Clip {
    const r = this.db.prepare(`${CLIP_SELECT} WHERE c.id = ?`).get(id) as ClipRow | undefined;
    if (!r) throw new SpactError('not-found', `clip ${id} does not exist`);
    return toClip(r);
  }

  clips(opts: { roomId?: number } = {}): Clip[] {
    const rows =
      opts.roomId === undefined
        ? (this.db.prepare(`${CLIP_SELECT} ORDER BY c.id`).all() as ClipRow[])
        : (this.db.prepare(`${CLIP_SELECT} WHERE c.room_id = ? ORDER BY c.id`).all(opts.roomId) as ClipRow[]);
    return rows.map(toClip);
  }

  /** Deletes a clip, its outputs' rows and files, and (for copies) the stored file. */
  deleteClip(id: number): void {
    const clip = this.clip(id);
    const outputs = this.db.prepare(`SELECT path FROM outputs WHERE clip_id = ?`).all(id) as { path: string }[];
    const inExports = this.db
      .prepare(`SELECT COUNT(*) AS n FROM export_items ei JOIN outputs o ON o.id = ei.output_id WHERE o.clip_id = ?`)
      .get(id) as { n: number };
    if (inExports.n > 0)
      throw new SpactError('conflict', `clip ${id} has exported outputs; the export history keeps them`);
    this.db.transaction(() => {
      this.db.prepare(`DELETE FROM outputs WHERE clip_id = ?`).run(id);
      this.db.prepare(`DELETE FROM clips WHERE id = ?`).run(id);
    })();
    for (const o of outputs) fs.rmSync(o.path, { force: true });
    const sharedCopy = this.db.prepare(`SELECT COUNT(*) AS n FROM clips WHERE path = ?`).get(clip.path) as {
      n: number;
    };
    if (clip.stored === 'copy' && sharedCopy.n === 0) fs.rmSync(clip.path, { force: true });
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
}

function toClip(r: ClipRow): Clip {
  return {
    id: r.id,
    roomId: r.room_id,
    name: r.name,
    source: r.source,
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
  };
}
