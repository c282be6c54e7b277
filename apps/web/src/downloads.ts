// Downloads: the ONNX export (model.onnx), and the checkpoint as its separate files (graph.json, weights.safetensors,
// optimizer.safetensors, tokenizer.json, meta.json: put them in one folder and the CLI reads it),
// each a link in the page so a browser that blocks several downloads at once still offers them.
import { exportOnnx, languageModelExportOptions } from '@ganglion/backend-onnx';
import type { TrainingSession } from './session.js';

const urls: string[] = [];

/** A link that downloads `bytes` as `name`. */
function downloadLink(name: string, bytes: Uint8Array, type: string): HTMLAnchorElement {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
  urls.push(url);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.textContent = `${name} (${bytes.byteLength.toLocaleString('en-US')} bytes)`;
  return a;
}

/** Replace the list's links with the session's checkpoint files, and download each. */
export async function downloadCheckpoint(session: TrainingSession, list: HTMLElement): Promise<void> {
  await offer(await session.checkpointFiles(), list, session.step);
}

/**
 * The model as a stateful ONNX file, model.onnx (what `ganglion export DIR --stateful` writes): the
 * logits from the ids, the recurrent state (or KV cache) as extra inputs and outputs, and the
 * vocabulary in its metadata, so `ganglion run model.onnx` generates from it alone.
 */
export async function downloadOnnx(session: TrainingSession, list: HTMLElement): Promise<void> {
  const { graph, params, meta } = await session.checkpointState();
  const bytes = exportOnnx(
    graph,
    params,
    languageModelExportOptions(session.tokenizer, { step: meta.step, preset: meta.preset }, { stateful: true }),
  );
  await offer({ 'model.onnx': bytes }, list, session.step);
}

/** Show `files` as download links in `list` (replacing the previous ones) and download each. */
async function offer(files: Readonly<Record<string, Uint8Array>>, list: HTMLElement, step: number): Promise<void> {
  for (const url of urls.splice(0)) URL.revokeObjectURL(url);
  const links = Object.entries(files).map(([name, bytes]) =>
    downloadLink(name, bytes, name.endsWith('.json') ? 'application/json' : 'application/octet-stream'),
  );
  list.replaceChildren(
    ...links.map((a) => {
      const li = document.createElement('li');
      li.append(a);
      return li;
    }),
  );
  list.dataset.step = String(step);
  for (const a of links) {
    a.click();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
