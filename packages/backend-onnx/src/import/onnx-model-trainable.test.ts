// A trainable OnnxModel fine-tunes a model PyTorch exported (fixtures/make_torch_onnx_fixture.py):
// its forward, loss and gradients equal PyTorch's, 3 SGD steps through the trainer reach PyTorch's
// parameters, and the trained graph exported again runs in onnxruntime to PyTorch's trained logits.
// Initializers a comparison reads stay frozen or raise; shapes, scalars and host-read bounds stay
// constants (checked against onnxruntime on the same file).
import { readFileSync } from 'node:fs';
import {
  type Backend,
  type Graph,
  GraphBuilder,
  GraphError,
  ParamStore,
  ReferenceBackend,
  Runtime,
  type Tensor,
  createTrainer,
  dispose,
  tensor,
  tidy,
} from '@ganglion/core';
import { TfjsBackend } from '@ganglion/backend-tfjs';
import { SoftmaxCrossEntropy } from '@ganglion/layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../export.js';
import * as ort from 'onnxruntime-node';
import { runSession } from '../ort-tensors.js';
import { onnx } from '../proto.js';
import { compileTrainStep } from '../training/compiled-trainer.js';
import { OnnxModel } from './onnx-model.js';

interface Values {
  readonly shape: number[];
  readonly data: number[];
}
interface Case {
  readonly file: string;
  readonly x: Values;
  readonly labels: number[];
  readonly logits: Values;
  readonly loss: number;
  readonly grads: Record<string, Values>;
}
interface MlpCase extends Case {
  readonly lr: number;
  readonly steps: number;
  readonly step_losses: number[];
  readonly trained_params: Record<string, Values>;
  readonly trained_logits: Values;
}

const fixtures = new URL('../../fixtures/', import.meta.url);
const torchRef = JSON.parse(readFileSync(new URL('torch-onnx.json', fixtures), 'utf8')) as {
  mlp: MlpCase;
  gate: Case & { threshold: Values };
};
const fileOf = (c: Case) => new URL(c.file, fixtures).pathname;

const reference = new ReferenceBackend();
let tfjs: TfjsBackend;
beforeAll(async () => {
  tfjs = await TfjsBackend.create('cpu');
});
const backends = () => [reference, tfjs] as Backend[];

/** max |got - want| over max |want|: one relative error for a whole tensor. */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < got.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

/** x -> the ONNX model (node "net") -> logits -> cross-entropy with labels. */
function classifier(model: OnnxModel): Graph {
  const g = new GraphBuilder();
  const logits = g.node('net', model, g.input('x', ['batch', 4], 'float32')).out('logits');
  g.output('logits', logits);
  g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), logits, g.input('labels', ['batch'], 'int32')));
  return g.build();
}

function feeds(c: Case, backend: Backend): Record<string, Tensor> {
  return {
    x: tensor(c.x.data, c.x.shape, 'float32', backend),
    labels: tensor(c.labels, [c.labels.length], 'int32', backend),
  };
}

/** PyTorch's parameter names ('fc1.weight') as the node's parameter keys ('net.fc1_weight'). */
const keyOf = (torchName: string) => `net.${torchName.replace(/\./g, '_')}`;

