// exportOnnx's options and errors: opsets 17..26, metadata, output selection, file writing, random
// ops, and the ExportErrors a user gets for what cannot be exported.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ExportError,
  GraphBuilder,
  Layer,
  type LayerSignature,
  ParamStore,
  ReferenceBackend,
  type Tensor,
  type TensorSpec,
  add,
  expectPort,
  mul,
  randomUniform,
  reduceSum,
  expand,
  scalar,
  withBackend,
} from '@ganglion/core';
import { Dense, Embedding, LSTM, SoftmaxCrossEntropy } from '@ganglion/layers';
import { describe, expect, it } from 'vitest';
import { exportOnnx, traceModel } from './export.js';
import { writeOnnxFile } from './node/write-onnx-file.js';
import { onnx } from './proto.js';
import * as ort from 'onnxruntime-node';
import { runSession } from './ort-tensors.js';
import { charModel, feedData, maxAbsDiff } from './testing/graphs.js';
import { TraceBackend, irVersionFor } from './trace-backend.js';

const reference = new ReferenceBackend();

/** A layer that multiplies x by the sum of its values, read on the host: data-dependent. */
class HostScale extends Layer<Record<string, never>> {
  static override readonly kind = 'HostScale';
  readonly inputs = [{ name: 'x' }];
  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: expectPort('x', inputs.x, 'float32').shape }],
      params: [],
    };
  }
  forward({ x }: Readonly<Record<string, Tensor>>): Tensor {
    const s = x.toArray().reduce((a, b) => a + b, 0);
    return mul(x, s);
  }
}

/** A layer that reshapes to a dim named after nothing in the graph's inputs. */
class Mystery extends Layer<Record<string, never>> {
  static override readonly kind = 'Mystery';
  readonly inputs = [{ name: 'x' }];
  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    return {
      outputs: [{ name: 'y', dtype: 'float32', shape: expectPort('x', inputs.x, 'float32').shape }],
      params: [],
    };
  }
  forward({ x }: Readonly<Record<string, Tensor>>): Tensor {
    return add(x, reduceSum(expand(scalar(0, 'float32', x.backend), ['other', 1, 4]), 0));
  }
}

function oneLayer(layer: Layer) {
  const g = new GraphBuilder();
  g.output('y', g.node('odd', layer, g.input('x', ['batch', 'time', 4])));
  return g.build();
}

