// ganglion import hf DIR --out CKPT: a Hugging Face model folder (GPT-2 or Llama family) as a
// Ganglion checkpoint — graph, float32 weights, its own tokenizer.json — that generate, finetune,
// export and inspect read like any other. Everything is checked before --out is touched: the
// config, every tensor's presence and shape, and the tokenizer against the embedding.
import { join } from 'node:path';
import { CheckpointError } from '@ganglion/core';
import { saveCheckpoint } from '@ganglion/core/node';
import { ImportError, SUPPORTED_ARCHITECTURES, importHf } from '@ganglion/hf';
import { type FlagSpec, UsageError, parse } from '../args.js';
import { buildContainer, createBackend, tokenizerRegistry } from '../container.js';
import { describeTokenizer } from '../tokenizers.js';
import { openRunFolder } from '../run-folder.js';

const FLAGS: FlagSpec = {
  out: { type: 'string' },
  overwrite: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const HELP = `usage: ganglion import hf DIR --out CKPT [--overwrite]
Imports a Hugging Face model folder (config.json; model.safetensors, or sharded
model-0000x-of-0000y.safetensors with model.safetensors.index.json; tokenizer.json;
generation_config.json when present) as a Ganglion checkpoint in --out.
Architectures: ${SUPPORTED_ARCHITECTURES.join(', ')} (SmolLM and TinyLlama are Llama).
Weights in F32, F16 or BF16 are stored as float32. --out must be new or empty, or hold a Ganglion
checkpoint to replace with --overwrite.`;

export async function importCommand(
  argv: readonly string[],
  io: { stdout: { write(s: string): unknown } },
): Promise<void> {
  const { values, positionals } = parse(argv, FLAGS, 'import');
  if (values.help) {
    io.stdout.write(`${HELP}\n`);
    return;
  }
  const [format, dir, ...rest] = positionals;
  if (format !== 'hf')
    throw new UsageError(`import: expected \`ganglion import hf DIR --out CKPT\`, got ${JSON.stringify(format ?? '')}`);
  if (!dir) throw new UsageError('import hf: name the Hugging Face model folder (DIR)');
  if (rest.length) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  if (typeof values.out !== 'string') throw new UsageError('import hf: --out CKPT is required');
  const backend = await createBackend('tfjs');
  const model = await importHf(dir, { backend });
  const tokenizerFile = join(model.source, 'tokenizer.json');
  if (model.tokenizer === undefined)
    throw new ImportError(`${tokenizerFile}: not found; a language model needs its tokenizer to read and write text`);
  const tokenizer = tokenizerRegistry(buildContainer({ backend, lr: 1 })).fromJSON(model.tokenizer, tokenizerFile);
  if (tokenizer.vocabSize !== model.config.vocabSize)
    throw new ImportError(
      `${tokenizerFile}: the tokenizer has ${tokenizer.vocabSize} tokens, but the embedding (vocab_size in ${join(model.source, 'config.json')}) has ${model.config.vocabSize} rows`,
    );
  const folder = await openRunFolder(values.out as string, { resume: false, overwrite: Boolean(values.overwrite) });
  try {
    await saveCheckpoint(folder.path, {
      graph: model.graph,
      params: model.params,
      meta: {
        step: 0,
        epoch: 0,
        tokenizer: model.tokenizer as object,
        importedFrom: model.source,
        architecture: model.config.architecture,
        ...(model.config.eosTokenIds.length ? { eosTokenIds: model.config.eosTokenIds } : {}),
        ...(model.config.bosTokenId === undefined ? {} : { bosTokenId: model.config.bosTokenId }),
      },
    });
  } catch (e) {
    throw e instanceof CheckpointError ? new UsageError(e.message) : e;
  } finally {
    await folder.lock.release();
  }
  const c = model.config;
  io.stdout.write(
    `imported ${c.architecture} (${c.blocks} blocks, d ${c.dim}, ${c.heads} heads${c.kvHeads !== c.heads ? ` / ${c.kvHeads} kv` : ''}, ${model.graph.paramCount().toLocaleString('en-US')} parameters, tokenizer ${describeTokenizer(tokenizer)}) into ${folder.path}\n`,
  );
}
