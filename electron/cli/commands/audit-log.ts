// `spact audit-log verify`: walks the hash-chained audit log of a library and names the first
// broken link (an entry edited, removed or inserted outside the app, or the newest ones removed).
import fs from 'node:fs';
import path from 'node:path';

import { AuditLog } from '../../core/audit/audit-log.js';
import { openDatabase } from '../../core/db/database.js';
import { defaultDataDir } from '../../core/paths.js';
import { parseCommandArgs, printJson, UsageError, type Command } from '../cli-kit.js';

export const auditLogCommand: Command = {
  name: 'audit-log',
  summary: 'check that the audit log was not edited: every entry chained to the one before',
  usage: `spact audit-log verify [--data-dir DIR] [--head HASH] [--json]

Walks the audit log from its first entry: each entry carries the hash of the entry before it and
its own hash over that link and its content, so an entry that was edited, removed or inserted
outside the app breaks the chain; the first broken link is reported. Prints the newest link (the
head): note it somewhere else, and --head HASH later checks that the log still ends there or
continues from it (the chain alone cannot tell a log rebuilt from scratch by someone who can write
the database).
  --data-dir DIR  the library folder (default: the app data folder)
  --head HASH     a head noted earlier: it must still be an entry of the chain
  --json          print {"ok", "entries", "head", "broken"} on stdout
Exit code 0 when the chain is whole, 1 when it is broken.`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { 'data-dir': { type: 'string' }, head: { type: 'string' }, json: { type: 'boolean' } },
      true,
    );
    if (positionals.length !== 1 || positionals[0] !== 'verify') throw new UsageError('say what to do: verify');
    if (values.head !== undefined && !/^[0-9a-f]{64}$/.test(values.head))
      throw new UsageError('--head must be a hash of 64 hex digits, as verify printed it');
    const dataDir = path.resolve(values['data-dir'] ?? defaultDataDir());
    const file = path.join(dataDir, 'library.sqlite');
    if (!fs.existsSync(file)) throw new UsageError(`no library in ${dataDir} (library.sqlite is missing)`);
    const db = openDatabase(file);
    try {
      const log = new AuditLog(db);
      const report = log.verify();
      if (report.ok && values.head !== undefined && !log.containsHash(values.head)) {
        report.ok = false;
        report.broken = {
          id: null,
          reason: `the head ${values.head.slice(0, 12)}… noted earlier is no longer in the chain: the log was rebuilt or cut`,
        };
      }
      if (values.json) printJson(report);
      else if (report.ok)
        process.stdout.write(`audit log intact: ${report.entries} entries, head ${report.head ?? '(empty log)'}\n`);
      else
        process.stdout.write(
          `audit log BROKEN (${report.entries} entries checked): ${report.broken?.reason ?? 'unknown'}\n`,
        );
      return report.ok ? 0 : 1;
    } finally {
      db.close();
    }
  },
};
