// Roles and PINs.
import type { HandlerDeps, HandlersOf } from './deps.js';

export const sessionHandlers = ({ session, events }: HandlerDeps): HandlersOf<'session'> => ({
  'session.get': () => session.state(),
  'session.switch': (r) => {
    const s = session.switchTo(r.role, r.pin);
    events.emit('session.changed', s);
    return s;
  },
  'session.setPin': (r) => session.setPin(r.role, r.pin),
  'session.ackLockouts': () => session.acknowledgeLockouts(),
});
