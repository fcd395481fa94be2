// Exports of anonymized clips to a folder.
import type { HandlerDeps, HandlersOf } from './deps.js';

export const exportHandlers = ({ core, session }: HandlerDeps): HandlersOf<'exports'> => ({
  'exports.start': async (r) => {
    session.require('operator', 'exporting');
    // The folder is checked (off this thread, within 2 s) before the job is queued.
    await core.exports.checkDestination(r.to, { overwrite: r.overwrite ?? false });
    const job = core.jobs.enqueue('export', {
      ...(r.clipIds ? { clipIds: r.clipIds } : { roomId: r.roomId }),
      to: r.to,
      actor: session.current,
      includeRoom: r.includeRoom ?? false,
      overwrite: r.overwrite ?? false,
    });
    return { jobId: job.id };
  },
  'exports.list': () => core.exports.exports(),
});
