// Raw footage at rest: a file sealed with AES-256-GCM in fixed-size chunks, so any byte range can be
// read (video seeking, HTTP Range) without decrypting the whole file, and every chunk is
// authenticated. Layout: a 48-byte header, then chunks of `chunkSize` plaintext bytes each followed
// by its 16-byte tag. The header is the associated data of every chunk; each chunk's nonce holds its
// index and whether it is the last one, so chunks cannot be reordered, dropped or cut off unnoticed.
// Each file has its own key (HKDF of the vault key and the file's random id): nonces never repeat
// under one key.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';

import { SpactError } from '../errors.js';

const MAGIC = Buffer.from('SPACTRAW', 'latin1');
const VERSION = 1;
export const SEALED_HEADER_BYTES = 48;
const TAG_BYTES = 16;
/** 64 KiB: the tag costs 0.02 % of the file; a Range read decrypts at most 2 chunks it does not need. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;

/** What a sealed file needs from the vault: its id (written in the header) and a key per file. */
export interface SealingKey {
  vaultId: Buffer; // 16 bytes
  fileKey(fileId: Buffer): Buffer;
}

/** The per-file key: HKDF-SHA256 of the vault's master key, salted with the file's id. */
export function deriveFileKey(masterKey: Buffer, fileId: Buffer, purpose = 'spact raw v1'): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, fileId, purpose, 32));
}

interface Header {
  bytes: Buffer;
  chunkSize: number;
  vaultId: Buffer;
  fileId: Buffer;
}

function makeHeader(vaultId: Buffer, chunkSize: number): Header {
  const bytes = Buffer.alloc(SEALED_HEADER_BYTES);
  MAGIC.copy(bytes, 0);
  bytes.writeUInt8(VERSION, 8);
  bytes.writeUInt32BE(chunkSize, 12);
  vaultId.copy(bytes, 16);
  const fileId = randomBytes(16);
  fileId.copy(bytes, 32);
  return { bytes, chunkSize, vaultId, fileId };
}

function parseHeader(bytes: Buffer, file: string): Header {
  if (bytes.length < SEALED_HEADER_BYTES || !bytes.subarray(0, 8).equals(MAGIC))
    throw new SpactError('bad-input', `${file}: not a sealed raw file`);
  if (bytes.readUInt8(8) !== VERSION)
    throw new SpactError('bad-input', `${file}: sealed with an unknown format version ${bytes.readUInt8(8)}`);
  const chunkSize = bytes.readUInt32BE(12);
  if (chunkSize < 1024 || chunkSize > 16 * 1024 * 1024)
    throw new SpactError('bad-input', `${file}: damaged header (chunk size ${chunkSize})`);
  return {
    bytes: Buffer.from(bytes.subarray(0, SEALED_HEADER_BYTES)),
    chunkSize,
    vaultId: Buffer.from(bytes.subarray(16, 32)),
    fileId: Buffer.from(bytes.subarray(32, 48)),
  };
}

function nonce(index: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  n.writeUInt8(last ? 1 : 0, 0);
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

function sealChunk(key: Buffer, header: Buffer, index: number, last: boolean, plain: Buffer): Buffer {
  const c = createCipheriv('aes-256-gcm', key, nonce(index, last));
  c.setAAD(header);
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([body, c.getAuthTag()]);
}

function openChunk(key: Buffer, header: Buffer, index: number, last: boolean, sealed: Buffer, file: string): Buffer {
  if (sealed.length < TAG_BYTES) throw new SpactError('bad-input', `${file}: truncated (chunk ${index})`);
  const d = createDecipheriv('aes-256-gcm', key, nonce(index, last));
  d.setAAD(header);
  d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG_BYTES)), d.final()]);
  } catch {
    throw new SpactError('bad-input', `${file}: damaged or altered (chunk ${index} fails authentication)`);
  }
}

