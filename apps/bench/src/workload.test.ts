// The GPT workloads' models: the Ganglion graph has the parameter count the shapes give by hand,
// the PyTorch script builds a model with the same count, and the graph is the GPT the script
// builds (learned positions, causal pre-norm blocks without RoPE or a window, tied head): with the
// same weights, PyTorch computes the same loss.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Graph, ReferenceBackend, Runtime, tensor } from '@ganglion/core';
import { gpt } from '@ganglion/layers';
import { describe, expect, test } from 'vitest';
import { PYTHON, TORCH_GPT_SCRIPT, gptArgs, torchEnv } from './contenders/pytorch.js';
import { GPT_WORKLOADS, gptParamCount, workloadGraph } from './workload.js';

const countOf = (g: Graph) =>
  g.params().reduce((n, p) => n + p.spec.shape.reduce((a: number, b) => a * (b as number), 1), 0);

describe('GPT workloads', () => {
  test('the Ganglion graphs have the parameter counts of their shapes', async () => {
    // gpt-0.8m by hand: tokens 89·128 = 11,392; positions 128·128 = 16,384; a block has two
    // LayerNorms 4·128 = 512, QKV 384·128 + 384 = 49,536, the output projection 128·128 + 128 =
    // 16,512, the MLP 512·128 + 512 + 128·512 + 128 = 131,712: 198,272, four of them 793,088;
    // the final LayerNorm 256; the head has none of its own. 11,392 + 16,384 + 793,088 + 256.
    // gpt2-small (GPT-2's shape, context 256): tokens 50,257·768 = 38,597,376; positions 256·768 =
    // 196,608; a block 2·1,536 + (2,304·768 + 2,304) + (768·768 + 768) + (3,072·768 + 3,072) +
    // (768·3,072 + 768) = 7,087,872, twelve of them 85,054,464; the final LayerNorm 1,536. Its LoRA
    // variant adds r = 8 adapters on q and v: 12 blocks · 2 · (8·768 + 768·8) = 294,912.
    const byHand = {
      'gpt-0.8m': 821_120,
      'gpt-5m': 4_827_392,
      'gpt-25m': 25_396_736,
      'gpt-85m': 85_320_960,
      'gpt2-small': 123_849_984,
      'gpt2-small-lora': 123_849_984 + 294_912,
    };
    for (const [name, w] of Object.entries(GPT_WORKLOADS)) {
      expect(countOf(await workloadGraph(w)), name).toBe(byHand[name as keyof typeof byHand]);
      expect(gptParamCount(w), name).toBe(byHand[name as keyof typeof byHand]);
    }
  });

  test('the graph is a learned-position GPT with causal blocks and a tied head', async () => {
    const json = (await workloadGraph(GPT_WORKLOADS['gpt-0.8m'])).toJSON();
    expect(json.nodes.map((n) => n.name)).toEqual([
      'embed',
      'pos',
      'block1',
      'block2',
      'block3',
      'block4',
      'ln_f',
      'head',
      'loss',
    ]);
    expect(json.nodes.find((n) => n.name === 'pos')).toMatchObject({
      kind: 'PositionEmbedding',
      config: { maxLen: 128, dim: 128 },
    });
    expect(json.nodes.find((n) => n.name === 'block1')).toMatchObject({
      kind: 'TransformerBlock',
      config: { heads: 4, causal: true },
    });
    expect(json.nodes.find((n) => n.name === 'block1')?.config).not.toHaveProperty('rope');
    expect(json.nodes.find((n) => n.name === 'block1')?.config).not.toHaveProperty('window');
    expect(json.nodes.find((n) => n.name === 'head')).toMatchObject({
      kind: 'TiedHead',
      inputs: { weight: 'embed.weight' },
    });
  });

  /** Ganglion's parameter names as torch_gpt.py's state_dict() spells them. */
  const torchName = (key: string): string => {
    const inBlock: Record<string, string> = {
      'attn.in_proj_weight': 'qkv.weight',
      'attn.in_proj_bias': 'qkv.bias',
      'attn.out_proj_weight': 'proj.weight',
      'attn.out_proj_bias': 'proj.bias',
      'ff.in_weight': 'ff.0.weight',
      'ff.in_bias': 'ff.0.bias',
      'ff.out_weight': 'ff.2.weight',
      'ff.out_bias': 'ff.2.bias',
    };
    const block = /^block(\d+)\.(.+)$/.exec(key);
    if (block) return `blocks.${Number(block[1]) - 1}.${inBlock[block[2]] ?? block[2]}`;
    return (
      { 'embed.weight': 'tok.weight', 'pos.weight': 'pos.weight', 'ln_f.weight': 'ln.weight', 'ln_f.bias': 'ln.bias' }[
        key
      ] ?? key
    );
  };

  const torch = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8', timeout: 60_000, env: torchEnv() });
  const why = torch.error
    ? torch.error.message
    : torch.status !== 0
      ? torch.stderr.trim().split('\n').at(-1)
      : undefined;
  const title = "gpt-0.8m: torch_gpt.py --count-params gives the Ganglion graph's count";
  const sameLoss = 'a small GPT: torch_gpt.py --loss-of gives the loss Ganglion computes with the same weights';
  if (why !== undefined) {
    test.skip(`${title} (skipped: ${PYTHON} cannot import torch: ${why})`, () => {});
    test.skip(`${sameLoss} (skipped: ${PYTHON} cannot import torch: ${why})`, () => {});
  } else {
    test(sameLoss, { timeout: 60_000 }, () => {
      const [vocab, dim, heads, blocks, context, batch] = [11, 16, 2, 2, 8, 2];
      const backend = new ReferenceBackend();
      const runtime = new Runtime(gpt({ dim, heads, blocks, context, position: 'learned' })(vocab), {
        seed: 3,
        backend,
      });
      const ids = Array.from({ length: batch * context }, (_, i) => (i * 7 + 3) % vocab);
      const labels = Array.from({ length: batch * context }, (_, i) => (i * 5 + 1) % vocab);
      const feeds = {
        ids: tensor(ids, [batch, context], 'int32', backend),
        labels: tensor(labels, [batch, context], 'int32', backend),
      };
      const loss = runtime.forward(feeds).loss.dataSync()[0];
      const weights = Object.fromEntries(
        runtime.params.keys().map((k) => [torchName(k), Array.from(runtime.params.get(k).dataSync())]),
      );
      const dir = mkdtempSync(join(tmpdir(), 'ganglion-gpt-loss-'));
      try {
        writeFileSync(join(dir, 'given.json'), JSON.stringify({ weights, ids, labels }));
        const args = [
          '--vocab',
          vocab,
          '--dim',
          dim,
          '--heads',
          heads,
          '--blocks',
          blocks,
          '--context',
          context,
          '--batch',
          batch,
        ].map(String);
        const r = spawnSync(PYTHON, [TORCH_GPT_SCRIPT, ...args, '--loss-of', join(dir, 'given.json')], {
          encoding: 'utf8',
          timeout: 60_000,
          env: torchEnv(),
        });
        expect(r.status, r.stderr).toBe(0);
        // float32 in PyTorch, float64 here.
        expect(JSON.parse(r.stdout).loss).toBeCloseTo(loss, 5);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test(title, { timeout: 60_000 }, async () => {
      const w = GPT_WORKLOADS['gpt-0.8m'];
      const r = spawnSync(PYTHON, [TORCH_GPT_SCRIPT, ...gptArgs(w), '--count-params'], {
        encoding: 'utf8',
        timeout: 60_000,
        env: torchEnv(),
      });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ paramCount: countOf(await workloadGraph(w)) });
    });
  }
});
