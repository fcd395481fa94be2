// Shared by the benchmarks: machine context, and writing one section of bench/RESULTS.md
// (between `<!-- NAME:start -->` and `<!-- NAME:end -->`) plus a JSON file in bench/results/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// SPACT_BENCH_DIR redirects results and caches (tests run benchmarks without touching bench/).
export const benchDir = (() => {
  if (process.env.SPACT_BENCH_DIR) return path.resolve(process.env.SPACT_BENCH_DIR);
  let dir = path.dirname(fileURLToPath(import.meta.url));
  // Compiled to dist/node/bench: walk up to the project root.
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return path.join(dir, 'bench');
})();

export function machineContext(): Record<string, string | number> {
  return {
    date: new Date().toISOString(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadavg: os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' '),
    node: process.version,
  };
}

/** Writes the section `name` of `dir`/RESULTS.md and `dir`/results/`name`.json (default: bench/). */
export function writeResults(name: string, markdown: string, json: unknown, dir = benchDir): void {
  const resultsFile = path.join(dir, 'RESULTS.md');
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  let text = fs.existsSync(resultsFile) ? fs.readFileSync(resultsFile, 'utf8') : '# Benchmark results\n';
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  text = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeAtomic(resultsFile, text);
  fs.mkdirSync(path.join(dir, 'results'), { recursive: true });
  writeJsonAtomic(path.join(dir, 'results', `${name}.json`), json);
}

/** Temp file + rename: a run killed mid-write, or two benchmarks finishing together, never leave
 *  a torn file behind. */
export function writeAtomic(file: string, content: string): void {
  fs.writeFileSync(`${file}.tmp-${process.pid}`, content);
  fs.renameSync(`${file}.tmp-${process.pid}`, file);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

export function mdTable(header: string[], rows: (string | number)[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

/** Value of a `--name value` command-line option of a benchmark. */
export function benchArg(name: string): string | undefined {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}
