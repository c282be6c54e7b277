// Importing Hugging Face folders against PyTorch: the tiny GPT-2 and Llama checkpoints in
// fixtures/ (F32 with the "transformer." prefix and mask buffers, BF16 without the prefix, Llama
// sharded and untied, Llama BF16 tied) and their logits and 50-token greedy continuations, made by
// fixtures/make_hf_fixtures.py from PyTorch implementations written after Hugging Face's
// modeling_gpt2.py and modeling_llama.py. Then every way a folder can be wrong: one line naming
// the file and the tensor.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Runtime, type SafetensorsTensor, encodeSafetensors, tensor } from '@ganglion/core';
import { openSafetensors } from '@ganglion/core/node';
import { TfjsBackend } from '@ganglion/backend-tfjs';
import { ImportError, importHf } from './index.js';

const fixtures = new URL('../fixtures/', import.meta.url).pathname;
interface Reference {
  prompt_ids: number[];
  logits: number[][];
  greedy: number[];
}
const reference: { models: Record<string, Reference> } = JSON.parse(
  readFileSync(join(fixtures, 'reference.json'), 'utf8'),
);
const tmp = mkdtempSync(join(tmpdir(), 'ganglion-hf-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const backendP = TfjsBackend.create('cpu');

/** The logits [time, vocab] of one sequence. */
function logitsOf(runtime: Runtime, ids: readonly number[], backend: TfjsBackend): Float32Array {
  const out = runtime.forward({ ids: tensor(Int32Array.from(ids), [1, ids.length], 'int32', backend) });
  const values = Float32Array.from(out.logits.dataSync());
  out.logits.dispose();
  return values;
}

describe('importHf equals PyTorch on the fixtures', () => {
  test.each(Object.keys(reference.models))('%s: logits within 1e-4, greedy 50 tokens identical', async (name) => {
    const backend = await backendP;
    const ref = reference.models[name];
    const model = await importHf(join(fixtures, name), { backend });
    const runtime = new Runtime(model.graph.subgraph(['logits']), { params: model.params, backend });
    const logits = logitsOf(runtime, ref.prompt_ids, backend);
    const expected = ref.logits.flat();
    expect(logits.length).toBe(expected.length);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(logits[i] - expected[i]));
    expect(worst).toBeLessThan(1e-4);
    const ids = [...ref.prompt_ids];
    const vocab = model.config.vocabSize;
    for (let step = 0; step < ref.greedy.length; step++) {
      const all = logitsOf(runtime, ids, backend);
      const last = all.subarray(all.length - vocab);
      let best = 0;
      for (let v = 1; v < vocab; v++) if (last[v] > last[best]) best = v;
      ids.push(best);
    }
    expect(ids.slice(ref.prompt_ids.length)).toEqual(ref.greedy);
    expect(model.tokenizer).toEqual(JSON.parse(readFileSync(join(fixtures, name, 'tokenizer.json'), 'utf8')));
    model.params.dispose();
  });
});

/** A copy of a fixture folder to break. */
function copyOf(name: string): string {
  const dir = mkdtempSync(join(tmp, `${name}-`));
  cpSync(join(fixtures, name), dir, { recursive: true });
  return dir;
}

const editJson = (file: string, edit: (j: Record<string, unknown>) => void) => {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  edit(j);
  writeFileSync(file, JSON.stringify(j));
};

/** Re-encode a folder's model.safetensors (F32) after an edit of its tensors. */
async function rewriteWeights(dir: string, edit: (tensors: Map<string, SafetensorsTensor>) => void): Promise<void> {
  const file = join(dir, 'model.safetensors');
  const reader = await openSafetensors(file);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, info] of reader.tensors)
    tensors.set(name, { dtype: 'F32', shape: info.shape, data: await reader.readFloat32(name) });
  await reader.close();
  edit(tensors);
  writeFileSync(file, encodeSafetensors(tensors));
}

async function importError(dir: string): Promise<string> {
  const e = await importHf(dir).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ImportError);
  const message = (e as Error).message;
  expect(message).not.toContain('\n');
  return message;
}

describe('a folder that cannot be imported: one line naming the file and the tensor', () => {
  test('an unknown architecture', async () => {
    const dir = copyOf('gpt2-tiny');
    editJson(join(dir, 'config.json'), (c) => (c.architectures = ['BertForMaskedLM']));
    expect(await importError(dir)).toBe(
      `${join(dir, 'config.json')}: architecture "BertForMaskedLM" is not supported; Ganglion imports GPT2LMHeadModel and LlamaForCausalLM`,
    );
  });

  test('a config key that would change the maths', async () => {
    const dir = copyOf('llama-tiny');
    editJson(join(dir, 'config.json'), (c) => (c.rope_scaling = { rope_type: 'llama3', factor: 8 }));
    expect(await importError(dir)).toMatch(
      /config\.json: "rope_scaling": .* is not supported \(Ganglion computes plain RoPE\)$/,
    );
  });

  test('a missing tensor', async () => {
    const dir = copyOf('gpt2-tiny');
    await rewriteWeights(dir, (tensors) => tensors.delete('transformer.h.1.mlp.c_fc.bias'));
    expect(await importError(dir)).toBe(
      `${join(dir, 'model.safetensors')}: missing tensor "transformer.h.1.mlp.c_fc.bias" (needed for block2.ff.in_bias)`,
    );
  });

  test('a shape that does not fit the config', async () => {
    const dir = copyOf('gpt2-tiny');
    editJson(join(dir, 'config.json'), (c) => (c.n_inner = 128));
    expect(await importError(dir)).toBe(
      `${join(dir, 'model.safetensors')}: tensor "transformer.h.0.mlp.c_fc.weight" has shape [64, 256], but ${join(dir, 'config.json')} needs [64, 128]`,
    );
  });

  test('an unsupported dtype names the tensor', async () => {
    const dir = copyOf('gpt2-tiny-bf16');
    const file = join(dir, 'model.safetensors');
    const bytes = readFileSync(file);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    // The same bytes read as I16: a dtype no float32 weight comes from.
    header['ln_f.weight'].dtype = 'I16';
    const text = Buffer.from(JSON.stringify(header).padEnd(n, ' '));
    expect(text.length).toBe(n);
    writeFileSync(file, Buffer.concat([bytes.subarray(0, 8), text, bytes.subarray(8 + n)]));
    expect(await importError(dir)).toMatch(
      /model\.safetensors: tensor "ln_f\.weight" is I16; only F32, F16, BF16 and F64/,
    );
  });

  test('a tensor the architecture does not have', async () => {
    const dir = copyOf('gpt2-tiny');
    await rewriteWeights(dir, (tensors) =>
      tensors.set('score.weight', { dtype: 'F32', shape: [2, 64], data: new Float32Array(128) }),
    );
    expect(await importError(dir)).toBe(
      `${join(dir, 'model.safetensors')}: tensor "score.weight" is not part of a GPT2LMHeadModel with this config.json`,
    );
  });

  test('no weights at all, and no config', async () => {
    const dir = copyOf('gpt2-tiny');
    rmSync(join(dir, 'model.safetensors'));
    expect(await importError(dir)).toContain(dir);
    rmSync(join(dir, 'config.json'));
    expect(await importError(dir)).toBe(`${join(dir, 'config.json')}: not found`);
  });
});
