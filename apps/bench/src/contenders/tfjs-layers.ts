// TensorFlow.js Layers on the same shapes: tf.sequential([embedding, lstm x L, dense]) compiled
// with Adam and softmax cross-entropy, timed with trainOnBatch and predict (the peer anchor
// tfjs_lstm.mjs). tfjs' wasm backend has no UnsortedSegmentSum kernel, which the Embedding
// gradient needs, so on wasm the input is one-hot and a bias-free Dense stands in for the
// Embedding (the same arithmetic: onehot(ids) W = W[ids]).
import { BenchError, type NodeContender, type Session } from '../contender.js';
import { type Pace, type Workload, charLstmOnly, syntheticBatch } from '../workload.js';

export type TfjsFlavor = 'cpu' | 'wasm';

export function tfjsLayersContender(flavor: TfjsFlavor, pace: Pace): NodeContender {
  return {
    kind: 'node',
    name: `tfjs-layers-${flavor}`,
    framework: 'tfjs-layers',
    backend: `tfjs ${flavor}`,
    description: `TensorFlow.js Layers model.trainOnBatch and model.predict, tfjs ${flavor} backend`,
    pace,
    available: async () => true,
    prepare: (w) => prepareTfjsLayers(flavor, w),
  };
}

async function prepareTfjsLayers(flavor: TfjsFlavor, workload: Workload): Promise<Session> {
  const w = charLstmOnly(workload, `tfjs-layers-${flavor}`);
  const tf = await import('@tensorflow/tfjs');
  if (flavor === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  tf.env().set('PROD', true); // as Ganglion's TfjsBackend does: no banner, no debug checks
  if (!(await tf.setBackend(flavor))) throw new BenchError(`tfjs could not initialize its ${flavor} backend`);
  await tf.ready();
  const oneHotInput = flavor === 'wasm';
  const first = oneHotInput
    ? tf.layers.dense({ units: w.embed, useBias: false, inputShape: [w.seqLen, w.vocab] })
    : tf.layers.embedding({ inputDim: w.vocab, outputDim: w.embed, inputLength: w.seqLen });
  // Not the default orthogonal recurrent initializer: its QR takes minutes on tfjs cpu at 256
  // units, and initial values do not change the timings (PyTorch draws uniform values too).
  const lstms = Array.from({ length: w.layers }, () =>
    tf.layers.lstm({ units: w.units, returnSequences: true, recurrentInitializer: 'glorotUniform' }),
  );
  const model = tf.sequential({ layers: [first, ...lstms, tf.layers.dense({ units: w.vocab })] });
  model.compile({
    optimizer: tf.train.adam(w.lr),
    loss: (y: import('@tensorflow/tfjs').Tensor, p: import('@tensorflow/tfjs').Tensor) =>
      tf.losses.softmaxCrossEntropy(y, p),
  });
  const data = syntheticBatch(w);
  const ids = tf.tensor2d(data.ids, [w.batch, w.seqLen], 'int32');
  const x = oneHotInput ? tf.oneHot(ids, w.vocab).toFloat() : ids;
  const y = tf.oneHot(tf.tensor2d(data.labels, [w.batch, w.seqLen], 'int32'), w.vocab).toFloat();
  const notes = ['no gradient clipping (tf.train.adam has none); the other contenders clip at global norm 1.0'];
  if (oneHotInput)
    notes.push(
      `one-hot input and Dense(${w.embed}, no bias) in place of Embedding: tfjs wasm lacks the Embedding gradient kernel`,
    );
  return {
    trainStep: () => model.trainOnBatch(x, y),
    forward: () => tf.tidy(() => (model.predict(x) as import('@tensorflow/tfjs').Tensor).dataSync()),
    notes,
  };
}
