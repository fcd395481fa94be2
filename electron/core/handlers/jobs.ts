// The job queue as the user sees it.
import type { HandlerDeps, HandlersOf } from './deps.js';
import { jobView } from './views.js';

export const jobHandlers = ({ core, session }: HandlerDeps): HandlersOf<'jobs'> => ({
  'jobs.list': () => core.jobs.list({ limit: 100 }).map(jobView),
  'jobs.cancel': (r) => {
    session.require('operator', 'cancelling jobs');
    return jobView(core.jobs.cancel(r.id));
  },
});
