// `npm run dist` needs an Electron download, so here the packaging configuration and the files it
// would ship are validated instead.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { projectRoot } from '../helpers/cli.js';

const require = createRequire(import.meta.url);
const config = require(path.join(projectRoot, 'build/electron-builder.config.cjs')) as Record<string, never> & {
  files: string[];
  asarUnpack: string[];
  extraFiles: { from: string; to: string }[];
  electronFuses: Record<string, boolean>;
  linux: { target: string[] };
  win: { target: string[] };
};

describe('electron-builder configuration', () => {
  it('targets AppImage and deb on Linux and NSIS on Windows', () => {
    expect(config.linux.target).toEqual(expect.arrayContaining(['AppImage', 'deb']));
    expect(config.win.target).toContain('nsis');
  });

  it('sets the Electron fuses: RunAsNode off, asar integrity on', () => {
    expect(config.electronFuses.runAsNode).toBe(false);
    expect(config.electronFuses.enableEmbeddedAsarIntegrityValidation).toBe(true);
    expect(config.electronFuses.onlyLoadAppFromAsar).toBe(true);
  });

  it('unpacks every native binary from asar: the libtorch addon, better-sqlite3, ffmpeg, ffprobe', () => {
    expect(config.asarUnpack).toEqual(
      expect.arrayContaining([
        'native-models/build/Release/*.node',
        'node_modules/better-sqlite3/build/Release/*.node',
        'node_modules/@ffmpeg-installer/**',
        'node_modules/@ffprobe-installer/**',
      ]),
    );
  });

  it('ships files that exist after the build, and the libtorch libraries the addon links', () => {
    for (const f of [
      'dist/node/electron/main.js',
      'dist/renderer/index.html',
      'dist/preload/preload.cjs',
      'native-models/build/Release/spact_native.node',
    ]) {
      expect(fs.existsSync(path.join(projectRoot, f)), f).toBe(true);
      expect(config.files.some((pattern) => f.startsWith(pattern.replace('/**', '')) || pattern === f)).toBe(true);
    }
    const libs = config.extraFiles.map((e) => path.basename(e.from));
    for (const needed of ['libtorch.so', 'libtorch_cpu.so', 'libc10.so'])
      expect(libs.some((l) => l.startsWith(needed))).toBe(true);
    for (const e of config.extraFiles) expect(fs.existsSync(e.from)).toBe(true);
  });

  it('points the package main at the compiled Electron entry', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8'));
    expect(pkg.main).toBe('dist/node/electron/main.js');
    expect(pkg.scripts.dist).toContain('electron-builder');
  });
});
