import fs from 'node:fs';
import path from 'node:path';

import type { AppInfo } from '../contract.js';
import { loadNative } from '../../native-models/ts/native.js';
import { projectRoot } from './paths.js';

let pkg: { name: string; version: string } | undefined;

/** What the app runs on: version, Node, and whether the libtorch engine loaded (and with CUDA). */
export function readAppInfo(transport: AppInfo['transport']): AppInfo {
  pkg ??= JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  let engine: AppInfo['engine'];
  try {
    engine = { available: true, ...loadNative().info() };
  } catch (err) {
    engine = { available: false, reason: err instanceof Error ? err.message : String(err) };
  }
  return {
    name: pkg.name,
    version: pkg.version,
    transport,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    engine,
  };
}
