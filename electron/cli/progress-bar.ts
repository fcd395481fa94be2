// Progress on stderr: a redrawn bar on a terminal, plain periodic lines otherwise (logs, CI).

import { formatDuration as formatAny } from '../../renderer/src/lib/format.js';

/** Durations as the terminal shows them ("2m05s"): the same rounding as the app's. */
export const formatDuration = (seconds: number): string => formatAny(seconds, 'compact');

export class ProgressReporter {
  private lastPlain = 0;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(private readonly plainEveryMs = 5000) {}

  update(fraction: number | null, label: string): void {
    if (this.tty) {
      const width = 24;
      const bar =
        fraction === null
          ? ' '.repeat(width)
          : '█'.repeat(Math.round(Math.min(1, fraction) * width)).padEnd(width, '·');
      const cols = process.stderr.columns ?? 100;
      process.stderr.write(`\r[${bar}] ${label}`.slice(0, cols - 1).padEnd(cols - 1));
      return;
    }
    const now = Date.now();
    if (now - this.lastPlain >= this.plainEveryMs) {
      this.lastPlain = now;
      process.stderr.write(`${label}\n`);
    }
  }

  done(): void {
    if (this.tty) process.stderr.write('\n');
  }
}
