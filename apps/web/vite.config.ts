// The web app's build: a static site in dist/ (`npm run web:build`) or Vite's dev server
// (`npm run web`): the page (index.html) and the benchmark page (bench.html). Workspace packages
// resolve to their TypeScript sources (the "@ganglion/source" export condition, as in the tests), so
// the page needs no prior build of the packages.
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// Cross-origin isolation lets onnxruntime-web run its wasm on several threads (SharedArrayBuffer).
const isolated = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  resolve: { conditions: ['@ganglion/source', 'module', 'browser', 'development|production'] },
  server: { host: '127.0.0.1', headers: isolated },
  preview: { host: '127.0.0.1', headers: isolated },
  optimizeDeps: { exclude: ['onnxruntime-web', 'onnxruntime-web/wasm', 'onnxruntime-web/webgpu'] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
    target: 'es2022',
    rollupOptions: {
      input: { main: resolve(import.meta.dirname, 'index.html'), bench: resolve(import.meta.dirname, 'bench.html') },
    },
  },
});
