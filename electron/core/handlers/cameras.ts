// Registered cameras (admins register them, every role picks from the list).
import type { HandlerDeps, HandlersOf } from './deps.js';

export const cameraHandlers = ({ session, cameras }: HandlerDeps): HandlersOf<'cameras'> => ({
  'cameras.list': (r) => cameras.list(r.roomId !== undefined ? { roomId: r.roomId } : {}),
  'cameras.create': (r) => {
    session.require('admin', 'registering cameras');
    return cameras.create(session.current, r);
  },
  'cameras.update': (r) => {
    session.require('admin', 'changing cameras');
    const { cameraId, ...change } = r;
    return cameras.update(session.current, cameraId, change);
  },
  'cameras.delete': (r) => {
    session.require('admin', 'removing cameras');
    return { deleted: cameras.remove(session.current, r.cameraId) };
  },
});
