// The library database: better-sqlite3 in WAL mode with foreign keys, migrated on open. Each
// migration runs in a transaction together with the user_version bump.
import fs from 'node:fs';
import path from 'node:path';

import Database from 'better-sqlite3';

import { SpactError } from '../errors.js';
import { MIGRATIONS } from './migrations/index.js';

export type Db = Database.Database;

export const SCHEMA_VERSION = MIGRATIONS.length;

export function openDatabase(file: string, opts: { readonly?: boolean; busyTimeoutMs?: number } = {}): Db {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  let db: Db;
  try {
    db = new Database(file, { timeout: opts.busyTimeoutMs ?? 5000, readonly: opts.readonly ?? false });
  } catch (err) {
    throw new SpactError('unavailable', `cannot open the library database ${file}: ${(err as Error).message}`);
  }
  try {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new SpactError(
        'conflict',
        `the library database ${file} was written by a newer SPAct Desktop (schema ${version}; this version knows ${SCHEMA_VERSION}). Update the app or choose another data folder.`,
      );
    }
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    if (!opts.readonly) {
      // Take and release the write lock now: a database held by another process is reported at
      // open, with its file name, instead of failing some later write.
      db.exec('BEGIN IMMEDIATE');
      db.exec('COMMIT');
    }
    for (let v = version; v < SCHEMA_VERSION; v++) {
      const m = MIGRATIONS[v]!;
      db.transaction(() => {
        db.exec(m.sql);
        db.pragma(`user_version = ${v + 1}`);
      }).immediate();
    }
  } catch (err) {
    db.close();
    throw translateSqliteError(err, file);
  }
  return db;
}

/** SQLite errors become one-line messages that name the file and the cause. */
export function translateSqliteError(err: unknown, file: string): Error {
  if (err instanceof SpactError) return err;
  const code = (err as { code?: string }).code ?? '';
  const msg = (err as Error).message ?? String(err);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new SpactError(
      'conflict',
      `the library database ${file} is locked by another process (${code}); close the other SPAct instance and retry`,
    );
  }
  if (code === 'SQLITE_FULL') return new SpactError('unavailable', `the disk holding ${file} is full`);
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT')
    return new SpactError('bad-input', `${file} is not a SPAct library database or is corrupt (${code})`);
  if (code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN')
    return new SpactError('unavailable', `cannot write the library database ${file} (${code})`);
  return err instanceof Error ? err : new Error(msg);
}

export const nowIso = () => new Date().toISOString();
