// Prints libtorch build flags for binding.gyp. LIBTORCH points at an unpacked libtorch
// (e.g. a CUDA build from pytorch.org); otherwise Debian's libtorch-dev layout is used.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function layout() {
  const root = process.env.LIBTORCH;
  if (root) {
    const lib = path.join(root, 'lib');
    if (!fs.existsSync(path.join(root, 'include', 'torch'))) {
      throw new Error(`LIBTORCH=${root} has no include/torch; point it at an unpacked libtorch folder`);
    }
    const cuda = fs.existsSync(path.join(lib, 'libtorch_cuda.so')) || fs.existsSync(path.join(lib, 'torch_cuda.lib'));
    return {
      include: [path.join(root, 'include'), path.join(root, 'include', 'torch', 'csrc', 'api', 'include')],
      libdir: lib,
      libs: ['torch', 'torch_cpu', 'c10', ...(cuda ? ['torch_cuda', 'c10_cuda'] : [])],
      rpath: true,
    };
  }
  const debianInclude = '/usr/include/torch/csrc/api/include';
  if (!fs.existsSync(debianInclude)) {
    throw new Error(
      'libtorch not found: install Debian libtorch-dev (apt-get install -y libtorch-dev) or set LIBTORCH',
    );
  }
  return { include: [debianInclude], libdir: null, libs: ['torch', 'torch_cpu', 'c10'], rpath: false };
}

const l = layout();
const what = process.argv[2];
if (what === '--include') console.log(l.include.join(' '));
else if (what === '--libs') {
  const flags = [];
  if (l.libdir) flags.push(`-L${l.libdir}`);
  if (l.rpath) flags.push(`-Wl,-rpath,${l.libdir}`);
  // --no-as-needed keeps torch_cuda linked even though no symbol is referenced directly:
  // without it CUDA kernels never register and torch::cuda::is_available() is false.
  flags.push('-Wl,--no-as-needed', ...l.libs.map((x) => `-l${x}`), '-Wl,--as-needed');
  console.log(flags.join(' '));
} else {
  console.error('usage: torch-config.cjs --include|--libs');
  process.exit(2);
}
