// Loading a checkpoint for use (generate, inspect, export): the graph, params, tokenizer and a
// runtime that computes logits from ids.
import { join, resolve } from 'node:path';
import { type Backend, CharTokenizer, CheckpointError, type LoadedCheckpoint, Runtime, TOKENS, loadCheckpoint } from '@ganglion/core';
import { buildContainer } from './container.js';

export interface LoadedModel {
  readonly checkpoint: LoadedCheckpoint;
  readonly tokenizer: CharTokenizer;
  /** A runtime over the logits-only part of the graph (no labels input, no loss). */
  readonly runtime: Runtime;
}

export async function loadModel(dir: string, backend: Backend): Promise<LoadedModel> {
  const path = resolve(dir);
  const container = buildContainer({ backend, lr: 1 });
  const checkpoint = await loadCheckpoint(path, { resolve: container.get(TOKENS.LayerResolver), backend });
  if (!checkpoint.meta.tokenizer) throw new CheckpointError(`${join(checkpoint.loadedFrom, 'meta.json')}: no tokenizer, so this checkpoint cannot generate text`);
  const tokenizer = CharTokenizer.fromJSON(checkpoint.meta.tokenizer);
  if (!checkpoint.graph.outputs.logits) throw new CheckpointError(`${join(checkpoint.loadedFrom, 'graph.json')}: the graph has no "logits" output`);
  const runtime = new Runtime(checkpoint.graph.subgraph(['logits']), { params: checkpoint.params, backend });
  return { checkpoint, tokenizer, runtime };
}
