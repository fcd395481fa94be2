import path from 'node:path';

import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// `vite build` → the renderer (dist/renderer). `vite build --mode preload` → the sandboxed
// Electron preload as one CommonJS file (dist/preload/preload.cjs).
export default defineConfig(({ mode }) => {
  if (mode === 'preload') {
    return {
      build: {
        outDir: 'dist/preload',
        emptyOutDir: true,
        minify: false,
        lib: { entry: path.resolve('electron/preload.ts'), formats: ['cjs'], fileName: () => 'preload.cjs' },
        rollupOptions: { external: ['electron'] },
      },
    };
  }
  return {
    root: 'renderer',
    base: './',
    plugins: [svelte()],
    build: { outDir: path.resolve('dist/renderer'), emptyOutDir: true, target: 'es2022' },
  };
});
