// Migrations in order; schema version = position + 1 (stored in PRAGMA user_version).
import { sql as m0001 } from './0001-initial.js';
import { sql as m0002 } from './0002-room-working-size.js';
import { sql as m0003 } from './0003-privacy-audits.js';
import { sql as m0004 } from './0004-job-interruptions.js';
import { sql as m0005 } from './0005-pin-lockout-audit-chain.js';
import { sql as m0006 } from './0006-room-retention.js';
import { sql as m0007 } from './0007-camera-masks.js';

export const MIGRATIONS: { name: string; sql: string }[] = [
  { name: '0001-initial', sql: m0001 },
  { name: '0002-room-working-size', sql: m0002 },
  { name: '0003-privacy-audits', sql: m0003 },
  { name: '0004-job-interruptions', sql: m0004 },
  { name: '0005-pin-lockout-audit-chain', sql: m0005 },
  { name: '0006-room-retention', sql: m0006 },
  { name: '0007-camera-masks', sql: m0007 },
];
