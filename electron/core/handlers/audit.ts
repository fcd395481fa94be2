// The audit log (who did what).
import type { HandlerDeps, HandlersOf } from './deps.js';

export const auditHandlers = ({ core, session }: HandlerDeps): HandlersOf<'audit'> => ({
  'audit.list': () => {
    session.require('admin', 'the audit log');
    return core.audit.entries(500);
  },
});
