// The library: clips (import, deletion, anonymization, raw playback, privacy audits) and models.
import path from 'node:path';

import type { ClipView } from '../../contract.js';
import type { AnonymizeJob } from '../app-core.js';
import { SpactError } from '../errors.js';
import type { JobRecord } from '../jobs/job-runner.js';
import type { AuditJob } from '../privacy-audit/audit.js';
import { chooseModel, requireRaw, viewClip, type HandlerDeps, type HandlersOf } from './deps.js';
import { jobView, modelView } from './views.js';

export const clipHandlers = (d: HandlerDeps): HandlersOf<'clips'> => {
  const { core, session, cameras, audits, rawViews } = d;
  /** The clip's audit job while it is queued or running. */
  const auditJobOf = (clipId: number): JobRecord | null =>
    [...core.jobs.list({ status: 'running' }), ...core.jobs.list({ status: 'queued' })].find(
      (j) => j.kind === 'audit' && (j.payload as AuditJob).clipId === clipId,
    ) ?? null;

  return {
    'clips.list': (r) => core.library.clips(r.roomId ? { roomId: r.roomId } : {}).map((c) => viewClip(d, c)),
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
      const report = core.library.deleteClip(r.id);
      core.audit.record(session.current, 'clip-delete', `clip:${r.id}`, {
        files: report.files.length,
        bytes: report.bytes,
      });
      return { deleted: r.id };
    },
    'clips.anonymize': (r) => {
      session.require('operator', 'anonymizing clips');
      const s = d.readSettings();
      // One job per clip and model at a time: a clip named twice, or one whose job for this model
      // is still queued or running, joins that job (its id comes back, once per clip id asked for)
      // instead of making a second output.
      const jobIds = r.clipIds.map((clipId) => {
        const clip = core.library.clip(clipId);
        const modelId = chooseModel(d, r.modelId, clip.roomId);
        const same = core.jobs.active('anonymize', (p) => {
          const a = p as AnonymizeJob;
          return a.clipId === clipId && a.modelId === modelId;
        });
        if (same) return same.id;
        // No size here: the job resolves the clip's room working size (the app setting without a
        // room) when it runs, measuring the room's people first when it is auto and unmeasured.
        return core.jobs.enqueue('anonymize', {
          clipId,
          modelId,
          settings: { keepAudio: s.keepAudio },
        }).id;
      });
      return { jobIds };
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
