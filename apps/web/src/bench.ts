// The benchmark page: `ganglion bench`'s char-LSTM contenders (apps/bench), run one after another
// in this browser, each timed over its warm-up and measured training steps; the medians go into
// #bench-results and, as JSON, into its data-results attribute. Not a test: numbers to read.
import wasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import simdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import threadedUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { env } from '@tensorflow/tfjs';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { NodeContender } from '../../bench/src/contender.js';
import { compiledStepSession } from '../../bench/src/contenders/compiled-step.js';
import { ganglionContender } from '../../bench/src/contenders/ganglion.js';
import { tfjsLayersContender } from '../../bench/src/contenders/tfjs-layers.js';
import { FULL_WORKLOAD, QUICK_WORKLOAD } from '../../bench/src/workload.js';
import { defaultWasmThreads, loadOrtWeb } from './ort-web.js';

interface Result {
  readonly name: string;
  readonly backend: string;
  readonly steps?: number;
  readonly medianMs?: number;
  readonly error?: string;
}

// The wasm binaries are served next to the page; tfjs would look beside its own script otherwise.
setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmUrl,
  'tfjs-backend-wasm-simd.wasm': simdUrl,
  'tfjs-backend-wasm-threaded-simd.wasm': threadedUrl,
});

const params = new URLSearchParams(location.search);
const workload = params.has('quick') ? QUICK_WORKLOAD : FULL_WORKLOAD;
const only = params.get('only')?.split(',');
// `?threads=N` sets the wasm threads of onnxruntime-web and of tfjs (more than one only where the
// page is cross-origin isolated).
const threads = crossOriginIsolated ? Number(params.get('threads') ?? defaultWasmThreads()) : 1;
const threadsText = (n: number) => `${n} thread${n === 1 ? '' : 's'}`;
// tfjs wasm's threaded build starts its threads' worker from the source text of a function in the
// bundle, which minifying breaks ("e is not defined" in the worker, and the backend never starts).
// bench-browser.mjs builds the site unminified; a minified build (`npm run web:build`) gets one
// tfjs thread, as the page then says.
const unminified = function probe(value: number) {
  return value + 1;
}
  .toString()
  .includes('value + 1');
const tfjsThreads = unminified ? threads : 1;
if (tfjsThreads === 1) env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
else setThreadsCount(tfjsThreads);

/** Ganglion's compiled training step (ganglion bench's ganglion-onnx) on onnxruntime-web's wasm. */
const ganglionOrtWeb: NodeContender = {
  kind: 'node',
  name: 'ganglion-ort-web',
  framework: 'ganglion',
  backend: `onnxruntime-web wasm, ${threadsText(threads)}`,
  description: "@ganglion/backend-onnx's compiled training step (compileTrainStep) in onnxruntime-web",
  pace: 'fast',
  available: async () => true,
  async prepare(w) {
    const onnx = await import('@ganglion/backend-onnx');
    onnx.useOrt(await loadOrtWeb('ort-web'), { executionProviders: ['wasm'], numThreads: threads });
    return compiledStepSession(onnx, w);
  },
};

const contenders: NodeContender[] = [
  ganglionOrtWeb,
  ganglionContender('tfjs', 'slow'),
  tfjsLayersContender('cpu', 'slow'),
  { ...ganglionContender('tfjs-wasm', 'medium'), backend: `tfjs wasm, ${threadsText(tfjsThreads)}` },
  { ...tfjsLayersContender('wasm', 'medium'), backend: `tfjs wasm, ${threadsText(tfjsThreads)}` },
].filter((c) => !only || only.includes(c.name));

const status = document.getElementById('bench-status')!;
const table = document.getElementById('bench-results') as HTMLTableElement;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pause = () => new Promise((resolve) => setTimeout(resolve, 0));

function render(results: readonly Result[]): void {
  table.dataset.results = JSON.stringify(results);
  const row = (cells: string[], tag: 'td' | 'th' = 'td') => {
    const tr = document.createElement('tr');
    for (const c of cells) {
      const cell = document.createElement(tag);
      cell.textContent = c;
      tr.append(cell);
    }
    return tr;
  };
  table.replaceChildren(
    row(['contender', 'backend', 'measured steps', 'train step ms (median)', 'note'], 'th'),
    ...results.map((r) => row([r.name, r.backend, String(r.steps ?? ''), r.medianMs?.toFixed(0) ?? '', r.error ?? ''])),
  );
}

async function run(): Promise<void> {
  const results: Result[] = [];
  for (const c of contenders) {
    const counts = workload.steps[c.pace];
    status.textContent = `${c.name}: preparing (${workload.name} workload)…`;
    await pause();
    try {
      const session = await c.prepare(workload);
      const times: number[] = [];
      for (let i = 0; i < counts.warmup + counts.measured; i++) {
        status.textContent = `${c.name}: step ${i + 1}/${counts.warmup + counts.measured}`;
        await pause();
        const t0 = performance.now();
        await session.trainStep!(); // trainOnBatch returns a promise
        if (i >= counts.warmup) times.push(performance.now() - t0);
      }
      results.push({ name: c.name, backend: c.backend, steps: times.length, medianMs: median(times) });
    } catch (e) {
      results.push({ name: c.name, backend: c.backend, error: String((e as Error).message ?? e) });
    }
    render(results);
  }
  status.textContent = 'done';
  status.dataset.done = 'true';
}

document.getElementById('run')!.addEventListener('click', () => void run());
if (params.has('run')) void run();