describe('a PyTorch MLP (Linear, GELU, LayerNorm, Linear) imported with trainable: true', () => {
  const c = torchRef.mlp;

  it('declares each float initializer as a trainable parameter of its shape', () => {
    const graph = classifier(new OnnxModel({ path: fileOf(c), trainable: true }));
    expect(graph.node('net').signature.params.map((p) => [p.name, p.shape, p.trainable ?? true])).toEqual(
      Object.entries(c.grads).map(([k, g]) => [k.replace(/\./g, '_'), g.shape, true]),
    );
    expect(classifier(new OnnxModel({ path: fileOf(c) })).node('net').signature.params).toEqual([]);
  });

  it.each(['reference', 'tfjs'])('has PyTorch’s logits, loss and gradients on %s', (which) => {
    const backend = which === 'tfjs' ? tfjs : reference;
    const graph = classifier(new OnnxModel({ path: fileOf(c), trainable: true }));
    const runtime = new Runtime(graph, {
      backend,
      params: OnnxModel.loadInitializers(ParamStore.initialize(graph, 0, backend)),
    });
    const r = runtime.trainStep(feeds(c, backend), { loss: 'loss' });
    expect(r.outputs.logits.shape).toEqual(c.logits.shape);
    expect(relErr(r.outputs.logits.dataSync(), c.logits.data)).toBeLessThan(1e-5);
    expect(Math.abs(r.loss - c.loss) / c.loss).toBeLessThan(1e-5);
    expect([...r.paramGrads.keys()].sort()).toEqual(Object.keys(c.grads).map(keyOf).sort());
    for (const [name, want] of Object.entries(c.grads)) {
      const got = r.paramGrads.get(keyOf(name))!;
      expect(got.shape, name).toEqual(want.shape);
      expect(relErr(got.dataSync(), want.data), name).toBeLessThan(1e-5);
    }
    dispose([r.outputs, [...r.paramGrads.values()], [...r.inputGrads.values()]]);
    runtime.close();
  });

  it.each(['reference', 'tfjs'])(
    'reaches PyTorch’s parameters after 3 SGD steps on %s, and exports the trained model for onnxruntime',
    async (which) => {
      const backend = which === 'tfjs' ? tfjs : reference;
      const graph = classifier(new OnnxModel({ path: fileOf(c), trainable: true }));
      const params = OnnxModel.loadInitializers(ParamStore.initialize(graph, 0, backend));
      const runtime = new Runtime(graph, { backend, params });
      const trainer = createTrainer({ optimizer: 'sgd', lr: c.lr, backend });
      const losses = [];
      for (let s = 0; s < c.steps; s++) losses.push(trainer.trainStep(runtime, feeds(c, backend)).loss);
      expect(relErr(losses, c.step_losses)).toBeLessThan(1e-5);
      for (const [name, want] of Object.entries(c.trained_params))
        expect(relErr(params.get(keyOf(name)).dataSync(), want.data), name).toBeLessThan(1e-5);

      const bytes = exportOnnx(graph, params, { outputs: ['logits'], inputs: { x: c.x.shape } });
      const session = await ort.InferenceSession.create(bytes);
      const got = await runSession(session, { x: { data: Float32Array.from(c.x.data), shape: c.x.shape } });
      expect(relErr(got.logits.data, c.trained_logits.data)).toBeLessThan(1e-5);
      const eager = tidy(() => runtime.forward(feeds(c, backend)).logits.dataSync());
      expect(relErr(got.logits.data, eager)).toBeLessThan(1e-5);
      await session.release();
      runtime.close();
    },
  );

  it('reaches PyTorch’s parameters after 3 SGD steps compiled to one ONNX training graph', async () => {
    const graph = classifier(new OnnxModel({ path: fileOf(c), trainable: true }));
    const params = OnnxModel.loadInitializers(ParamStore.initialize(graph, 0, reference));
    const trainer = createTrainer({ optimizer: 'sgd', lr: c.lr, backend: reference });
    const compiled = compileTrainStep({ graph, params }, trainer);
    const batch = {
      x: { data: Float32Array.from(c.x.data), shape: c.x.shape },
      labels: { data: Int32Array.from(c.labels), shape: [c.labels.length], dtype: 'int32' as const },
    };
    const losses = [];
    for (let s = 0; s < c.steps; s++) losses.push((await compiled.step(batch)).loss);
    expect(relErr(losses, c.step_losses)).toBeLessThan(1e-5);
    compiled.syncTo(params);
    for (const [name, want] of Object.entries(c.trained_params))
      expect(relErr(params.get(keyOf(name)).dataSync(), want.data), name).toBeLessThan(1e-5);
    await compiled.dispose();
  });

  it('the file itself runs in onnxruntime to PyTorch’s logits (the fixture is the model it claims)', async () => {
    const session = await ort.InferenceSession.create(fileOf(c));
    const got = await runSession(session, { x: { data: Float32Array.from(c.x.data), shape: c.x.shape } });
    expect(relErr(got.logits.data, c.logits.data)).toBeLessThan(1e-5);
    await session.release();
  });
});

