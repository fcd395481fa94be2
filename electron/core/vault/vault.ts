// The data folder's key: one random 256-bit master key seals raw footage, cached raw frames and the
// database fields that name people's files. It never touches the disk in the clear: vault.json
// holds it wrapped by each protector the admin set up: a passphrase (scrypt, memory-hard: browser
// mode and the CLI) and/or the OS keystore (Electron's safeStorage, handed in by the main process).
import { createCipheriv, createDecipheriv, createHmac, randomBytes, scryptSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { registerRecordCipher, type RecordCipher } from '../../../native-models/ts/record-file.js';
import { SpactError } from '../errors.js';
import { deriveFileKey, type SealingKey } from './sealed-file.js';

export const VAULT_FILE = 'vault.json';
export const MIN_PASSPHRASE_LENGTH = 8;
/** scrypt at N=2^15, r=8: 32 MiB and ~0.1 s per try: cheap once at start-up, dear for a guesser. */
const SCRYPT = { N: 1 << 15, r: 8, p: 1 };

/** The OS keystore as the Electron main process offers it (safeStorage), injected: core has no Electron. */
export interface KeyProtector {
  protect(key: Buffer): Buffer;
  unprotect(blob: Buffer): Buffer;
}

export interface VaultUnlock {
  /** The master key itself (the Electron main process unwraps it and hands it to the core host). */
  key?: Buffer;
  passphrase?: string;
  keystore?: KeyProtector;
}

type Protector =
  | { kind: 'passphrase'; kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string }; wrapped: string }
  | { kind: 'os-keystore'; wrapped: string };

interface VaultFile {
  version: 1;
  vaultId: string; // hex, 16 bytes: written in every sealed file's header
  createdAt: string;
  /** A known text sealed with a key derived from the master key: proves a handed-over key is this vault's. */
  check: string;
  protectors: Protector[];
}

const CHECK_TEXT = Buffer.from('spact vault v1');
const checkKey = (key: Buffer, vaultId: Buffer) => deriveFileKey(key, vaultId, 'spact vault check');
const keyMatches = (key: Buffer, vf: VaultFile) =>
  key.length === 32 && unwrap(checkKey(key, Buffer.from(vf.vaultId, 'hex')), vf.check)?.equals(CHECK_TEXT) === true;

function wrap(kek: Buffer, key: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek, iv);
  return Buffer.concat([iv, c.update(key), c.final(), c.getAuthTag()]).toString('base64');
}

function unwrap(kek: Buffer, wrapped: string): Buffer | null {
  const b = Buffer.from(wrapped, 'base64');
  try {
    const d = createDecipheriv('aes-256-gcm', kek, b.subarray(0, 12));
    d.setAuthTag(b.subarray(b.length - 16));
    return Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]);
  } catch {
    return null;
  }
}

function passphraseKek(passphrase: string, kdf: { N: number; r: number; p: number; salt: string }): Buffer {
  return scryptSync(passphrase.normalize('NFC'), Buffer.from(kdf.salt, 'base64'), 32, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 256 * kdf.N * kdf.r,
  });
}

function passphraseProtector(passphrase: string, key: Buffer): Protector {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH)
    throw new SpactError(
      'validation',
      `the passphrase that protects raw footage needs at least ${MIN_PASSPHRASE_LENGTH} characters`,
    );
  const kdf = { name: 'scrypt' as const, ...SCRYPT, salt: randomBytes(16).toString('base64') };
  return { kind: 'passphrase', kdf, wrapped: wrap(passphraseKek(passphrase, kdf), key) };
}

