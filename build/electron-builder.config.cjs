// electron-builder configuration (`npm run dist`; needs network for the Electron download).
// Native code cannot load from inside an asar archive, so the libtorch addon, better-sqlite3 and
// the ffmpeg/ffprobe binaries are unpacked; the libtorch shared libraries the addon links are
// shipped next to it (found like native-models/torch-config.cjs finds them: LIBTORCH or Debian).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/** Shared libraries of the libtorch the addon was built against, to ship beside it. */
function libtorchFiles() {
  const dir = process.env.LIBTORCH ? path.join(process.env.LIBTORCH, 'lib') : '/usr/lib/x86_64-linux-gnu';
  if (!fs.existsSync(dir)) return [];
  const wanted = /^(libtorch(_cpu|_cuda|_global_deps)?|libc10(_cuda)?|libdnnl|libgomp|libopenblas)\.(so[.\d]*|dll)$/;
  return fs
    .readdirSync(dir)
    .filter((f) => wanted.test(f))
    .map((f) => ({ from: path.join(dir, f), to: `libtorch/${f}` }));
}

/** @type {import('electron-builder').Configuration} */
module.exports = {
  appId: 'org.spact.desktop',
  productName: 'SPAct Desktop',
  directories: { app: root, output: path.join(root, 'dist', 'packages'), buildResources: path.join(root, 'build') },
  files: [
    'package.json',
    'bin/**',
    'dist/node/**',
    'dist/renderer/**',
    'dist/preload/**',
    'native-models/binding.gyp',
    'native-models/build/Release/spact_native.node',
    'native-models/models/default/**',
    '!**/*.map',
    '!native-models/src/**',
    '!test/**',
    '!bench/**',
  ],
  asarUnpack: [
    'native-models/build/Release/*.node',
    'node_modules/better-sqlite3/build/Release/*.node',
    'node_modules/@ffmpeg-installer/**',
    'node_modules/@ffprobe-installer/**',
  ],
  extraFiles: libtorchFiles(),
  electronFuses: {
    runAsNode: false,
    enableCookieEncryption: true,
    enableNodeOptionsEnvironmentVariable: false,
    enableNodeCliInspectArguments: false,
    enableEmbeddedAsarIntegrityValidation: true,
    onlyLoadAppFromAsar: true,
  },
  linux: {
    target: ['AppImage', 'deb'],
    category: 'Video',
  },
  deb: { depends: ['libgomp1'] },
  win: { target: ['nsis'] },
  nsis: { oneClick: false, perMachine: false, allowToChangeInstallationDirectory: true },
};
