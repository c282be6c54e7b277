// ganglion merge-lora CKPT --out DIR: fold a LoRA fine-tune's adapters into the weights they adapt
// (W += alpha/r · B·A, @ganglion/layers' mergeLora), giving a plain checkpoint of the base
// architecture — every parameter trainable again, same tokenizer, same outputs — that generate,
// export and finetune read like an imported one.
import { CheckpointError, type GraphJSON, TOKENS, graphFromJSON } from '@ganglion/core';
import { saveCheckpoint } from '@ganglion/core/node';
import { mergeLora } from '@ganglion/layers';
import { type FlagSpec, UsageError, parse } from '../args.js';
import { loadTokenizedCheckpoint } from '../checkpoint-io.js';
import { buildContainer, createBackend } from '../container.js';
import { carriedMeta } from '../finetune.js';
import { openRunFolder } from '../run-folder.js';

const FLAGS: FlagSpec = {
  out: { type: 'string' },
  overwrite: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const HELP = `usage: ganglion merge-lora CKPT --out DIR [--overwrite]
Folds the LoRA adapters of CKPT (a \`ganglion finetune --lora\` run) into the weights they adapt and
saves the merged model, with its tokenizer, in --out: the same outputs, the base model's shape and
speed, every parameter trainable again.`;

export async function mergeLoraCommand(
  argv: readonly string[],
  io: { stdout: { write(s: string): unknown } },
): Promise<void> {
  const { values, positionals } = parse(argv, FLAGS, 'merge-lora');
  if (values.help) {
    io.stdout.write(`${HELP}\n`);
    return;
  }
  const [dir, ...rest] = positionals;
  if (!dir) throw new UsageError('merge-lora: name the checkpoint (ganglion merge-lora CKPT --out DIR)');
  if (rest.length) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  if (typeof values.out !== 'string') throw new UsageError('merge-lora: --out DIR is required');
  const backend = await createBackend('tfjs');
  const { checkpoint, tokenizer } = await loadTokenizedCheckpoint(dir, backend);
  const adapters = checkpoint.graph.params().filter((p) => /^lora_[qkvo]_[AB]$/.test(p.spec.name.split('.').pop()!));
  if (adapters.length === 0)
    throw new UsageError(
      `merge-lora: ${checkpoint.loadedFrom} has no LoRA adapters (train one with ganglion finetune --lora)`,
    );
  const merged = mergeLora(checkpoint.graph, checkpoint.params);
  // Unfreeze: the merged model is a plain one again.
  const json = merged.graph.toJSON();
  const plain: GraphJSON = { ...json, nodes: json.nodes.map(({ frozen: _frozen, ...n }) => n) };
  const graph = graphFromJSON(plain, buildContainer({ backend, lr: 1 }).get(TOKENS.LayerResolver));
  const folder = await openRunFolder(values.out as string, { resume: false, overwrite: Boolean(values.overwrite) });
  try {
    const { lora: _lora, ...carried } = carriedMeta(checkpoint.meta);
    await saveCheckpoint(folder.path, {
      graph,
      params: merged.params,
      meta: { step: 0, epoch: 0, tokenizer: tokenizer.toJSON(), ...carried, mergedFrom: checkpoint.loadedFrom },
    });
  } catch (e) {
    throw e instanceof CheckpointError ? new UsageError(e.message) : e;
  } finally {
    await folder.lock.release();
  }
  io.stdout.write(
    `merged ${adapters.length / 2} LoRA adapters of ${checkpoint.loadedFrom} into ${folder.path} (${graph.paramCount().toLocaleString('en-US')} parameters)\n`,
  );
}
