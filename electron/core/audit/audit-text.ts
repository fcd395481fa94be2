// The audit log in words: "admin deleted clip 'Kitchen 3' (room Kitchen)" instead of
// "clip-delete clip:12". Names are looked up when the log is shown (rooms, clips, cameras and
// models as they are named now); a deleted clip's name comes from its entry, where it is kept
// sealed. The ids stay in the entry's object and details.
import type { AuditEntry } from './audit-log.js';

/** What the wording needs to know about the library now; null: no such thing (any more). */
export interface AuditNames {
  clip(id: number): { name: string; roomId: number | null } | null;
  room(id: number): string | null;
  camera(id: number): string | null;
  model(id: number): string | null;
  /** Opens a sealed name kept in an entry (null when it cannot be opened). */
  open(sealed: string): string | null;
}

type Details = Record<string, unknown>;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** "clip:12" → 12 when the object is of that kind. */
function idOf(object: string | null, kind: string): number | null {
  const m = object ? new RegExp(`^${kind}:(\\d+)$`).exec(object) : null;
  return m ? Number(m[1]) : null;
}

const quoted = (name: string) => `'${name}'`;

export function describeAuditEntry(e: AuditEntry, names: AuditNames): string {
  const d: Details = e.details && typeof e.details === 'object' ? (e.details as Details) : {};
  const room = (id: number | null): string => {
    if (id === null) return 'no room';
    const n = names.room(id);
    return n === null ? `room #${id} (deleted)` : `room ${n}`;
  };
  const clipId = idOf(e.object, 'clip');
  const clip = (): string => {
    if (clipId === null) return e.object ?? 'a clip';
    const now = names.clip(clipId);
    const kept = str(d.name);
    const name = now?.name ?? (kept ? names.open(kept) : null);
    return name === null ? `clip #${clipId}` : `clip ${quoted(name)}`;
  };
  const clipRoom = (): number | null =>
    num(d.roomId) ?? (clipId !== null ? (names.clip(clipId)?.roomId ?? null) : null);
  const roomId = idOf(e.object, 'room');
  const cameraId = idOf(e.object, 'camera') ?? num(d.cameraId);
  const camera = () => {
    const n = cameraId !== null ? (names.camera(cameraId) ?? str(d.name)) : str(d.name);
    return n === null ? `camera #${cameraId ?? '?'}` : `camera ${quoted(n)}`;
  };
  const model = (id: number | null) => {
    if (id === null) return 'the default model';
    const n = names.model(id);
    return n === null ? `model #${id}` : `model ${quoted(n)}`;
  };
  const count = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
  const who = e.actor.charAt(0).toUpperCase() + e.actor.slice(1);

  switch (e.action) {
    case 'clip-delete':
      return `${who} deleted ${clip()} (${room(clipRoom())})`;
    case 'clip-expired':
      return `Retention deleted ${clip()} (${room(clipRoom())}) after ${num(d.days) ?? '?'} day(s)`;
    case 'clip-move':
      return `${who} moved ${clip()} from ${room(num(d.fromRoomId))} to ${room(num(d.roomId))}`;
    case 'raw-view':
      if (e.object?.startsWith('live:')) return `${who} watched the raw live video of ${camera()}`;
      return `${who} viewed the raw video of ${clip()}`;
    case 'raw-view-denied':
      return `${who} was refused the raw video of ${clip()}`;
    case 'upload-denied':
      return `${who} was refused an import`;
    case 'export': {
      const items = num(d.items);
      const to = str(d.destination);
      return `${who} exported ${items === null ? 'clips' : count(items, 'clip')}${to ? ` to ${to}` : ''}`;
    }
    case 'camera-create':
      return `${who} registered ${camera()}`;
    case 'camera-update':
      return `${who} changed ${camera()}${Array.isArray(d.changed) ? ` (${d.changed.join(', ')})` : ''}`;
    case 'camera-delete':
      return `${who} removed ${camera()}`;
    case 'room-model':
      return `${who} set the model of ${room(roomId)} to ${model(num(d.modelId))}`;
    case 'room-size':
      return `${who} changed the working size of ${room(roomId)}`;
    case 'room-delete':
      return `${who} deleted ${room(roomId)} with ${count(Array.isArray(d.clips) ? d.clips.length : 0, 'clip')}`;
    case 'room-retention': {
      const days = num(d.days);
      return `${who} set the retention of ${room(roomId)} to ${days === null ? 'off' : `${days} day(s)`}`;
    }
    case 'room-reanonymize':
      return `${who} anonymized ${count(Array.isArray(d.clips) ? d.clips.length : 0, 'clip')} of ${room(roomId)} again with ${model(num(d.modelId))}`;
    case 'promote':
      return `${who} promoted the model of fine-tune run #${idOf(e.object, 'run') ?? '?'} in ${room(num(d.roomId))}`;
    case 'settings':
      return `${who} changed the settings`;
    case 'role-switch':
      return `${who} signed in as ${e.object ?? '?'}${d.pin ? ' with a PIN' : ''}`;
    case 'role-switch-denied':
      return `${who} was refused the ${e.object ?? '?'} role${d.reason === 'no-pin' ? ' (no PIN given)' : ' (wrong PIN)'}`;
    case 'role-switch-locked':
      return `${who} tried the locked ${e.object ?? '?'} role`;
    case 'pin-lockout':
      return `The ${e.object ?? '?'} PIN was locked after ${num(d.failures) ?? '?'} wrong tries`;
    case 'pin-set':
      return `${who} set the ${e.object ?? '?'} PIN`;
    case 'pin-removed':
      return `${who} removed the ${e.object ?? '?'} PIN`;
    case 'pin-lockouts-acknowledged':
      return `${who} acknowledged PIN lockouts`;
    default:
      return `${who}: ${e.action}${e.object ? ` ${e.object}` : ''}`;
  }
}
