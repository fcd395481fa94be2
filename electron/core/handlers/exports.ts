// Exports of anonymized clips to a folder.
import type { ExportView } from '../../contract.js';
import type { HandlerDeps, HandlersOf } from './deps.js';

export const exportHandlers = ({ core, session }: HandlerDeps): HandlersOf<'exports'> => ({
  'exports.start': async (r) => {
    session.require('operator', 'exporting');
    const what = r.clipIds ? { clipIds: r.clipIds } : { roomId: r.roomId! };
    // Clips made by different models are not mixed unasked (refused before the folder is touched).
    core.exports.checkModels(what, r.allowMixedModels ?? false);
    // The folder is checked (off this thread, within 2 s) before the job is queued.
    await core.exports.checkDestination(r.to, { overwrite: r.overwrite ?? false });
    const job = core.jobs.enqueue('export', {
      ...what,
      to: r.to,
      actor: session.current,
      includeRoom: r.includeRoom ?? false,
      overwrite: r.overwrite ?? false,
      allowMixedModels: r.allowMixedModels ?? false,
    });
    return { jobId: job.id };
  },
  'exports.list': () => {
    // Failed export jobs stay in History with their reason (the jobs table keeps them).
    const failed: ExportView[] = core.jobs
      .list({ status: 'failed', limit: 200 })
      .filter((j) => j.kind === 'export')
      .map((j) => ({
        id: j.id,
        destination: String((j.payload as { to?: unknown }).to ?? ''),
        items: 0,
        actor: String((j.payload as { actor?: unknown }).actor ?? ''),
        createdAt: j.createdAt,
        status: 'failed' as const,
        error: j.error,
      }));
    const done: ExportView[] = core.exports.exports().map((e) => ({ ...e, status: 'done' as const }));
    return [...done, ...failed].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  },
  'exports.plan': (r) => {
    session.require('operator', 'exporting');
    return core.exports.plan(r.clipIds ? { clipIds: r.clipIds } : { roomId: r.roomId! });
  },
  'exports.browse': (r) => {
    session.require('operator', 'choosing an export folder');
    return core.exports.browse(r.path);
  },
});
