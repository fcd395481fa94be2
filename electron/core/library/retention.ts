// Retention per room: raw clips are deleted N days after their import (rooms.retention_days; off
// by default), with everything deleteClip removes (outputs, thumbnails, the room's runs' cached
// frames). Applied by the core at start-up and daily; every deletion is audited.
import type { AuditLog } from '../audit/audit-log.js';
import type { LibraryService } from './library-service.js';

export const RETENTION_INTERVAL_MS = 24 * 60 * 60 * 1000;

export interface RetentionResult {
  deleted: { clipId: number; roomId: number; days: number; importedAt: string; files: number; bytes: number }[];
  failed: { clipId: number; error: string }[];
}

/** Deletes every clip whose room's retention has run out at `now`; one audit entry per clip. */
export function applyRetention(
  library: LibraryService,
  audit: Pick<AuditLog, 'record'>,
  now: Date = new Date(),
): RetentionResult {
  const result: RetentionResult = { deleted: [], failed: [] };
  for (const c of library.expiredClips(now)) {
    try {
      const name = library.storedName(c.clipId);
      const r = library.deleteClip(c.clipId);
      const entry = { ...c, files: r.files.length, bytes: r.bytes };
      result.deleted.push(entry);
      audit.record('retention', 'clip-expired', `clip:${c.clipId}`, {
        name, // sealed: the log can name the clip, the database shows nobody's file name
        roomId: c.roomId,
        days: c.days,
        importedAt: c.importedAt,
        files: entry.files,
        bytes: entry.bytes,
      });
    } catch (err) {
      result.failed.push({ clipId: c.clipId, error: (err as Error).message });
    }
  }
  return result;
}

/** Applies retention now (after `delayMs`) and every `intervalMs`; the timers never keep the process alive. */
export function startRetention(
  apply: () => void,
  opts: { delayMs?: number; intervalMs?: number } = {},
): { stop(): void } {
  const run = () => {
    try {
      apply();
    } catch {
      // a failure is retried at the next interval
    }
  };
  const first = setTimeout(run, opts.delayMs ?? 0);
  first.unref();
  const every = setInterval(run, opts.intervalMs ?? RETENTION_INTERVAL_MS);
  every.unref();
  return {
    stop() {
      clearTimeout(first);
      clearInterval(every);
    },
  };
}