describe('exportOnnx options', () => {
  const c = charModel('lstm', 8);
  const params = ParamStore.initialize(c.graph, 2, reference);

  it.each([17, 18, 19, 20, 21, 22, 23, 24, 25, 26])('opset %i loads and runs in onnxruntime', async (opset) => {
    const bytes = exportOnnx(c.graph, params, { opset });
    const model = onnx.ModelProto.decode(bytes);
    expect(Number(model.opsetImport[0].version)).toBe(opset);
    expect(Number(model.irVersion)).toBe(irVersionFor(opset));
    expect(irVersionFor(opset)).toBeLessThanOrEqual(13);
    const session = await ort.InferenceSession.create(bytes);
    const { ids } = feedData(c.inputs, 2, 3, 1);
    const base = await runSession(await ort.InferenceSession.create(exportOnnx(c.graph, params)), { ids });
    expect(maxAbsDiff((await runSession(session, { ids })).logits.data, base.logits.data)).toBeLessThan(1e-6);
  });

  it('writes producer, doc string and caller metadata (a vocabulary as JSON)', () => {
    const vocab = JSON.stringify(['a', 'b', 'c']);
    const model = onnx.ModelProto.decode(
      exportOnnx(c.graph, params, { metadata: { vocab, author: 'test' }, docString: 'char model' }),
    );
    expect(model.producerName).toBe('ganglion');
    expect(model.docString).toBe('char model');
    const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
    expect(meta.vocab).toBe(vocab);
    expect(meta.author).toBe('test');
    expect(JSON.parse(meta['ganglion.graph']!).nodes.map((n: { kind: string }) => n.kind)).toEqual([
      'Embedding',
      'LSTM',
      'LSTM',
      'Dense',
    ]);
  });

  it('names parameters <node>.<param> and nodes after their Ganglion node', () => {
    const graph = onnx.ModelProto.decode(exportOnnx(c.graph, params)).graph!;
    const inits = graph.initializer!.map((i) => i.name);
    for (const key of params.keys()) expect(inits).toContain(key);
    expect(graph.node!.map((n) => n.name)).toEqual(
      expect.arrayContaining(['embed/Gather', 'lstm1/LSTM', 'lstm2/LSTM', 'head/MatMul']),
    );
    expect(graph.input!.map((i) => [i.name, i.type!.tensorType!.shape!.dim!.map((d) => d.dimParam)])).toEqual([
      ['ids', ['batch', 'time']],
    ]);
  });

  it('exports a subset of outputs and drops the inputs only the others need', async () => {
    const g = new GraphBuilder();
    const ids = g.input('ids', ['batch', 'time'], 'int32');
    const labels = g.input('labels', ['batch', 'time'], 'int32');
    const logits = g.node(
      'head',
      new Dense({ units: 5 }),
      g.node('embed', new Embedding({ vocabSize: 5, dim: 3 }), ids),
    );
    g.output('logits', logits);
    g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), logits, labels));
    const graph = g.build();
    const p = ParamStore.initialize(graph, 1, reference);
    const model = traceModel(graph, p, { outputs: ['logits'] });
    expect(model.inputs.map((i) => i.name)).toEqual(['ids']);
    expect(model.outputs.map((o) => o.name)).toEqual(['logits']);
    const session = await ort.InferenceSession.create(model.bytes);
    expect(session.inputNames).toEqual(['ids']);
    expect(traceModel(graph, p).inputs.map((i) => i.name)).toEqual(['ids', 'labels']);
  });

  it('reads symbolic dims off an input that stays, whatever the input order', async () => {
    // labels is declared first, so 'batch' and 'time' are first bound to it; exporting only the
    // logits must still drop it, reading the dims off ids instead.
    const g = new GraphBuilder();
    const labels = g.input('labels', ['batch', 'time'], 'int32');
    const ids = g.input('ids', ['batch', 'time'], 'int32');
    const logits = g.node(
      'head',
      new Dense({ units: 5 }),
      g.node('lstm', new LSTM({ units: 4 }), g.node('embed', new Embedding({ vocabSize: 5, dim: 3 }), ids)),
    );
    g.output('logits', logits);
    g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), logits, labels));
    const graph = g.build();
    const p = ParamStore.initialize(graph, 1, reference);
    const model = traceModel(graph, p, { outputs: ['logits'] });
    expect(model.inputs.map((i) => i.name)).toEqual(['ids']);
    const session = await ort.InferenceSession.create(model.bytes);
    const out = await runSession(session, { ids: { data: [1, 2, 3, 4, 0, 1], shape: [3, 2], dtype: 'int32' } });
    expect(out.logits.shape).toEqual([3, 2, 5]);
  });

  it('writes a file that onnxruntime loads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ganglion-onnx-'));
    try {
      const path = join(dir, 'char.onnx');
      const model = writeOnnxFile(path, c.graph, params, { metadata: { vocab: '[]' } });
      expect(new Uint8Array(readFileSync(path))).toEqual(model.bytes);
      const session = await ort.InferenceSession.create(path);
      expect(session.outputNames).toEqual(['logits']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("random ops: constants from core's generator by default, ONNX RandomUniform with random: 'onnx'", async () => {
    const trace = (random: 'constant' | 'onnx') => {
      const tb = new TraceBackend({ random });
      const x = tb.input('x', { shape: [3, 4], dtype: 'float32' });
      tb.output(
        'y',
        add(
          x,
          withBackend(tb, () => randomUniform([3, 4], 42, 2, 3)),
        ),
      );
      return tb.toModel();
    };
    const x = { data: new Float32Array(12), shape: [3, 4] };
    const fixed = await runSession(await ort.InferenceSession.create(trace('constant')), { x });
    const expected = withBackend(reference, () => randomUniform([3, 4], 42, 2, 3).toArray());
    expect(maxAbsDiff(fixed.y.data, expected)).toBeLessThan(1e-6);
    const onnxBytes = trace('onnx');
    expect(onnx.ModelProto.decode(onnxBytes).graph!.node!.map((n) => n.opType)).toContain('RandomUniform');
    const drawn = await runSession(await ort.InferenceSession.create(onnxBytes), { x });
    expect(Array.from(drawn.y.data).every((v) => v >= 2 && v < 3)).toBe(true);
  });
});