/** Writes a file atomically with owner-only permissions. */
function writePrivate(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

const unlocked = new Map<string, Vault>();
/** Unlocked vaults by data folder: what governs a file is the vault of the folder it lives in. */
const byFolder = new Map<string, Vault>();

const TEXT_PREFIX = 'sealed:v1:';

export class Vault implements SealingKey {
  private readonly textKey: Buffer;
  /** Seals cached raw frames record by record (registered for readers of this process). */
  readonly recordCipher: RecordCipher;

  private constructor(
    readonly vaultId: Buffer,
    private readonly master: Buffer,
  ) {
    this.textKey = deriveFileKey(master, vaultId, 'spact db fields v1');
    this.recordCipher = frameCipher(vaultId.toString('hex'), deriveFileKey(master, vaultId, 'spact frames v1'));
    registerRecordCipher(this.recordCipher);
    unlocked.set(vaultId.toString('hex'), this);
  }

  /**
   * Opens the data folder's vault (creating it on first use with the protectors given), or
   * refuses with `unauthorized` when nothing given opens it.
   */
  static open(dataDir: string, unlock: VaultUnlock): Vault {
    const file = path.join(dataDir, VAULT_FILE);
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    let vf: VaultFile | null = null;
    try {
      vf = JSON.parse(fs.readFileSync(file, 'utf8')) as VaultFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new SpactError('bad-input', `${file} is damaged: the raw footage of this data folder cannot be opened`);
    }
    if (!vf) {
      if (!unlock.key && !unlock.passphrase && !unlock.keystore) throw lockedError();
      const key = unlock.key ?? randomBytes(32);
      const protectors: Protector[] = [];
      if (unlock.passphrase) protectors.push(passphraseProtector(unlock.passphrase, key));
      if (unlock.keystore)
        protectors.push({ kind: 'os-keystore', wrapped: unlock.keystore.protect(key).toString('base64') });
      if (protectors.length === 0) throw lockedError();
      const vaultId = randomBytes(16);
      const created: VaultFile = {
        version: 1,
        vaultId: vaultId.toString('hex'),
        createdAt: new Date().toISOString(),
        check: wrap(checkKey(key, vaultId), CHECK_TEXT),
        protectors,
      };
      writePrivate(file, JSON.stringify(created, null, 2));
      return governs(dataDir, new Vault(vaultId, key));
    }
    const vaultId = Buffer.from(vf.vaultId, 'hex');
    let key: Buffer | null = unlock.key && keyMatches(unlock.key, vf) ? unlock.key : null;
    let wrongPassphrase = false;
    for (const p of vf.protectors) {
      if (key) break;
      if (p.kind === 'os-keystore' && unlock.keystore) {
        try {
          key = unlock.keystore.unprotect(Buffer.from(p.wrapped, 'base64'));
        } catch {
          key = null; // another user's keystore, or it was reset: try the next protector
        }
      } else if (p.kind === 'passphrase' && unlock.passphrase) {
        key = unwrap(passphraseKek(unlock.passphrase, p.kdf), p.wrapped);
        wrongPassphrase ||= key === null;
      }
    }
    if (!key || !keyMatches(key, vf)) {
      if (wrongPassphrase)
        throw new SpactError('unauthorized', 'wrong passphrase for the raw footage of this data folder');
      throw lockedError();
    }
    // Opened by passphrase where a keystore is offered: enrol the keystore so the desktop app
    // opens without asking next time.
    if (unlock.keystore && !vf.protectors.some((p) => p.kind === 'os-keystore')) {
      vf.protectors.push({ kind: 'os-keystore', wrapped: unlock.keystore.protect(key).toString('base64') });
      writePrivate(file, JSON.stringify(vf, null, 2));
    }
    return governs(dataDir, new Vault(vaultId, key));
  }

  /** The master key (handed by the Electron main process to the core host, never written). */
  exportKey(): Buffer {
    return Buffer.from(this.master);
  }

  fileKey(fileId: Buffer): Buffer {
    return deriveFileKey(this.master, fileId);
  }

  /** A database field sealed with the vault (names and paths of people's files). */
  sealText(text: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.textKey, iv);
    const body = Buffer.concat([iv, c.update(text, 'utf8'), c.final(), c.getAuthTag()]);
    return TEXT_PREFIX + body.toString('base64');
  }

  /** A short keyed tag of a name: stable (the same name, the same tag), says nothing without the key. */
  nameTag(name: string): string {
    return createHmac('sha256', this.textKey).update(name).digest('hex').slice(0, 12);
  }

  /** The plain text of a sealed field; fields written before encryption pass through. */
  openText(stored: string): string {
    if (!stored.startsWith(TEXT_PREFIX)) return stored;
    const b = Buffer.from(stored.slice(TEXT_PREFIX.length), 'base64');
    try {
      const d = createDecipheriv('aes-256-gcm', this.textKey, b.subarray(0, 12));
      d.setAuthTag(b.subarray(b.length - 16));
      return Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]).toString('utf8');
    } catch {
      return '(unreadable)';
    }
  }
}

/**
 * AES-256-GCM per record with a random nonce stored beside it (slot files rewrite records, so the
 * index cannot be the nonce); the index is the associated data, so records cannot be swapped.
 */
function frameCipher(id: string, key: Buffer): RecordCipher {
  const aad = (index: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(index));
    return b;
  };
  return {
    id,
    overhead: 12 + 16,
    seal(plain, index) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(aad(index));
      return Buffer.concat([iv, c.update(plain), c.final(), c.getAuthTag()]);
    },
    open(sealed, index, into) {
      const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
      d.setAAD(aad(index));
      d.setAuthTag(sealed.subarray(sealed.length - 16));
      const body = sealed.subarray(12, sealed.length - 16);
      try {
        const n = d.update(body).copy(into, 0);
        d.final();
        if (n !== into.length) throw new Error('size');
      } catch {
        throw new SpactError('bad-input', `a cached frame record (${index}) is damaged or altered`);
      }
    },
  };
}

function lockedError(): SpactError {
  return new SpactError(
    'unauthorized',
    'the raw footage of this data folder is encrypted: give its passphrase (SPACT_PASSPHRASE or --passphrase-file)',
  );
}

function governs(dataDir: string, vault: Vault): Vault {
  byFolder.set(path.resolve(dataDir), vault);
  return vault;
}

/** The unlocked vault of the data folder holding `file` (null: none of this process's). */
export function vaultGoverning(file: string): Vault | null {
  for (let dir = path.resolve(file); ; dir = path.dirname(dir)) {
    const v = byFolder.get(dir);
    if (v) return v;
    if (path.dirname(dir) === dir) return null;
  }
}

/** The unlocked vault a sealed file's header names (any data folder opened by this process). */
export function vaultById(vaultId: Buffer): Vault {
  const v = unlocked.get(vaultId.toString('hex'));
  if (!v) throw new SpactError('unauthorized', 'this raw file belongs to a data folder that is not unlocked');
  return v;
}

/** How this process unlocks a data folder: the key the Electron shell handed over, else a passphrase. */
export function unlockFromEnvironment(env: NodeJS.ProcessEnv = process.env): VaultUnlock {
  const key = env.SPACT_VAULT_KEY ? Buffer.from(env.SPACT_VAULT_KEY, 'hex') : undefined;
  return { ...(key ? { key } : {}), ...(env.SPACT_PASSPHRASE ? { passphrase: env.SPACT_PASSPHRASE } : {}) };
}
