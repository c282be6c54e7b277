// OnnxModel: an exported file back in a graph as a frozen node. Its evaluator (ONNX ops -> core
// ops) against onnxruntime on every exported test graph; then a wrapped encoder feeding a trainable
// Dense, trained for a few steps, against the same model built from the original layers.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Backend,
  type Graph,
  GraphBuilder,
  GraphError,
  ParamStore,
  ReferenceBackend,
  Runtime,
  type Tensor,
  dispose,
  mul,
  sub,
  tensor,
  tidy,
} from '@ganglion/core';
import { TfjsBackend } from '@ganglion/backend-tfjs';
import { Dense, Embedding, LSTM, SoftmaxCrossEntropy } from '@ganglion/layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx } from '../export.js';
import { onnx } from '../proto.js';
import * as ort from 'onnxruntime-node';
import { runSession } from '../ort-tensors.js';
import { type GraphCase, VOCAB, charModel, feedData, layerCases, maxAbsDiff, toTensors } from '../testing/graphs.js';
import { OnnxModel, portName } from './onnx-model.js';

const reference = new ReferenceBackend();
let tfjs: TfjsBackend;
let dir: string;

beforeAll(async () => {
  tfjs = await TfjsBackend.create('cpu');
  dir = mkdtempSync(join(tmpdir(), 'ganglion-onnx-model-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the evaluator reproduces onnxruntime on every exported test graph', () => {
  const cases: [string, GraphCase, boolean][] = [...layerCases(), charModel('lstm', 8), charModel('gru', 8)].flatMap(
    (c) => {
      const rec = /lstm|gru/.test(c.name);
      return [
        [`${c.name} (native)`, c, true],
        ...(rec ? [[`${c.name} (decomposed)`, c, false] as [string, GraphCase, boolean]] : []),
      ];
    },
  );
  it.each(cases)('%s', async (_, c, native) => {
    const params = ParamStore.initialize(c.graph, 6, reference);
    const time = 4;
    const inputs = native
      ? undefined
      : Object.fromEntries(c.inputs.map((i) => [i.name, i.shape.map((d) => (d === 'time' ? time : d))]));
    const bytes = exportOnnx(c.graph, params, { native, inputs });
    const session = await ort.InferenceSession.create(bytes);
    const model = OnnxModel.fromBytes(bytes, c.name);
    for (const backend of [reference, tfjs] as Backend[]) {
      const feeds = feedData(c.inputs, 2, time, 3);
      const want = await runSession(session, feeds);
      const got = tidy(() => {
        const out = model.program.run(toTensors(feeds, backend));
        return Object.fromEntries(
          Object.entries(out).map(([k, v]) => [k, { shape: v.shape, values: v.toArray(), backend: v.backend }]),
        );
      });
      for (const [k, w] of Object.entries(want)) {
        expect(got[k].backend).toBe(backend);
        expect(got[k].shape).toEqual(w.shape);
        expect(maxAbsDiff(got[k].values, w.data), `${k} on ${backend.name}`).toBeLessThan(1e-5);
      }
    }
    model.program.dispose();
    await session.release();
  });
});

describe('OnnxModel as a frozen encoder in front of a trainable Dense', () => {
  function encoderGraph(): Graph {
    const g = new GraphBuilder();
    const e = g.node('embed', new Embedding({ vocabSize: VOCAB, dim: 8 }), g.input('ids', ['batch', 'time'], 'int32'));
    g.output('features', g.node('lstm', new LSTM({ units: 16 }), e));
    return g.build();
  }

  /** ids -> encoder -> head -> loss, the encoder given as layers or as one OnnxModel node. */
  function fullGraph(encoder: 'layers' | OnnxModel): Graph {
    const g = new GraphBuilder();
    const ids = g.input('ids', ['batch', 'time'], 'int32');
    const labels = g.input('labels', ['batch', 'time'], 'int32');
    const features =
      encoder === 'layers'
        ? g.node('lstm', new LSTM({ units: 16 }), g.node('embed', new Embedding({ vocabSize: VOCAB, dim: 8 }), ids))
        : g.node('encoder', encoder, ids).out('features');
    const logits = g.node('head', new Dense({ units: VOCAB }), features);
    g.output('logits', logits);
    g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), logits, labels));
    return g.build();
  }

  function copyInto(store: ParamStore, from: ParamStore, keys: readonly string[], backend: Backend): void {
    for (const k of keys) {
      const t = from.get(k);
      store.set(k, tensor(t.dataSync(), t.shape, t.dtype, backend));
    }
  }

  it('has the file’s ports, no parameters, and its metadata', () => {
    const graph = encoderGraph();
    const path = join(dir, 'meta.onnx');
    writeFileSync(
      path,
      exportOnnx(graph, ParamStore.initialize(graph, 1, reference), { metadata: { vocab: '["a"]' } }),
    );
    const layer = new OnnxModel({ path });
    expect(layer.inputs.map((p) => p.name)).toEqual(['ids']);
    expect(layer.metadata.vocab).toBe('["a"]');
    expect(layer.toJSON()).toEqual({ kind: 'OnnxModel', config: { path } });
    const g = fullGraph(layer);
    expect(g.node('encoder').signature.params).toEqual([]);
    expect(g.node('encoder').signature.outputs).toEqual([
      { name: 'features', dtype: 'float32', shape: ['batch', 'time', 16] },
    ]);
    expect(portName('state_out.lstm1.h')).toBe('state_out_lstm1_h');
  });

  it.each(['reference', 'tfjs'])(
    'trains the head on %s exactly as the original layers with a frozen encoder',
    async (which) => {
      const backend: Backend = which === 'tfjs' ? tfjs : reference;
      const encoder = encoderGraph();
      const encoderParams = ParamStore.initialize(encoder, 4, reference);
      const path = join(dir, `encoder-${which}.onnx`);
      writeFileSync(path, exportOnnx(encoder, encoderParams));

      const a = fullGraph('layers');
      const b = fullGraph(new OnnxModel({ path }));
      const paramsA = ParamStore.initialize(a, 5, backend);
      copyInto(
        paramsA,
        encoderParams,
        ['embed.weight', 'lstm.weight_ih', 'lstm.weight_hh', 'lstm.bias_ih', 'lstm.bias_hh'],
        backend,
      );
      const paramsB = ParamStore.initialize(b, 99, backend);
      expect(paramsB.keys()).toEqual(['head.kernel', 'head.bias']);
      copyInto(paramsB, paramsA, ['head.kernel', 'head.bias'], backend);
      const runA = new Runtime(a, { backend, params: paramsA });
      const runB = new Runtime(b, { backend, params: paramsB });

      const feeds = feedData(
        [
          { name: 'ids', shape: ['batch', 'time'], dtype: 'int32', ints: VOCAB },
          { name: 'labels', shape: ['batch', 'time'], dtype: 'int32', ints: VOCAB },
        ],
        3,
        5,
        11,
      );
      // The wrapped encoder's features equal onnxruntime's on the same file.
      const session = await ort.InferenceSession.create(path);
      const ortFeatures = (await runSession(session, { ids: feeds.ids })).features.data;
      const layerFeatures = tidy(() =>
        new OnnxModel({ path }).program.run({ ids: toTensors({ ids: feeds.ids }, backend).ids }).features.toArray(),
      );
      expect(maxAbsDiff(layerFeatures, ortFeatures)).toBeLessThan(1e-5);

      const lr = 0.5;
      const sgd = (run: Runtime, grads: Map<string, Tensor>) => {
        for (const k of ['head.kernel', 'head.bias'])
          run.params.set(
            k,
            tidy(() => sub(run.params.get(k), mul(grads.get(k)!, lr))),
          );
      };
      const losses: [number, number][] = [];
      for (let step = 0; step < 3; step++) {
        const ra = runA.trainStep(toTensors(feeds, backend), { loss: 'loss' });
        const rb = runB.trainStep(toTensors(feeds, backend), { loss: 'loss' });
        expect([...rb.paramGrads.keys()].sort()).toEqual(['head.bias', 'head.kernel']);
        losses.push([ra.loss, rb.loss]);
        sgd(runA, ra.paramGrads);
        sgd(runB, rb.paramGrads);
        dispose([
          ra.outputs,
          rb.outputs,
          [...ra.paramGrads.values()],
          [...rb.paramGrads.values()],
          [...ra.inputGrads.values()],
          [...rb.inputGrads.values()],
        ]);
      }
      for (const [la, lb] of losses) expect(Math.abs(la - lb)).toBeLessThan(1e-5);
      expect(losses[2][1]).toBeLessThan(losses[0][1]);
      for (const k of ['head.kernel', 'head.bias'])
        expect(maxAbsDiff(paramsB.get(k).toArray(), paramsA.get(k).toArray())).toBeLessThan(1e-5);
      const logits = (run: Runtime) => tidy(() => run.forward(toTensors(feeds, backend)).logits.toArray());
      expect(maxAbsDiff(logits(runB), logits(runA))).toBeLessThan(1e-5);
      runA.close();
      runB.close();
      await session.release();
    },
  );

  it('a graph holding an OnnxModel node exports with concrete dims (and says why not with symbolic ones)', async () => {
    const encoder = encoderGraph();
    const path = join(dir, 'nested.onnx');
    writeFileSync(path, exportOnnx(encoder, ParamStore.initialize(encoder, 4, reference)));
    const graph = fullGraph(new OnnxModel({ path }));
    const params = ParamStore.initialize(graph, 2, reference);
    expect(() => exportOnnx(graph, params, { outputs: ['logits'] })).toThrow(
      /cannot export node "encoder" \(OnnxModel\): .*symbolic shape \[batch, time\].*concrete dims.*options\.inputs/,
    );
    const bytes = exportOnnx(graph, params, { outputs: ['logits'], inputs: { ids: [2, 3] } });
    const feeds = feedData([{ name: 'ids', shape: [2, 3], dtype: 'int32', ints: VOCAB }], 2, 3, 1);
    const got = await runSession(await ort.InferenceSession.create(bytes), feeds);
    const runtime = new Runtime(graph, { backend: reference, params });
    const want = tidy(() =>
      runtime
        .forward({ ...toTensors(feeds, reference), labels: tensor([0, 0, 0, 0, 0, 0], [2, 3], 'int32', reference) })
        .logits.toArray(),
    );
    expect(maxAbsDiff(got.logits.data, want)).toBeLessThan(1e-5);
  });

  it('names the nodes whose ops it cannot evaluate, and rejects what is not ONNX', () => {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'g',
        node: [{ name: 'mix', opType: 'Einsum', input: ['x', 'x'], output: ['y'] }],
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [] } } } }],
      },
    });
    expect(() => OnnxModel.fromBytes(onnx.ModelProto.encode(model).finish(), 'einsum.onnx')).toThrow(GraphError);
    expect(() => OnnxModel.fromBytes(onnx.ModelProto.encode(model).finish(), 'einsum.onnx')).toThrow(
      /"einsum.onnx": 1 node\(s\) have ops OnnxModel cannot evaluate: "mix" \(Einsum\)/,
    );
    expect(() => OnnxModel.fromBytes(new Uint8Array([1, 2, 3, 4, 5]), 'junk.onnx')).toThrow(
      /junk.onnx.* is not an ONNX model/,
    );
    expect(() => new OnnxModel({ path: join(dir, 'missing.onnx') })).toThrow(/cannot read/);
  });
});