describe('what cannot be exported raises ExportError', () => {
  const expectExportError = (fn: () => unknown, pattern: RegExp) => {
    let error: unknown;
    try {
      fn();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ExportError);
    expect((error as Error).message).toMatch(pattern);
  };

  it('a layer that reads tensor values (data-dependent computation), naming the node', () => {
    const graph = oneLayer(new HostScale({}));
    expectExportError(
      () => exportOnnx(graph, new ParamStore(graph)),
      /^cannot export node "odd" \(HostScale\): it reads the values of \[batch, time, 4\] float32 tensor "x" while tracing: data-dependent/,
    );
  });

  it('a symbolic dim no input determines, naming the node and the dim', () => {
    const graph = oneLayer(new Mystery({}));
    expectExportError(
      () => exportOnnx(graph, new ParamStore(graph)),
      /cannot export node "odd" \(Mystery\): .*"other" does not appear in any graph input/,
    );
  });

  it('a recurrence over a symbolic time dim without its native lowering', () => {
    const c = charModel('gru', 4);
    const params = ParamStore.initialize(c.graph, 1, reference);
    expectExportError(
      () => exportOnnx(c.graph, params, { native: false }),
      /cannot export node "gru1" \(GRU\): .*time dim must be concrete.*options\.inputs.*native: true/,
    );
  });

  it.each([16, 27, 17.5, '17'])('opset %s', (opset) => {
    const c = charModel('lstm', 4);
    expectExportError(
      () => exportOnnx(c.graph, new ParamStore(c.graph), { opset: opset as number }),
      /opset .* is not supported: expected an integer from 17 to 26/,
    );
  });

  it('bad options: unknown output, unknown input, unfit input shape, non-string metadata, missing parameters', () => {
    const c = charModel('lstm', 4);
    const params = ParamStore.initialize(c.graph, 1, reference);
    expectExportError(
      () => exportOnnx(c.graph, params, { outputs: ['nope'] }),
      /"nope", which is not a graph output \(outputs: logits\)/,
    );
    expectExportError(
      () => exportOnnx(c.graph, params, { inputs: { x: ['batch'] } }),
      /"x", which is not a graph input \(inputs: ids\)/,
    );
    expectExportError(
      () => exportOnnx(c.graph, params, { inputs: { ids: ['batch'] } }),
      /input "ids" is declared \[batch, time\]; it cannot be traced as \[batch\]/,
    );
    expectExportError(
      () => exportOnnx(c.graph, params, { metadata: { vocab: ['a'] as unknown as string } }),
      /metadata "vocab" must be a string/,
    );
    expectExportError(() => exportOnnx(c.graph, new ParamStore(c.graph)), /parameter "embed.weight" is missing/);
  });
});

describe('a primitive without an ONNX lowering', () => {
  it('raises ExportError naming the primitive and the node', async () => {
    const {
      GraphBuilder,
      Layer,
      ParamStore,
      apply,
      definePrimitive,
      expectPort,
      ExportError: EE,
    } = await import('@ganglion/core');
    const cube = definePrimitive({
      name: 'Cube',
      inputs: ['x'],
      dtype: ([x]) => x.dtype,
      shape: ([x]) => x.shape,
      vjp: null,
    });
    class CubeLayer extends Layer<Record<string, never>> {
      static override readonly kind = 'CubeLayer';
      readonly inputs = [{ name: 'x' }];
      signature(
        inputs: Record<
          string,
          { shape: readonly (number | string)[]; dtype: 'float32' | 'int32' | 'bool' } | undefined
        >,
      ) {
        return { outputs: [{ name: 'y', ...expectPort('x', inputs.x, 'float32') }], params: [] };
      }
      forward({ x }: Record<string, import('@ganglion/core').Tensor>) {
        return apply(cube, [x], {});
      }
    }
    const g = new GraphBuilder();
    g.output('y', g.node('cuber', new CubeLayer({}), g.input('x', ['batch', 3])));
    const graph = g.build();
    expect(() => exportOnnx(graph, new ParamStore(graph))).toThrow(EE);
    expect(() => exportOnnx(graph, new ParamStore(graph))).toThrow(
      /primitive "Cube" in node "cuber.*" has no ONNX lowering/,
    );
  });
});
