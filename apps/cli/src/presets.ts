// Model presets: a graph builder plus the training defaults that go with it.
import { type Graph, GraphBuilder } from '@ganglion/core';
import { Dense, Embedding, LSTM, SoftmaxCrossEntropy } from '@ganglion/layers';

export interface Preset {
  readonly name: string;
  readonly description: string;
  readonly seqLen: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly optimizer: string;
  readonly clip: string;
  build(vocabSize: number): Graph;
}

/** Embedding -> stacked LSTMs -> Dense, with a SoftmaxCrossEntropy loss on next-token labels. */
function charLstm(embed: number, units: readonly number[]): (vocabSize: number) => Graph {
  return (vocabSize) => {
    const g = new GraphBuilder();
    const ids = g.input('ids', ['batch', 'time'], 'int32');
    const labels = g.input('labels', ['batch', 'time'], 'int32');
    let h = g.node('embed', new Embedding({ vocabSize, dim: embed }), ids);
    units.forEach((u, i) => (h = g.node(`lstm${i + 1}`, new LSTM({ units: u }), h)));
    const logits = g.node('head', new Dense({ units: vocabSize }), h);
    g.output('logits', logits);
    g.output('loss', g.node('loss', new SoftmaxCrossEntropy(), { logits, labels }));
    return g.build();
  };
}

export const PRESETS: Readonly<Record<string, Preset>> = {
  'char-lstm': {
    name: 'char-lstm',
    description: 'Embedding 64 -> LSTM 256 -> LSTM 256 -> Dense (the reference workload)',
    seqLen: 64,
    batchSize: 32,
    lr: 2e-3,
    optimizer: 'adam',
    clip: 'global-norm:1',
    build: charLstm(64, [256, 256]),
  },
  'char-lstm-small': {
    name: 'char-lstm-small',
    description: 'Embedding 32 -> LSTM 128 -> Dense (the demo: fits a few minutes on 2 cores)',
    seqLen: 64,
    batchSize: 32,
    lr: 4e-3,
    optimizer: 'adam',
    clip: 'global-norm:1',
    build: charLstm(32, [128]),
  },
};

export const PRESET_NAMES = Object.keys(PRESETS);
