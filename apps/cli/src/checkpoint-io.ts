// Loading a checkpoint for use (generate, inspect, export, resuming): the graph, params, tokenizer
// and a runtime that computes logits from ids, with the tokenizer checked against the model.
import { join, resolve } from 'node:path';
import {
  type Backend,
  CharTokenizer,
  CheckpointError,
  type LoadedCheckpoint,
  Runtime,
  TOKENS,
  loadCheckpoint,
} from '@ganglion/core';
import { buildContainer } from './container.js';

export interface LoadedModel {
  readonly checkpoint: LoadedCheckpoint;
  readonly tokenizer: CharTokenizer;
  /** A runtime over the logits-only part of the graph (no labels input, no loss). */
  readonly runtime: Runtime;
}

/** Load checkpoint `dir` and its tokenizer, checked against each other. */
export async function loadTokenizedCheckpoint(
  dir: string,
  backend: Backend,
): Promise<{ checkpoint: LoadedCheckpoint; tokenizer: CharTokenizer }> {
  const container = buildContainer({ backend, lr: 1 });
  const checkpoint = await loadCheckpoint(resolve(dir), { resolve: container.get(TOKENS.LayerResolver), backend });
  if (checkpoint.recovered)
    process.stderr.write(
      `ganglion: note: ${checkpoint.recovered}; read the last complete save instead, ${checkpoint.loadedFrom}\n`,
    );
  const metaFile = join(checkpoint.loadedFrom, 'meta.json');
  if (!checkpoint.meta.tokenizer)
    throw new CheckpointError(`${metaFile}: no tokenizer, so this checkpoint cannot read or write text`);
  const tokenizer = CharTokenizer.fromJSON(checkpoint.meta.tokenizer);
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
