// Progress on stderr: a redrawn bar on a terminal, plain periodic lines otherwise (logs, CI).

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

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
