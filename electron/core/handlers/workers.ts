// Workers of the distributed queue (admin only): who is online, and draining one.
import { SpactError } from '../errors.js';
import type { HandlerDeps, HandlersOf } from './deps.js';

export const workerHandlers = ({ core, session }: HandlerDeps): HandlersOf<'workers'> => ({
  'workers.list': async () => {
    session.require('admin', 'the workers');
    const d = core.distributed;
    return { mode: d ? ('bullmq' as const) : ('embedded' as const), workers: d ? await d.workers() : [] };
  },
  'workers.drain': async (r) => {
    session.require('admin', 'draining workers');
    if (!core.distributed)
      throw new SpactError('conflict', 'jobs run in the app itself: there is no worker (start it with --redis)');
    await core.distributed.drain(r.id);
    return { id: r.id };
  },
});
