// The library: clips (import, deletion, anonymization, raw playback, privacy audits) and models.
import path from 'node:path';

import type { ClipView } from '../../contract.js';
import type { AnonymizeJob } from '../app-core.js';
import { SpactError } from '../errors.js';
import type { JobRecord } from '../jobs/job-runner.js';
import type { AuditJob } from '../privacy-audit/audit.js';
import { chooseModel, requireRaw, viewClip, type HandlerDeps, type HandlersOf } from './deps.js';
import { jobView, modelView } from './views.js';

/**
 * Queues the anonymization of a clip with a model. One job per clip and model at a time: one
 * whose job for this model is still queued or running joins that job (its id comes back) instead
 * of making a second output.
 */
export function enqueueAnonymize(d: HandlerDeps, clipId: number, modelId: number): number {
  const { core } = d;
  const same = core.jobs.active('anonymize', (p) => {
    const a = p as AnonymizeJob;
    return a.clipId === clipId && a.modelId === modelId;
  });
  if (same) return same.id;
  // No size here: the job resolves the clip's room working size (the app setting without a
  // room) when it runs, measuring the room's people first when it is auto and unmeasured.
  return core.jobs.enqueue('anonymize', { clipId, modelId, settings: { keepAudio: d.readSettings().keepAudio } }).id;
}

/** The model a room's clips are anonymized with now (null when no model is installed or chosen). */
export function currentModelOf(d: HandlerDeps, roomId: number | null): number | null {
  try {
    return chooseModel(d, null, roomId);
  } catch (err) {
    if (err instanceof SpactError && err.kind === 'not-found') return null;
    throw err;
  }
}

export const clipHandlers = (d: HandlerDeps): HandlersOf<'clips'> => {
  const { core, session, cameras, audits, rawViews } = d;
  /** The clip's audit job while it is queued or running. */
  const auditJobOf = (clipId: number): JobRecord | null =>
    [...core.jobs.list({ status: 'running' }), ...core.jobs.list({ status: 'queued' })].find(
      (j) => j.kind === 'audit' && (j.payload as AuditJob).clipId === clipId,
    ) ?? null;

  return {
    'clips.list': (r) => {
      // Flags the clips of a room whose newest output another model made than the room's own now.
      const current = new Map<number, number | null>();
      return core.library.clips(r.roomId ? { roomId: r.roomId } : {}).map((c) => {
        const view = viewClip(d, c);
        const newest = view.outputs.at(-1);
        if (c.roomId === null || !newest) return view;
        if (!current.has(c.roomId)) current.set(c.roomId, currentModelOf(d, c.roomId));
        const model = current.get(c.roomId);
        return model == null ? view : { ...view, olderModel: newest.modelId !== model };
      });
    },
    'clips.import': async (r) => {
      session.require('operator', 'importing clips');
      const imported: ClipView[] = [];
      const failed: { file: string; error: string }[] = [];
      // A camera's clips go to its room (unless one is given) and are stored with its masks burned in.
      const camera = r.cameraId !== undefined ? cameras.open(r.cameraId) : null;
      const roomId = r.roomId !== undefined ? r.roomId : (camera?.roomId ?? null);
      for (const p of r.paths) {
        try {
          imported.push(
            viewClip(
              d,
              await core.library.importClip(p, {
                roomId,
                ...(camera ? { camera: { id: camera.id, masks: camera.masks } } : {}),
              }),
            ),
          );
        } catch (err) {
          failed.push({ file: path.basename(p), error: (err as Error).message });
        }
      }
      return { imported, failed };
    },
    'clips.delete': async (r) => {
      session.require('operator', 'deleting clips');
      core.library.clip(r.id); // a clip that does not exist is not found, whatever its jobs
      // Its jobs end first (anonymize, audit, an export naming it): a queued one is cancelled, a
      // running one is stopped and awaited, so no job writes a file of a clip that is gone.
      const onClip = (payload: unknown) => {
        const p = payload as { clipId?: unknown; clipIds?: unknown };
        return p.clipId === r.id || (Array.isArray(p.clipIds) && p.clipIds.includes(r.id));
      };
      const active = [...core.jobs.list({ status: 'queued' }), ...core.jobs.list({ status: 'running' })].filter((j) =>
        onClip(j.payload),
      );
      for (const j of active) core.jobs.cancel(j.id);
      await Promise.all(active.map((j) => core.jobs.wait(j.id)));
      const clip = core.library.clip(r.id);
      const report = core.library.deleteClip(r.id);
      // The name is kept sealed (a file name may name a person) so that the log can say what went.
      core.audit.record(session.current, 'clip-delete', `clip:${r.id}`, {
        name: core.vault.sealText(clip.name),
        roomId: clip.roomId,
        files: report.files.length,
        bytes: report.bytes,
      });
      return { deleted: r.id };
    },
    'clips.anonymize': (r) => {
      session.require('operator', 'anonymizing clips');
      // A clip named twice joins its own job (its id comes back, once per clip id asked for).
      const jobIds = r.clipIds.map((clipId) => {
        const clip = core.library.clip(clipId);
        return enqueueAnonymize(d, clipId, chooseModel(d, r.modelId, clip.roomId));
      });
      return { jobIds };
    },
    'clips.move': (r) => {
      session.require('admin', 'moving clips to another room');
      const moved = core.library.moveClips(r.clipIds, r.roomId);
      for (const m of moved)
        core.audit.record(session.current, 'clip-move', `clip:${m.clip.id}`, {
          name: core.vault.sealText(m.clip.name),
          fromRoomId: m.fromRoomId,
          roomId: r.roomId,
        });
      return { moved: moved.map((m) => m.clip.id) };
    },
    'clips.rawAccess': (r) => {
      requireRaw(d, `clip:${r.clipId}`);
      core.library.clip(r.clipId);
      rawViews.start(r.clipId);
      return { granted: true as const };
    },
    // Privacy audits run as jobs (minutes) and are stored with the output they judged.
    'clips.audit': (r) => {
      session.require('operator', 'privacy audits');
      const clip = core.library.clip(r.clipId);
      const out = core.anonymize.latestOutput(clip.id);
      if (!out) throw new SpactError('conflict', `clip ${clip.id} has no anonymized output to audit`);
      const running = auditJobOf(clip.id);
      if (running) return { jobId: running.id, clipId: clip.id, outputId: (running.payload as AuditJob).outputId };
      const job: AuditJob = {
        clipId: clip.id,
        outputId: out.id,
        actor: session.current,
        ...(r.startS !== undefined ? { startS: r.startS } : {}),
        ...(r.endS !== undefined ? { endS: r.endS } : {}),
      };
      // Not retried: a failed audit is reported, not run again behind the user's back.
      return { jobId: core.jobs.enqueue('audit', job, { maxAttempts: 1 }).id, clipId: clip.id, outputId: out.id };
    },
    'clips.auditReport': (r) => {
      const clip = core.library.clip(r.clipId);
      if (r.outputId !== undefined && core.anonymize.output(r.outputId).clipId !== clip.id)
        throw new SpactError('not-found', `output ${r.outputId} is not an output of clip ${clip.id}`);
      const latest = audits.latest(r.outputId !== undefined ? { outputId: r.outputId } : { clipId: clip.id });
      const job = auditJobOf(clip.id);
      return { audit: latest ?? null, job: job ? jobView(job) : null };
    },
  };
};

export const modelHandlers = ({ core }: HandlerDeps): HandlersOf<'models'> => ({
  'models.list': () => {
    const def = core.defaultModel();
    return core.library.models().map((m) => modelView(m, def?.id));
  },
});
