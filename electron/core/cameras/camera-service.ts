// The camera registry: the only sources the live view opens and the cameras clips are imported
// for. Admins register cameras (a local device, a video file, an RTSP or HTTP stream) per room with
// privacy masks; every role lists them. A camera's source is stored sealed by the vault (stream
// URLs carry credentials) and never leaves the core as it is: views show a URL without its
// userinfo and query, a file by its base name. Every change is in the audit log, never its source.
import fs from 'node:fs';
import path from 'node:path';

import type { AuditLog } from '../audit/audit-log.js';
import type { Db } from '../db/database.js';
import { nowIso } from '../db/database.js';
import { SpactError } from '../errors.js';
import type { Vault } from '../vault/vault.js';
import { masksHash, validateMasks, type MaskPolygon } from './masks.js';

export type CameraKind = 'local' | 'file' | 'rtsp' | 'http';

/** A camera as every role may see it: no credentials, no file path. */
export interface CameraView {
  id: number;
  roomId: number | null;
  name: string;
  kind: CameraKind;
  /** What the source is, shown safely: a URL without userinfo or query, a file's base name, a device id. */
  source: string;
  /** The stored URL carries a user name, password or token (never sent). */
  hasCredentials: boolean;
  masks: MaskPolygon[];
  /** sha256 of the masks (null without masks): what clips record they were imported with. */
  masksHash: string | null;
  createdAt: string;
  updatedAt: string | null;
}

/** What the core opens: the camera's real source and its masks (never sent to the renderer). */
export interface OpenedCamera {
  id: number;
  roomId: number | null;
  kind: CameraKind;
  source: string;
  masks: MaskPolygon[];
  masksHash: string | null;
  /** The source as views show it (for messages). */
  shown: string;
  /** Removes the source (and any userinfo of a URL) from a message before it leaves the core. */
  redact(message: string): string;
}

export interface CameraInput {
  name: string;
  roomId?: number | null;
  kind: CameraKind;
  source: string;
  masks?: MaskPolygon[];
}

export type CameraChange = Partial<CameraInput>;

interface CameraRow {
  id: number;
  room_id: number | null;
  name: string;
  kind: CameraKind;
  source: string;
  masks: string;
  created_at: string;
  updated_at: string | null;
}

const URL_SCHEMES: Record<'rtsp' | 'http', string[]> = { rtsp: ['rtsp:', 'rtsps:'], http: ['http:', 'https:'] };
/** Query parameters that name a secret (…?user=admin&password=…, ?token=…). */
const SECRET_PARAM = /user|pass|pwd|token|key|auth|secret|sig/i;

/** Any user:password@ of a URL in a text (ffmpeg's messages may repeat the URL). */
export function stripUserinfo(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1');
}

/** The safe face of a source: what views show and whether the stored one carries credentials. */
export function redactSource(kind: CameraKind, source: string): { shown: string; hasCredentials: boolean } {
  if (kind === 'file') return { shown: path.basename(source), hasCredentials: false };
  if (kind === 'local') return { shown: source, hasCredentials: false };
  let u: URL;
  try {
    u = new URL(source);
  } catch {
    return { shown: '(unreadable URL)', hasCredentials: true };
  }
  const params = [...u.searchParams.keys()];
  const hasCredentials = Boolean(u.username || u.password) || params.some((k) => SECRET_PARAM.test(k));
  // The query is dropped whole: it may carry a token under any name.
  return { shown: `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`, hasCredentials };
}

/** Checks a source for its kind; returns it normalised (files: absolute). */
function checkSource(kind: CameraKind, source: string): string {
  const s = source.trim();
  if (!s) throw new SpactError('validation', 'a camera needs a source');
  if (kind === 'local') {
    if (s.length > 512) throw new SpactError('validation', 'a local camera is a device id of at most 512 characters');
    return s;
  }
  if (kind === 'file') {
    if (!path.isAbsolute(s)) throw new SpactError('validation', 'a file camera needs an absolute path');
    let st: fs.Stats;
    try {
      st = fs.statSync(s);
    } catch {
      throw new SpactError('not-found', `${path.basename(s)}: no such file`);
    }
    if (!st.isFile()) throw new SpactError('bad-input', `${path.basename(s)}: not a file`);
    return path.resolve(s);
  }
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new SpactError('validation', `a ${kind.toUpperCase()} camera needs a URL`);
  }
  if (!URL_SCHEMES[kind].includes(u.protocol) || !u.hostname)
    throw new SpactError(
      'validation',
      `a ${kind.toUpperCase()} camera needs a ${URL_SCHEMES[kind].map((p) => p.slice(0, -1)).join(' or ')}:// URL with a host`,
    );
  return s;
}

function checkName(name: string): string {
  const n = name.trim();
  if (!n || n.length > 80) throw new SpactError('validation', 'a camera needs a name of 1–80 characters');
  return n;
}

export class CameraService {
  constructor(
    private readonly db: Db,
    private readonly vault: Vault,
    private readonly audit: AuditLog,
  ) {}

  private row(id: number): CameraRow {
    const r = this.db.prepare(`SELECT * FROM cameras WHERE id = ?`).get(id) as CameraRow | undefined;
    if (!r) throw new SpactError('not-found', `camera ${id} does not exist`);
    return r;
  }

