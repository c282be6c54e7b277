// Loading a checkpoint for use (generate, inspect, export, resuming): the graph, params, tokenizer
// and a runtime that computes logits from ids, with the tokenizer checked against the model.
import { join, resolve } from 'node:path';
import { type Backend, CheckpointError, type LoadedCheckpoint, Runtime, TOKENS, type Tokenizer } from '@ganglion/core';
import { loadCheckpoint } from '@ganglion/core/node';
import { buildContainer, tokenizerRegistry } from './container.js';
import { isG2pMeta } from './g2p.js';

export interface LoadedModel {
  readonly checkpoint: LoadedCheckpoint;
  readonly tokenizer: Tokenizer;
  /** A runtime over the logits-only part of the graph (no labels input, no loss). */
  readonly runtime: Runtime;
}

/** Load checkpoint `dir` and its tokenizer, checked against each other. */
export async function loadTokenizedCheckpoint(
  dir: string,
  backend: Backend,
): Promise<{ checkpoint: LoadedCheckpoint; tokenizer: Tokenizer }> {
  const container = buildContainer({ backend, lr: 1 });
  const checkpoint = await loadCheckpoint(resolve(dir), { resolve: container.get(TOKENS.LayerResolver), backend });
  if (checkpoint.recovered)
    process.stderr.write(
      `ganglion: note: ${checkpoint.recovered}; read the last complete save instead, ${checkpoint.loadedFrom}\n`,
    );
  const metaFile = join(checkpoint.loadedFrom, 'meta.json');
  if (isG2pMeta(checkpoint.meta as Readonly<Record<string, unknown>>))
    throw new CheckpointError(
      `${metaFile}: a g2p (letters to phonemes) model; pronounce words with \`ganglion translate\``,
    );
  if (checkpoint.tokenizer === undefined)
    throw new CheckpointError(`${metaFile}: no tokenizer, so this checkpoint cannot read or write text`);
  const tokenizerFile =
    checkpoint.meta.tokenizer && 'file' in checkpoint.meta.tokenizer ? 'tokenizer.json' : 'meta.json';
  let tokenizer: Tokenizer;
  try {
    tokenizer = tokenizerRegistry(container).fromJSON(checkpoint.tokenizer, join(checkpoint.loadedFrom, tokenizerFile));
  } catch (e) {
    throw new CheckpointError((e as Error).message);
  }
  const { graph } = checkpoint;
  const graphFile = join(checkpoint.loadedFrom, 'graph.json');
  if (!graph.outputs.logits) throw new CheckpointError(`${graphFile}: the graph has no "logits" output`);
  // The ids the tokenizer makes must fit the Embedding, and the logits must score every id.
  const width = graph.spec(graph.outputs.logits).shape.at(-1);
  if (width !== tokenizer.vocabSize) {
    throw new CheckpointError(
      `${metaFile}: the tokenizer has ${tokenizer.vocabSize} tokens, but the "logits" output of ${graphFile} has ${String(width)}`,
    );
  }
  for (const consumer of graph.consumers({ node: 'ids', port: 'y' })) {
    const node = graph.node(consumer.node);
    const rows = node.layer.kind === 'Embedding' ? node.signature.params[0]?.shape[0] : undefined;
    if (rows !== undefined && rows !== tokenizer.vocabSize) {
      throw new CheckpointError(
        `${metaFile}: the tokenizer has ${tokenizer.vocabSize} tokens, but Embedding "${node.name}" in ${graphFile} has ${String(rows)} rows`,
      );
    }
  }
  return { checkpoint, tokenizer };
}

export async function loadModel(dir: string, backend: Backend): Promise<LoadedModel> {
  const { checkpoint, tokenizer } = await loadTokenizedCheckpoint(dir, backend);
  const runtime = new Runtime(checkpoint.graph.subgraph(['logits']), { params: checkpoint.params, backend });
  return { checkpoint, tokenizer, runtime };
}
