// The audit log (who did what), each entry also in words with today's names.
import type { AuditNames } from '../audit/audit-text.js';
import { describeAuditEntry } from '../audit/audit-text.js';
import type { HandlerDeps, HandlersOf } from './deps.js';
import { modelView } from './views.js';

export const auditHandlers = ({ core, session, cameras }: HandlerDeps): HandlersOf<'audit'> => ({
  'audit.list': () => {
    session.require('admin', 'the audit log');
    const { library, vault } = core;
    // Looked up once per listing: names as the library has them now (a name that cannot be read is none).
    const found = <T>(f: () => T): T | null => {
      try {
        return f();
      } catch {
        return null;
      }
    };
    const rooms = new Map(library.rooms().map((r) => [r.id, r.name]));
    const shipped = core.defaultModel()?.id;
    const models = new Map(library.models().map((m) => [m.id, modelView(m, shipped).name]));
    const names: AuditNames = {
      clip: (id) => found(() => library.clip(id)),
      room: (id) => rooms.get(id) ?? null,
      camera: (id) => found(() => cameras.get(id).name),
      model: (id) => models.get(id) ?? null,
      open: (sealed) => {
        const name = found(() => vault.openText(sealed));
        return name === '(unreadable)' ? null : name;
      },
    };
    return core.audit.entries(500).map((e) => ({ ...e, text: describeAuditEntry(e, names) }));
  },
});
