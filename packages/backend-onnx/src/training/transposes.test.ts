// Where transposes fold into products (the trace: onnxruntime fuses a Transpose into the MatMul or
// Gemm it feeds), the transformer layers' linear maps transpose their weights, never their
// activations: the forward moves no activation through a Transpose, and the backward keeps x
// itself rather than a transposed copy of it. Checked on the traced gradients graph of a GPT
// whose few rows would make the eager backends flip the product instead.
import { GraphBuilder } from '@ganglion/core';
import {
  Embedding,
  LayerNorm,
  PositionEmbedding,
  SoftmaxCrossEntropy,
  TiedHead,
  TransformerBlock,
} from '@ganglion/layers';
import { describe, expect, it } from 'vitest';
import { onnx } from '../proto.js';
import { traceGradients } from './trace-train-step.js';

describe('linear maps in a traced step', () => {
  it('transpose weights, not activations', () => {
    const g = new GraphBuilder();
    const ids = g.input('ids', ['batch', 'time'], 'int32');
    const labels = g.input('labels', ['batch', 'time'], 'int32');
    // 2 x 4 = 8 rows against 64 -> 256 weights: rows·(in + out) < in·out, the eager flip case.
    const embed = g.node('embed', new Embedding({ vocabSize: 13, dim: 64, outputWeight: true }), ids);
    const h = g.node(
      'block1',
      new TransformerBlock({ heads: 2 }),
      g.node('pos', new PositionEmbedding({ maxLen: 4, dim: 64 }), embed),
    );
    const logits = g.node('head', new TiedHead(), {
      x: g.node('ln_f', new LayerNorm(), h),
      weight: embed.out('weight'),
    });
    g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels }));
    const model = traceGradients({
      graph: g.build(),
      loss: 'loss',
      feeds: { ids: { shape: [2, 4], dtype: 'int32' }, labels: { shape: [2, 4], dtype: 'int32' } },
    });
    const nodes = onnx.ModelProto.decode(model.bytes).graph!.node!;
    const producer = new Map(nodes.flatMap((n) => n.output!.map((o) => [o, n] as const)));
    const isWeight = (v: string) =>
      v.startsWith('params/') ||
      (producer.get(v)?.opType === 'Transpose' && producer.get(v)!.input![0].startsWith('params/'));
    const linears = nodes.filter(
      (n) => n.name!.startsWith('block1/') && n.opType === 'MatMul' && n.input!.some(isWeight),
    );
    // Query-key-value, output projection, and the feed-forward's two.
    expect(linears).toHaveLength(4);
    for (const m of linears) {
      const x = m.input!.find((i) => !isWeight(i))!;
      expect(producer.get(x)?.opType, `${m.name} multiplies ${x}`).not.toBe('Transpose');
    }
  });
});
