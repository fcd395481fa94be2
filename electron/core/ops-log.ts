// The operational log: what a clinic's support reads after a failure. JSON lines in
// <data folder>/logs/spact.log, rotated by size (spact.1.log … spact.N.log), at the level of
// start-up, jobs and failures. Never frames, never file names: events carry ids, kinds, counts,
// durations and error kinds with the first line of their message (paths in it are the ones the
// database already holds). Writes go through one append stream (no synchronous file call per
// event; only opening and rotating are); rotation renames files, so a line is never cut in two.
import fs from 'node:fs';
import path from 'node:path';

export type OpsLevel = 'info' | 'warn' | 'error';

export interface OpsLogOptions {
  /** Size at which spact.log is rotated (bytes; default 5 MiB). */
  maxBytes?: number;
  /** Rotated files kept besides spact.log (default 4). */
  keep?: number;
}

export interface OpsLogger {
  log(level: OpsLevel, event: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything (tests, tools without a data folder). */
export const silentOpsLog: OpsLogger = { log: () => undefined };

export class OpsLog implements OpsLogger {
  readonly file: string;
  private stream: fs.WriteStream;
  private bytes: number;
  private readonly maxBytes: number;
  private readonly keep: number;

  constructor(
    readonly dir: string,
    opts: OpsLogOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? 5 * 2 ** 20;
    this.keep = Math.max(1, opts.keep ?? 4);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = path.join(dir, 'spact.log');
    this.bytes = fs.existsSync(this.file) ? fs.statSync(this.file).size : 0;
    this.stream = this.open();
  }

  log(level: OpsLevel, event: string, fields: Record<string, unknown> = {}): void {
    const line = `${JSON.stringify({ time: new Date().toISOString(), level, event, ...clean(fields) })}\n`;
    if (this.bytes > 0 && this.bytes + line.length > this.maxBytes) this.rotate();
    this.stream.write(line);
    this.bytes += Buffer.byteLength(line);
  }

  /** Flushes and closes the file (the app's shutdown). */
  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }

  private open(): fs.WriteStream {
    // The file is opened here, not later by the stream: lines still queued when it is rotated go
    // to the renamed file (the descriptor follows it), never into the next one.
    const fd = fs.openSync(this.file, 'a', 0o600);
    const s = fs.createWriteStream(this.file, { fd });
    // A full disk must not take the app down with it: the log is best effort.
    s.on('error', () => undefined);
    return s;
  }

  private rotate(): void {
    this.stream.end();
    const name = (i: number) => path.join(this.dir, `spact.${i}.log`);
    try {
      fs.rmSync(name(this.keep), { force: true });
      for (let i = this.keep - 1; i >= 1; i--) if (fs.existsSync(name(i))) fs.renameSync(name(i), name(i + 1));
      fs.renameSync(this.file, name(1));
    } catch {
      // Rotation is best effort too: keep appending to the current file.
    }
    this.bytes = fs.existsSync(this.file) ? fs.statSync(this.file).size : 0;
    this.stream = this.open();
  }
}

/** Errors become {kind, message (first line)}; anything else must already be plain data. */
function clean(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v instanceof Error) {
      out[k] = {
        kind: (v as Error & { kind?: unknown }).kind ?? v.name,
        message: v.message.split('\n')[0],
      };
    } else out[k] = v;
  }
  return out;
}