  private masksOf(r: CameraRow): MaskPolygon[] {
    try {
      return validateMasks(JSON.parse(r.masks));
    } catch {
      // A damaged mask column must not open the camera unmasked.
      throw new SpactError('internal', `camera ${r.id}: its privacy masks cannot be read; set them again`);
    }
  }

  private toView(r: CameraRow): CameraView {
    const masks = this.masksOf(r);
    const { shown, hasCredentials } = redactSource(r.kind, this.vault.openText(r.source));
    return {
      id: r.id,
      roomId: r.room_id,
      name: r.name,
      kind: r.kind,
      source: shown,
      hasCredentials,
      masks,
      masksHash: masks.length ? masksHash(masks) : null,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    };
  }

  private checkRoom(roomId: number | null | undefined): void {
    if (roomId == null) return;
    if (!this.db.prepare(`SELECT 1 FROM rooms WHERE id = ?`).get(roomId))
      throw new SpactError('not-found', `room ${roomId} does not exist`);
  }

  /** Every camera (of one room when given), for every role. */
  list(opts: { roomId?: number } = {}): CameraView[] {
    const rows =
      opts.roomId === undefined
        ? (this.db.prepare(`SELECT * FROM cameras ORDER BY id`).all() as CameraRow[])
        : (this.db.prepare(`SELECT * FROM cameras WHERE room_id = ? ORDER BY id`).all(opts.roomId) as CameraRow[]);
    return rows.map((r) => this.toView(r));
  }

  get(id: number): CameraView {
    return this.toView(this.row(id));
  }

  /** The camera as the core opens it: its real source and masks. Never hand this to a renderer. */
  open(id: number): OpenedCamera {
    const r = this.row(id);
    const source = this.vault.openText(r.source);
    const masks = this.masksOf(r);
    const { shown } = redactSource(r.kind, source);
    return {
      id: r.id,
      roomId: r.room_id,
      kind: r.kind,
      source,
      masks,
      masksHash: masks.length ? masksHash(masks) : null,
      shown,
      redact: (message) => stripUserinfo(message.split(source).join(shown)),
    };
  }

  /** Admin: registers a camera (the caller checks the role); audited without its source. */
  create(actor: string, input: CameraInput): CameraView {
    const name = checkName(input.name);
    this.checkRoom(input.roomId);
    const source = checkSource(input.kind, input.source);
    const masks = validateMasks(input.masks ?? []);
    const info = this.db
      .prepare(
        `INSERT INTO cameras (room_id, name, kind, source, masks, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, NULL)`,
      )
      .run(input.roomId ?? null, name, input.kind, this.vault.sealText(source), JSON.stringify(masks), nowIso());
    const view = this.get(Number(info.lastInsertRowid));
    this.audit.record(actor, 'camera-create', `camera:${view.id}`, this.auditDetails(view));
    return view;
  }

  /** Admin: changes a camera's name, room, source (kind with it) and/or masks; audited. */
  update(actor: string, id: number, change: CameraChange): CameraView {
    const r = this.row(id);
    if (change.kind !== undefined && change.source === undefined && change.kind !== r.kind)
      throw new SpactError('validation', 'give the new source with the new kind');
    const sets: string[] = [];
    const values: unknown[] = [];
    const changed: string[] = [];
    if (change.name !== undefined) {
      sets.push('name = ?');
      values.push(checkName(change.name));
      changed.push('name');
    }
    if (change.roomId !== undefined) {
      this.checkRoom(change.roomId);
      sets.push('room_id = ?');
      values.push(change.roomId);
      changed.push('room');
    }
    if (change.source !== undefined) {
      const kind = change.kind ?? r.kind;
      sets.push('kind = ?', 'source = ?');
      values.push(kind, this.vault.sealText(checkSource(kind, change.source)));
      changed.push('source');
    }
    if (change.masks !== undefined) {
      sets.push('masks = ?');
      values.push(JSON.stringify(validateMasks(change.masks)));
      changed.push('masks');
    }
    if (sets.length === 0) throw new SpactError('validation', 'nothing to change: give a name, room, source or masks');
    this.db.prepare(`UPDATE cameras SET ${sets.join(', ')}, updated_at = ? WHERE id = ?`).run(...values, nowIso(), id);
    const view = this.get(id);
    this.audit.record(actor, 'camera-update', `camera:${id}`, { changed, ...this.auditDetails(view) });
    return view;
  }

  /** Admin: removes a camera; its clips stay (camera_id becomes NULL), masked as they were imported. */
  remove(actor: string, id: number): number {
    const view = this.get(id);
    this.db.prepare(`DELETE FROM cameras WHERE id = ?`).run(id);
    this.audit.record(actor, 'camera-delete', `camera:${id}`, { name: view.name, kind: view.kind });
    return id;
  }

  /** What the audit log keeps of a camera: never its source, only whether it has credentials. */
  private auditDetails(v: CameraView) {
    return {
      name: v.name,
      kind: v.kind,
      roomId: v.roomId,
      hasCredentials: v.hasCredentials,
      masks: v.masks.length,
      masksHash: v.masksHash,
    };
  }
}
