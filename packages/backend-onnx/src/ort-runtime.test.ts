// useOrt's options reach onnxruntime: wasm threads only where the page is cross-origin isolated,
// and the execution providers go into every session Ganglion creates (asking onnxruntime-web for
// WebGPU alone, in Node where there is none, fails to create the session, naming the model); and
// whether the bound module fills preallocated outputs is what each module does.
import { BackendError, ParamStore, ReferenceBackend } from '@ganglion/core';
import * as ortWeb from 'onnxruntime-web';
import { afterEach, expect, it } from 'vitest';
import { exportOnnx } from './export.js';
import { ortNode, useOrtNode } from './node/index.js';
import { createSession, runSession } from './ort-tensors.js';
import { fillsPreallocatedOutputs, useOrt, withBinding } from './ort-runtime.js';
import { onnx } from './proto.js';
import { charModel } from './testing/graphs.js';

const isolated = globalThis as { crossOriginIsolated?: boolean };
afterEach(() => {
  delete isolated.crossOriginIsolated;
  useOrtNode();
});

it('sets wasm threads only where the page is cross-origin isolated', () => {
  useOrt(ortWeb, { numThreads: 4 });
  expect(ortWeb.env.wasm.numThreads).toBe(1);
  isolated.crossOriginIsolated = true;
  useOrt(ortWeb, { numThreads: 3 });
  expect(ortWeb.env.wasm.numThreads).toBe(3);
  expect(() => useOrt(ortWeb, { numThreads: 0 })).toThrow(
    new BackendError('useOrt: numThreads is 0, expected an integer >= 1'),
  );
  useOrt(ortWeb, { numThreads: 1 });
});

it('creates sessions with the bound execution providers', async () => {
  const c = charModel('lstm', 4);
  const bytes = exportOnnx(c.graph, ParamStore.initialize(c.graph, 1, new ReferenceBackend()));
  const ids = { data: Int32Array.of(1, 2, 3), shape: [1, 3], dtype: 'int32' as const };
  useOrt(ortWeb, { executionProviders: ['wasm'], numThreads: 1 });
  const wasm = await createSession(bytes, 'char.onnx');
  expect((await runSession(wasm, { ids })).logits.shape).toEqual([1, 3, 12]);
  await wasm.release();
  useOrt(ortWeb, { executionProviders: ['webgpu'], numThreads: 1 });
  await expect(createSession(bytes, 'char.onnx')).rejects.toThrow(
    /^char\.onnx: onnxruntime cannot load the model: .*webgpu/i,
  );
});

it("spins onnxruntime's threads as the binding says, unless the session's options say", () => {
  const spin = (o: Parameters<typeof withBinding>[0]) =>
    (withBinding(o).extra as { session: { intra_op: { allow_spinning: string } } }).session.intra_op.allow_spinning;
  const asked = { extra: { session: { intra_op: { allow_spinning: '0' } } } };
  useOrt(ortNode, { spinThreads: true });
  expect([spin({}), spin(asked)]).toEqual(['1', '0']);
  useOrt(ortNode, {});
  expect([spin({}), spin({ extra: { session: { intra_op: { allow_spinning: '1' } } } })]).toEqual(['0', '1']);
  // The Node entry reads OMP_WAIT_POLICY when it binds; the tests run with PASSIVE.
  useOrtNode();
  expect(spin({})).toBe(process.env.OMP_WAIT_POLICY?.toLowerCase() === 'passive' ? '0' : '1');
});

it('says which module fills preallocated outputs, as each one does', async () => {
  // An Add run with its output given as the middle of a larger buffer.
  const input = { name: 'a', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 4 }] } } } };
  const model = onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'add',
      node: [{ opType: 'Add', input: ['a', 'a'], output: ['c'] }],
      input: [input],
      output: [{ ...input, name: 'c' }],
    },
  }).finish();
  const fills = async (ort: typeof ortNode | typeof ortWeb) => {
    const session = await ort.InferenceSession.create(model);
    const buffer = new Float32Array(12);
    const a = new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4), [4]);
    await session.run({ a }, { c: new ort.Tensor('float32', buffer.subarray(4, 8), [4]) });
    await session.release();
    return Array.from(buffer).join(',') === '0,0,0,0,2,4,6,8,0,0,0,0';
  };
  useOrtNode();
  expect(fillsPreallocatedOutputs()).toBe(await fills(ortNode));
  useOrt(ortWeb, {});
  expect(fillsPreallocatedOutputs()).toBe(await fills(ortWeb));
});
