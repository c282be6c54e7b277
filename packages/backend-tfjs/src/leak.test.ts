// No tfjs memory leaks: a training-step-shaped composite of ~25 primitives, forward and backward,
// leaves tfjs's tensor count where it was once the value and gradients are disposed.
import * as tf from '@tensorflow/tfjs';
import {
  type Tensor,
  add,
  clip,
  concat,
  dispose,
  exp,
  gather,
  greater,
  log,
  logSoftmax,
  matMul,
  mul,
  pad,
  reduceMax,
  reduceMean,
  reduceSum,
  relu,
  reshape,
  sigmoid,
  slice,
  softmax,
  sqrt,
  sub,
  tanh,
  tensor,
  transpose,
  uniformValues,
  valueAndGrad,
  where,
  withBackend,
} from '@ganglion/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { TfjsBackend } from './tfjs-backend.js';

function step(x: Tensor, w: Tensor, b: Tensor, table: Tensor, ids: Tensor): Tensor {
  const emb = reshape(gather(table, ids, 0), [4, 6]); // [4, 6] from 4 ids into [10, 6]
  const h = tanh(add(matMul(concat([x, emb], 1), w), b)); // [4, 8]
  const gate = sigmoid(mul(h, 2));
  const mixed = sub(mul(gate, h), mul(exp(sub(gate, 1)), 0.1));
  const probs = softmax(mixed, -1);
  const logp = logSoftmax(transpose(mixed, [1, 0]), 0); // [8, 4], log-softmax over the first axis
  const picked = where(greater(mixed, 0), relu(mixed), mul(mixed, 0.01));
  const window = slice(pad(picked, [1, 0, 0, 2], 0), [1, 2], [5, 10], [0, 1]); // [4, 8]
  const energy = log(add(sqrt(add(mul(window, window), 1)), clip(probs, 0.01, 0.99)));
  const terms = [
    reduceSum(energy),
    reduceMean(logp),
    reduceMax(mixed),
    reduceMean(mul(probs, transpose(logp, [1, 0]))),
  ];
  return reduceSum(
    concat(
      terms.map((t) => reshape(t, [1])),
      0,
    ),
  );
}

describe('tfjs-cpu memory', () => {
  let backend: TfjsBackend;
  beforeAll(async () => {
    backend = await TfjsBackend.create('cpu');
  });

  it('valueAndGrad of a composite leaks no tfjs tensors over 200 iterations', () => {
    const rand = (seed: number, shape: number[]) =>
      tensor(
        uniformValues(
          seed,
          shape.reduce((a, c) => a * c, 1),
          -1,
          1,
        ).map(Math.fround),
        shape,
        'float32',
        backend,
      );
    const x = rand(1, [4, 5]);
    const w = rand(2, [11, 8]);
    const b = rand(3, [8]);
    const table = rand(4, [10, 6]);
    const ids = tensor([3, 7, 3, 0], [4], 'int32', backend);
    const f = valueAndGrad((x2: Tensor, w2: Tensor, b2: Tensor, t2: Tensor) => step(x2, w2, b2, t2, ids));

    const once = () => {
      const { value, grads } = withBackend(backend, () => f(x, w, b, table));
      const loss = value.item();
      dispose([value, grads]);
      return loss;
    };
    const first = once();
    expect(Number.isFinite(first)).toBe(true);
    const baseline = tf.memory().numTensors;
    expect(backend.numTensors()).toBe(baseline);
    for (let i = 0; i < 200; i++) expect(once()).toBe(first);
    expect(tf.memory().numTensors).toBe(baseline);
    dispose([x, w, b, table, ids]);
    expect(tf.memory().numTensors).toBe(baseline - 5);
  });
});
