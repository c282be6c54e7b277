// Messages in compiled mode: a watch on the runtime sees the same Activation / Gradient / ParamGrad
// messages (kinds, nodes, ports, shapes, values within 1e-4) whether the steps run eagerly on tfjs
// or compiled in onnxruntime; `every` and unsubscribing change what the compiled graph outputs.
import {
  type Graph,
  GraphBuilder,
  type Message,
  type MessageFilter,
  Runtime,
  type Tensor,
  createTrainer,
  keep,
  tensor,
} from '@ganglion/core';
import { TfjsBackend } from '@ganglion/backend-tfjs';
import { Dense, Embedding, LSTM, SoftmaxCrossEntropy, TransformerBlock } from '@ganglion/layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileTrainStep } from './compiled-trainer.js';

let tfjs: TfjsBackend;
beforeAll(async () => {
  tfjs = await TfjsBackend.create('cpu');
});

const V = 12;
const B = 2;
const T = 6;

/** Embedding -> LSTM -> causal TransformerBlock (residual fan-out) -> Dense, cross-entropy. */
function model(): Graph {
  const g = new GraphBuilder();
  const ids = g.input('ids', ['batch', 'time'], 'int32');
  const labels = g.input('labels', ['batch', 'time'], 'int32');
  const e = g.node('embed', new Embedding({ vocabSize: V, dim: 8 }), ids);
  const h = g.node('lstm', new LSTM({ units: 8 }), e);
  const a = g.node('block', new TransformerBlock({ heads: 2, causal: true }), h);
  const logits = g.node('head', new Dense({ units: V }), a);
  g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels }));
  return g.build();
}

function batch(k: number): { ids: Tensor; labels: Tensor } {
  const ids = Array.from({ length: B * T }, (_, i) => (i * 5 + k * 3 + ((i * i) % 7)) % V);
  const labels = ids.map((_, i) => ids[(i + 1) % ids.length]);
  return { ids: keep(tensor(ids, [B, T], 'int32', tfjs)), labels: keep(tensor(labels, [B, T], 'int32', tfjs)) };
}

interface Seen {
  readonly step: number;
  readonly what: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

function describeMessage(m: Message): Seen | undefined {
  const seen = (what: string, t: Tensor): Seen => ({
    step: m.step,
    what,
    shape: [...(t.shape as number[])],
    values: Float32Array.from(t.dataSync()),
  });
  switch (m.kind) {
    case 'activation':
      return seen(`activation ${m.from.node}.${m.from.port}`, m.value);
    case 'gradient':
      return seen(`gradient ${m.to.node}.${m.to.port} <- ${m.from.node}.${m.from.port}`, m.grad);
    case 'param-grad':
      return seen(`param-grad ${m.node}.${m.param}`, m.grad);
    default:
      return undefined;
  }
}

/** Three training steps with a watch subscribed; eager on tfjs, or compiled in onnxruntime. */
async function run(mode: 'eager' | 'compiled', filter: MessageFilter, steps = 3): Promise<Seen[]> {
  const runtime = new Runtime(model(), { seed: 7, backend: tfjs });
  const trainer = createTrainer({
    optimizer: 'adam',
    lr: 1e-2,
    clipping: 'global-norm',
    clippingOptions: { maxNorm: 1 },
    backend: tfjs,
  });
  const seen: Seen[] = [];
  const sub = runtime.watch(filter).subscribe((m) => {
    const d = describeMessage(m);
    if (d) seen.push(d);
  });
  const compiled = mode === 'compiled' ? compileTrainStep(runtime, trainer) : undefined;
  try {
    for (let k = 1; k <= steps; k++) {
      const b = batch(k);
      if (compiled) await compiled.step(b);
      else trainer.trainStep(runtime, b);
      b.ids.dispose();
      b.labels.dispose();
    }
  } finally {
    sub.unsubscribe();
    await compiled?.dispose();
    runtime.close();
  }
  return seen;
}

describe('messages in compiled mode', () => {
  it('a watch sees the same messages from eager tfjs and compiled onnxruntime steps', async () => {
    const filter: MessageFilter = { kind: ['activation', 'gradient', 'param-grad'] };
    const eager = await run('eager', filter);
    const compiled = await run('compiled', filter);
    // Every kind, every node, every step.
    expect(new Set(eager.map((s) => s.what.split(' ')[0]))).toEqual(new Set(['activation', 'gradient', 'param-grad']));
    expect(new Set(eager.map((s) => s.step))).toEqual(new Set([1, 2, 3]));
    expect(eager.length).toBeGreaterThan(3 * 20);
    expect(compiled.map((s) => `${s.step} ${s.what} ${s.shape.join('x')}`)).toEqual(
      eager.map((s) => `${s.step} ${s.what} ${s.shape.join('x')}`),
    );
    for (let i = 0; i < eager.length; i++) {
      const a = eager[i].values;
      const b = compiled[i].values;
      let worst = 0;
      for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j] - b[j]) / Math.max(1, Math.abs(a[j])));
      expect(worst, `${eager[i].step} ${eager[i].what}`).toBeLessThan(1e-4);
    }
  }, 60_000);

  it('filters by node and port, and `every` taps only the steps it names', async () => {
    const filter: MessageFilter = { kind: 'param-grad', node: 'head', every: 2 };
    const eager = await run('eager', filter, 4);
    const compiled = await run('compiled', filter, 4);
    expect(eager.map((s) => `${s.step} ${s.what}`)).toEqual([
      '2 param-grad head.kernel',
      '2 param-grad head.bias',
      '4 param-grad head.kernel',
      '4 param-grad head.bias',
    ]);
    expect(compiled.map((s) => `${s.step} ${s.what}`)).toEqual(eager.map((s) => `${s.step} ${s.what}`));
    const port = await run('compiled', { kind: 'activation', port: 'lstm.y' }, 1);
    expect(port.map((s) => `${s.what} ${s.shape.join('x')}`)).toEqual([`activation lstm.y ${B}x${T}x8`]);
  }, 60_000);

  it('taps only while a watch is subscribed: the untapped step keeps its own session', async () => {
    const runtime = new Runtime(model(), { seed: 7, backend: tfjs });
    const trainer = createTrainer({ optimizer: 'sgd', lr: 1e-2, backend: tfjs });
    const compiled = compileTrainStep(runtime, trainer);
    const seen: string[] = [];
    try {
      await compiled.step(batch(1));
      const sub = runtime.watch({ kind: 'param-grad', node: 'head' }).subscribe((m) => seen.push(`${m.step}`));
      await compiled.step(batch(2));
      sub.unsubscribe();
      await compiled.step(batch(3));
      expect(seen).toEqual(['2', '2']);
    } finally {
      await compiled.dispose();
      runtime.close();
    }
  }, 60_000);
});
