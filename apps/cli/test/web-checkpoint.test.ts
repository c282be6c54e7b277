// A checkpoint made the way the web page makes it, read by the CLI: a char-LSTM trained by the
// compiled step on onnxruntime-web (wasm, here in Node), its files made by the pure
// `checkpointFiles` (through the trainer and an in-memory store, as the page downloads them) and
// written one by one into a folder. Those bytes are exactly what the node folder writer puts on
// disk, and `ganglion generate --temperature 0` (onnxruntime-node) prints the greedy text that
// onnxruntime-web generated in this process.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CharTokenizer,
  type CheckpointFiles,
  ReferenceBackend,
  Runtime,
  createTrainer,
  generate,
  keep,
  tensor,
} from '@ganglion/core';
import { checkpointFolder } from '@ganglion/core/node';
import { compileTrainStep, runnerModel, useOrt } from '@ganglion/backend-onnx';
import { charLstm } from '@ganglion/layers';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runCli } from './run-cli.js';

const TEXT = 'the quick brown fox jumps over the lazy dog, then the dog naps. ';
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ganglion-web-ckpt-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

test('a checkpoint from onnxruntime-web training, saved as the page saves it, generates the same greedy text in the CLI', async () => {
  useOrt(ortWeb, { executionProviders: ['wasm'], numThreads: 1 });
  const backend = new ReferenceBackend();
  const tokenizer = CharTokenizer.fromText(TEXT);
  const graph = charLstm(16, [32])(tokenizer.vocabSize);
  const runtime = new Runtime(graph, { seed: 5, backend });
  const trainer = createTrainer({ optimizer: 'adam', lr: 2e-2 });
  const compiled = compileTrainStep(runtime, trainer);
  const all = tokenizer.encode(TEXT.repeat(2));
  for (let s = 0; s < 10; s++) {
    const at = (s * 7) % (all.length - 17);
    const ids = keep(tensor(all.slice(at, at + 16), [1, 16], 'int32', backend));
    const labels = keep(tensor(all.slice(at + 1, at + 17), [1, 16], 'int32', backend));
    await compiled.step({ ids, labels });
  }
  compiled.syncTo(runtime.params, trainer);
  await compiled.dispose();
  const webText = await generate(runnerModel(graph, runtime.params), tokenizer, 'the ', 30, {
    temperature: 0,
    seed: 0,
  });

  // The page's store keeps the files in memory; the user saves each download into one folder.
  let files: CheckpointFiles = {};
  const page = {
    location: 'page',
    write: async (f: CheckpointFiles) => {
      files = f;
      return 'page';
    },
  };
  const meta = { tokenizer: tokenizer.toJSON() };
  await trainer.save(page, runtime, meta);
  const downloads = join(root, 'downloads');
  await mkdir(downloads);
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(downloads, name), bytes);

  // The node writer (atomic generations) writes the same bytes.
  const folder = join(root, 'folder');
  await trainer.save(checkpointFolder(folder), runtime, meta);
  for (const [name, bytes] of Object.entries(files))
    expect(new Uint8Array(await readFile(join(folder, name))), name).toEqual(bytes);
  runtime.close();

  const result = await runCli(
    ['generate', downloads, '--prompt', 'the ', '--max-tokens', '30', '--temperature', '0'],
    root,
  );
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(webText).toMatch(/\S/);
  expect(result.stdout).toBe(`the ${webText}\n`);
});
