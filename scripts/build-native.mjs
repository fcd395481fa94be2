#!/usr/bin/env node
// Builds the libtorch N-API addon in native-models/ with node-gyp against the headers of the
// Node that runs this script (no header download: works offline). LIBTORCH selects another
// libtorch (e.g. CUDA); Debian's libtorch-dev is used otherwise.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nodeGyp = path.join(root, 'node_modules/node-gyp/bin/node-gyp.js');
const gypArgs = [nodeGyp, 'rebuild', `-j`, String(Math.max(1, os.availableParallelism()))];

// Node's own headers live next to its binary (<prefix>/include/node) on Linux installs.
const prefix = path.dirname(path.dirname(process.execPath));
if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) gypArgs.push(`--nodedir=${prefix}`);

const r = spawnSync(process.execPath, gypArgs, { cwd: path.join(root, 'native-models'), stdio: 'inherit' });
if (r.status !== 0) {
  process.stderr.write(
    '[build-native] the libtorch addon failed to build. Check that libtorch-dev is installed ' +
      '(apt-get install -y libtorch-dev) or that LIBTORCH points at an unpacked libtorch.\n',
  );
  process.exit(r.status ?? 1);
}
