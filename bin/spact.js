#!/usr/bin/env node
// Entry point of the `spact` CLI. Runs the compiled TypeScript from dist/node.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'dist', 'node', 'electron', 'cli', 'spact.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('spact: the app is not built yet. Run `npm run build` (or `npm start` once) first.\n');
  process.exit(1);
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
