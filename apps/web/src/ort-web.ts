// onnxruntime-web in the build an engine needs, loaded on first use (its wasm is large).
// The wasm engine gets the package's wasm-only build: the default build's wasm is the one that can
// also drive WebGPU (JSEP), and it ran the char-LSTM training step 2.6 times slower in Chromium
// at 2 threads (717 ms against 273 ms a step, docs/benchmarks.md). WebGPU gets the WebGPU build.
import type * as Ort from 'onnxruntime-web';

export type OrtWebEngine = 'ort-web' | 'ort-webgpu';

/** Wasm threads by default: up to 4 where the page is cross-origin isolated (Vite's servers send the headers), else 1. */
export const defaultWasmThreads = (): number => (crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency) : 1);

const builds = new Map<OrtWebEngine, Promise<typeof Ort>>();

export function loadOrtWeb(engine: OrtWebEngine): Promise<typeof Ort> {
  let build = builds.get(engine);
  if (!build) {
    build = engine === 'ort-web' ? import('onnxruntime-web/wasm') : import('onnxruntime-web/webgpu');
    builds.set(engine, build);
  }
  return build;
}