/** Whether a file starts like a sealed raw file (a cheap check: 8 bytes). */
export function isSealedFile(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const b = Buffer.alloc(8);
    return fs.readSync(fd, b, 0, 8, 0) === 8 && b.equals(MAGIC);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Streams plaintext into a sealed file: a temporary file beside the target (mode 0600), renamed
 * into place by finish(); abort() removes it. Nothing unsealed is ever written.
 */
export class SealedWriter {
  readonly tmp: string;
  private readonly fd: number;
  private readonly header: Header;
  private readonly key: Buffer;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private index = 0;
  private position: number;
  bytesIn = 0;

  constructor(
    readonly file: string,
    sealing: SealingKey,
    chunkSize = DEFAULT_CHUNK_BYTES,
  ) {
    this.header = makeHeader(sealing.vaultId, chunkSize);
    this.key = sealing.fileKey(this.header.fileId);
    this.tmp = `${file}.tmp-${process.pid}.${randomBytes(4).toString('hex')}`; // named as reconcile.ts's TMP_FILE
    this.fd = fs.openSync(this.tmp, 'wx', 0o600);
    fs.writeSync(this.fd, this.header.bytes, 0, SEALED_HEADER_BYTES, 0);
    this.position = SEALED_HEADER_BYTES;
  }

  /** Adds plaintext; a full chunk is written only once more data follows (the last one is marked). */
  write(data: Buffer | Uint8Array): void {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.bytesIn += buf.length;
    let off = 0;
    while (off < buf.length) {
      if (this.pendingBytes === this.header.chunkSize) this.flush(false);
      const take = Math.min(buf.length - off, this.header.chunkSize - this.pendingBytes);
      this.pending.push(buf.subarray(off, off + take));
      this.pendingBytes += take;
      off += take;
    }
  }

  private flush(last: boolean): void {
    const plain = Buffer.concat(this.pending, this.pendingBytes);
    const sealed = sealChunk(this.key, this.header.bytes, this.index++, last, plain);
    fs.writeSync(this.fd, sealed, 0, sealed.length, this.position);
    this.position += sealed.length;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Seals the last chunk, syncs and renames the file into place. */
  finish(): void {
    try {
      this.flush(true);
      fs.fsyncSync(this.fd);
    } catch (err) {
      this.abort();
      throw err;
    }
    fs.closeSync(this.fd);
    fs.renameSync(this.tmp, this.file);
  }

  abort(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // closed already
    }
    fs.rmSync(this.tmp, { force: true });
  }
}

/** Reads plaintext ranges of a sealed file. `keyFor` finds the vault the header names. */
export class SealedReader {
  readonly plainSize: number;
  private readonly header: Header;
  private readonly key: Buffer;
  private readonly chunks: number;
  private readonly fileSize: number;

  constructor(
    readonly file: string,
    keyFor: (vaultId: Buffer) => SealingKey,
  ) {
    const fd = fs.openSync(file, 'r');
    try {
      const head = Buffer.alloc(SEALED_HEADER_BYTES);
      fs.readSync(fd, head, 0, SEALED_HEADER_BYTES, 0);
      this.header = parseHeader(head, file);
      this.fileSize = fs.fstatSync(fd).size;
    } finally {
      fs.closeSync(fd);
    }
    this.key = keyFor(this.header.vaultId).fileKey(this.header.fileId);
    const body = this.fileSize - SEALED_HEADER_BYTES;
    const stride = this.header.chunkSize + TAG_BYTES;
    this.chunks = Math.max(1, Math.ceil(body / stride));
    const lastSealed = body - (this.chunks - 1) * stride;
    if (lastSealed < TAG_BYTES) throw new SpactError('bad-input', `${file}: truncated`);
    this.plainSize = (this.chunks - 1) * this.header.chunkSize + lastSealed - TAG_BYTES;
  }

  /** The whole plaintext chunk by chunk, synchronously (checks and tools, not the app's thread). */
  *chunksSync(): Generator<Buffer> {
    const stride = this.header.chunkSize + TAG_BYTES;
    const fd = fs.openSync(this.file, 'r');
    try {
      for (let i = 0; i < this.chunks; i++) {
        const last = i === this.chunks - 1;
        const len = last ? this.fileSize - SEALED_HEADER_BYTES - i * stride : stride;
        const sealed = Buffer.alloc(len);
        if (fs.readSync(fd, sealed, 0, len, SEALED_HEADER_BYTES + i * stride) !== len)
          throw new SpactError('bad-input', `${this.file}: truncated (chunk ${i})`);
        yield openChunk(this.key, this.header.bytes, i, last, sealed, this.file);
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Plaintext bytes [start, end] (inclusive), chunk by chunk. */
  async *range(start = 0, end = this.plainSize - 1): AsyncGenerator<Buffer> {
    if (this.plainSize === 0 || end < start) return;
    const c = this.header.chunkSize;
    const stride = c + TAG_BYTES;
    const fh = await fs.promises.open(this.file, 'r');
    try {
      for (let i = Math.floor(start / c); i <= Math.floor(end / c); i++) {
        const last = i === this.chunks - 1;
        const len = last ? this.fileSize - SEALED_HEADER_BYTES - i * stride : stride;
        const sealed = Buffer.alloc(len);
        const { bytesRead } = await fh.read(sealed, 0, len, SEALED_HEADER_BYTES + i * stride);
        if (bytesRead !== len) throw new SpactError('bad-input', `${this.file}: truncated (chunk ${i})`);
        const plain = openChunk(this.key, this.header.bytes, i, last, sealed, this.file);
        const from = i === Math.floor(start / c) ? start - i * c : 0;
        const to = i === Math.floor(end / c) ? end - i * c + 1 : plain.length;
        yield plain.subarray(from, to);
      }
    } finally {
      await fh.close();
    }
  }
}
