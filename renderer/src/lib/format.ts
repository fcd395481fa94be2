// Numbers as people read them.

/** A file size in the unit that shows it (a 40 KiB clip is not "0.0 MiB"). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/**
 * A duration as people read it: "45 s", "2 min 5 s", "1 h 05 min"; `compact` is the terminal's
 * ("45s", "2m05s", "1h05m"). One function for the UI and the CLI (which imports this pure module),
 * so both round and split the same way. Unknown: "–" ("?" compact).
 */
export function formatDuration(seconds: number | null, style: 'words' | 'compact' = 'words'): string {
  const compact = style === 'compact';
  if (seconds === null || !Number.isFinite(seconds)) return compact ? '?' : '–';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (compact) return h > 0 ? `${h}h${two(m)}m` : m > 0 ? `${m}m${two(r)}s` : `${r}s`;
  return h > 0 ? `${h} h ${two(m)} min` : m > 0 ? `${m} min ${r} s` : `${r} s`;
}
