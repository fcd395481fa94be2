// What every domain's handlers share: the core and the services built on it (one instance per
// running app, made in services.ts), and the few helpers several domains use.
import type { ClipView, MethodName, Settings } from '../../contract.js';
import type { Handlers } from '../api-dispatcher.js';
import type { AppCore } from '../app-core.js';
import type { RawViewLog } from '../audit/raw-view-log.js';
import type { CameraService } from '../cameras/camera-service.js';
import { SpactError } from '../errors.js';
import type { EventHub } from '../event-hub.js';
import type { Clip } from '../library/library-service.js';
import type { LiveService } from '../live/live-service.js';
import type { PrivacyAuditStore } from '../privacy-audit/audit.js';
import type { SessionService } from '../session/session-service.js';
import type { RunsService } from '../training/runs-service.js';
import { clipView } from './views.js';

export interface HandlerDeps {
  core: AppCore;
  session: SessionService;
  events: EventHub;
  runs: RunsService;
  live: LiveService;
  /** The only sources live opens; admins register them, with privacy masks. */
  cameras: CameraService;
  /** Stored privacy audits of outputs. */
  audits: PrivacyAuditStore;
  /** Raw playbacks granted by clips.rawAccess (one audited view per playback). */
  rawViews: RawViewLog;
  /** The settings as stored, within today's limits. */
  readSettings(): Settings;
}

/** The handlers of the contract methods whose names start with `<prefix>.`: each domain's module
 *  returns exactly its part, and services.ts checks that the parts cover every method. */
export type HandlersOf<P extends string> = Pick<Handlers, Extract<MethodName, `${P}.${string}`>>;

/** The model to use: explicit, else the room's active model, else the settings' default, else the shipped one. */
export function chooseModel(d: HandlerDeps, explicit: number | null | undefined, roomId?: number | null): number {
  const { core } = d;
  if (explicit) return core.library.model(explicit).id;
  if (roomId) {
    const room = core.library.room(roomId);
    if (room.activeModelId) return room.activeModelId;
  }
  const s = d.readSettings();
  if (s.defaultModelId) return s.defaultModelId;
  const m = core.defaultModel();
  if (!m)
    throw new SpactError('not-found', 'no model: the default model is not installed and none is chosen in Settings');
  return m.id;
}

/**
 * Raw video is admin only; a refusal is audited like a view. One view, one entry: clips.rawAccess
 * (the app asks before playing) records the view, and the media requests of that playback (a
 * video element makes several Range requests) are part of it. A media request without a recent
 * rawAccess (another player, a reload) records the view itself.
 */
export function requireRaw(d: HandlerDeps, object: string, what = 'raw video'): void {
  if (d.session.allows('admin')) return;
  d.core.audit.record(d.session.current, 'raw-view-denied', object);
  d.session.require('admin', what);
}

/** A clip as the contract shows it, with its anonymized outputs. */
export const viewClip = (d: HandlerDeps, c: Clip): ClipView => clipView(c, d.core.anonymize.outputs({ clipId: c.id }));
