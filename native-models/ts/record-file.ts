// A file of fixed-size records read and written by index: the cached raw frames of fine-tuning
// (dataset splits, room frames, reservoir slots). The app seals each record with its data folder's
// key (a RecordCipher it registers): raw frames never rest on disk in the clear. Without a cipher
// (datasets made by the CLI's synth/train tools) records are stored as they are.
import fs from 'node:fs';

/** Seals one record; the sealed record is `overhead` bytes longer. Bound to its index (AAD). */
export interface RecordCipher {
  /** Names the key in manifests (`sealedBy`): the reader finds it among the registered ciphers. */
  readonly id: string;
  readonly overhead: number;
  seal(plain: Uint8Array, index: number): Buffer;
  open(sealed: Uint8Array, index: number, into: Uint8Array): void;
}

const ciphers = new Map<string, RecordCipher>();

/** Makes a cipher available to readers of files sealed with it (the app does this on unlock). */
export function registerRecordCipher(cipher: RecordCipher): void {
  ciphers.set(cipher.id, cipher);
}

export class RecordFileError extends Error {
  readonly kind = 'bad-input' as const;
}

/** The cipher a manifest names, or null for unsealed records. */
export function recordCipherFor(sealedBy: string | undefined, what: string): RecordCipher | null {
  if (!sealedBy) return null;
  const c = ciphers.get(sealedBy);
  if (!c) throw new RecordFileError(`${what} is sealed with the key of a data folder that is not unlocked`);
  return c;
}

export class RecordFile {
  private readonly fd: number;
  readonly stride: number;
  private scratch: Buffer | null = null;

  constructor(
    readonly file: string,
    readonly recordBytes: number,
    flags: 'r' | 'w' | 'w+',
    readonly cipher: RecordCipher | null = null,
  ) {
    this.stride = RecordFile.stride(recordBytes, cipher);
    this.fd = fs.openSync(file, flags, 0o600);
  }

  static stride(recordBytes: number, cipher: RecordCipher | null): number {
    return recordBytes + (cipher?.overhead ?? 0);
  }

  /** Records a file of this size holds (null: not a whole number of records). */
  static countIn(file: string, recordBytes: number, cipher: RecordCipher | null): number | null {
    const size = fs.statSync(file).size;
    const stride = RecordFile.stride(recordBytes, cipher);
    return size % stride === 0 ? size / stride : null;
  }

  write(index: number, data: Uint8Array): void {
    if (data.length !== this.recordBytes) throw new RecordFileError(`a record holds ${this.recordBytes} bytes`);
    const out = this.cipher ? this.cipher.seal(data, index) : data;
    fs.writeSync(this.fd, out, 0, out.length, index * this.stride);
  }

  /** Reads record `index` into `into` (exactly recordBytes long); false on a short read. */
  read(index: number, into: Uint8Array): boolean {
    if (!this.cipher) return fs.readSync(this.fd, into, 0, this.recordBytes, index * this.stride) === this.recordBytes;
    this.scratch ??= Buffer.alloc(this.stride);
    if (fs.readSync(this.fd, this.scratch, 0, this.stride, index * this.stride) !== this.stride) return false;
    this.cipher.open(this.scratch, index, into);
    return true;
  }

  sync(): void {
    fs.fsyncSync(this.fd);
  }

  close(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // closed already
    }
  }
}
