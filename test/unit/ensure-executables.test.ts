// Set-up makes the ffmpeg/ffprobe binaries of node_modules executable by every user (their npm
// tarballs may carry 0744, and then every video command of a non-root user fails with EACCES).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

// @ts-expect-error -- a plain .mjs script of the set-up (no types), imported to test its function
import { ensureExecutables } from '../../scripts/ensure-executables.mjs';
import { tmpDir } from '../helpers/toy-clips.js';

type Result = { fixed: string[]; failed: { file: string; reason: string }[] };
const ensure = ensureExecutables as (
  nodeModules: string,
  opts?: { chmod?: (file: string, mode: number) => void; platform?: string },
) => Result;

function fakeNodeModules(mode: number): { root: string; ffmpeg: string; ffprobe: string; other: string } {
  const root = tmpDir('spact-nm-');
  const ffmpeg = path.join(root, '@ffmpeg-installer', 'linux-x64', 'ffmpeg');
  const ffprobe = path.join(root, '@ffprobe-installer', 'linux-x64', 'ffprobe');
  const other = path.join(root, '@ffprobe-installer', 'linux-x64', 'package.json');
  for (const f of [ffmpeg, ffprobe, other]) {
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, f.endsWith('.json') ? '{}' : '#!/bin/sh\necho ok\n');
    fs.chmodSync(f, f.endsWith('.json') ? 0o644 : mode);
  }
  return { root, ffmpeg, ffprobe, other };
}

const modeOf = (f: string) => fs.statSync(f).mode & 0o777;

describe('set-up: video binaries executable for all users', () => {
  it('turns 0744 into 0755, leaves other files alone, and does nothing the second time', () => {
    const nm = fakeNodeModules(0o744);
    const first = ensure(nm.root);
    expect(first.fixed.sort()).toEqual([nm.ffmpeg, nm.ffprobe].sort());
    expect(first.failed).toEqual([]);
    expect(modeOf(nm.ffmpeg)).toBe(0o755);
    expect(modeOf(nm.ffprobe)).toBe(0o755);
    expect(modeOf(nm.other)).toBe(0o644);
    expect(ensure(nm.root)).toEqual({ fixed: [], failed: [] });
  });

  it('reports what it may not change (another owner, a read-only disk) instead of failing', () => {
    const nm = fakeNodeModules(0o700);
    const refuse = (file: string) => {
      throw Object.assign(new Error(`EROFS: read-only file system, chmod '${file}'`), { code: 'EROFS' });
    };
    const r = ensure(nm.root, { chmod: refuse });
    expect(r.fixed).toEqual([]);
    expect(r.failed.map((f) => f.reason)).toEqual(['EROFS', 'EROFS']);
    expect(modeOf(nm.ffmpeg)).toBe(0o700);
    // Nothing installed yet, or on Windows: nothing to do.
    expect(ensure(path.join(nm.root, 'missing'))).toEqual({ fixed: [], failed: [] });
    expect(ensure(nm.root, { platform: 'win32' })).toEqual({ fixed: [], failed: [] });
  });

  it('lets a user other than the owner run the binary afterwards', () => {
    const nobody = spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' });
    const canSwitch = process.getuid?.() === 0 && nobody.status === 0 && fs.existsSync('/usr/sbin/runuser');
    if (!canSwitch) return; // needs root to act as another user; the mode checks above still hold
    const nm = fakeNodeModules(0o744);
    // The folders must be reachable by that user, as node_modules is.
    for (let d = path.dirname(nm.ffprobe); d !== path.dirname(nm.root); d = path.dirname(d)) fs.chmodSync(d, 0o755);
    const run = () => spawnSync('/usr/sbin/runuser', ['-u', 'nobody', '--', nm.ffprobe], { encoding: 'utf8' });
    expect(run().status).not.toBe(0);
    ensure(nm.root);
    expect(run().stdout).toBe('ok\n');
  });
});