describe('an initializer a comparison reads (PyTorch’s where(x > threshold, x, 0))', () => {
  const c = torchRef.gate;

  it('raises one line naming the initializer, node and op with nonDifferentiable: "error"', () => {
    const make = () => new OnnxModel({ path: fileOf(c), trainable: true, nonDifferentiable: 'error' });
    expect(make).toThrow(GraphError);
    expect(make).toThrow(
      /^ONNX model ".*torch-gate\.onnx": initializer "threshold" feeds node "\/Greater" \(Greater, input 1\), which passes no gradient to it; use nonDifferentiable: 'freeze' to keep it frozen$/,
    );
  });

  it('stays a frozen parameter by default; the others train with PyTorch’s gradients', () => {
    const graph = classifier(new OnnxModel({ path: fileOf(c), trainable: true }));
    expect(graph.node('net').signature.params.map((p) => [p.name, p.trainable ?? true])).toEqual([
      ['threshold', false],
      ['fc_weight', true],
      ['fc_bias', true],
    ]);
    const params = OnnxModel.loadInitializers(ParamStore.initialize(graph, 0, reference));
    expect(relErr(params.get('net.threshold').dataSync(), c.threshold.data)).toBeLessThan(1e-7);
    const runtime = new Runtime(graph, { backend: reference, params });
    const r = runtime.trainStep(feeds(c, reference), { loss: 'loss' });
    expect(relErr(r.outputs.logits.dataSync(), c.logits.data)).toBeLessThan(1e-5);
    expect([...r.paramGrads.keys()].sort()).toEqual(['net.fc_bias', 'net.fc_weight']);
    for (const [name, want] of Object.entries(c.grads))
      expect(relErr(r.paramGrads.get(keyOf(name))!.dataSync(), want.data), name).toBeLessThan(1e-5);
    runtime.close();
  });
});

describe('what stays a constant', () => {
  // y = Reshape(Clip(x * w, lo, 5) * half, shape): w trains; the int64 shape, the scalar `half` and
  // the bound `lo` (read as a value) do not.
  const f32 = (name: string, dims: number[], floatData: number[]) => ({ name, dims, dataType: 1, floatData });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      initializer: [
        f32('w', [3], [0.5, -2, 3]),
        f32('lo', [], [-1]),
        f32('half', [], [0.5]),
        { name: 'shape', dims: [2], dataType: 7, int64Data: [3, 2] },
      ],
      node: [
        { name: 'scale', opType: 'Mul', input: ['x', 'w'], output: ['a'] },
        { name: 'clip', opType: 'Clip', input: ['a', 'lo', ''], output: ['b'] },
        { name: 'halve', opType: 'Mul', input: ['b', 'half'], output: ['c'] },
        { name: 'reshape', opType: 'Reshape', input: ['c', 'shape'], output: ['y'] },
      ],
      input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }, { dimValue: 3 }] } } } }],
      output: [
        { name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 3 }, { dimValue: 2 }] } } } },
      ],
    },
  });
  const bytes = onnx.ModelProto.encode(model).finish();

  it('keeps shapes, scalars and host-read bounds as constants and computes what onnxruntime does', async () => {
    const layer = OnnxModel.fromBytes(bytes, 'clip.onnx', { trainable: true });
    expect(layer.program.params).toEqual([{ name: 'w', initializer: 'w', shape: [3], trainable: true }]);
    expect(layer.toJSON().config).toEqual({ path: 'clip.onnx', trainable: true });
    const x = [1, 2, -3, 0.25, -1, 4];
    const want = await runSession(await ort.InferenceSession.create(bytes), {
      x: { data: Float32Array.from(x), shape: [2, 3] },
    });
    for (const backend of backends()) {
      const got = tidy(() =>
        layer.program
          .run(
            { x: tensor(x, [2, 3], 'float32', backend) },
            { w: tensor(layer.program.initialValue('w'), [3], 'float32', backend) },
          )
          .y.dataSync(),
      );
      expect(relErr(got, want.y.data), backend.name).toBeLessThan(1e-6);
    }
    expect(() => layer.program.run({ x: tensor(x, [2, 3]) })).toThrow(/"clip.onnx": parameter "w" was not given/);
  });
});
