// Importing a Hugging Face model folder: config.json (config.ts) -> the Ganglion GPT of that shape
// (@ganglion/layers' `gpt`), and every parameter filled from the safetensors weights (one file or
// sharded, F32/F16/BF16, read a tensor at a time), renamed and re-laid-out:
//
//   GPT-2 (names with or without "transformer.")      Ganglion
//   wte.weight                                        embed.weight (also the tied head)
//   wpe.weight                                        pos.weight
//   h.N.ln_1.{weight,bias}                            blockN+1.ln1.{weight,bias}
//   h.N.attn.c_attn.{weight [d, 3d], bias}            blockN+1.attn.in_proj_{weight [3d, d] (ᵀ), bias}
//   h.N.attn.c_proj.{weight, bias}                    blockN+1.attn.out_proj_{weight (ᵀ), bias}
//   h.N.ln_2.{weight,bias}                            blockN+1.ln2.{weight,bias}
//   h.N.mlp.c_fc / c_proj                             blockN+1.ff.in_{weight (ᵀ), bias} / ff.out_...
//   ln_f.{weight,bias}                                ln_f.{weight,bias}
// GPT-2's Conv1D stores weights [in, out]: they are transposed to torch.nn.Linear's [out, in].
//
//   Llama ("model." prefix)                           Ganglion
//   model.embed_tokens.weight                         embed.weight
//   model.layers.N.input_layernorm.weight             blockN+1.ln1.weight
//   model.layers.N.self_attn.{q,k,v}_proj.weight      blockN+1.attn.in_proj_weight (rows q, k, v)
//   model.layers.N.self_attn.o_proj.weight            blockN+1.attn.out_proj_weight
//   model.layers.N.post_attention_layernorm.weight    blockN+1.ln2.weight
//   model.layers.N.mlp.{gate,up,down}_proj.weight     blockN+1.ff.{gate,up,down}_weight
//   model.norm.weight                                 ln_f.weight
//   lm_head.weight (untied only)                      head.weight
//
// Buffers some checkpoints carry (GPT-2's attn.bias / attn.masked_bias masks, rotary inv_freq) are
// skipped; a tied checkpoint's lm_head.weight copy is skipped; any other tensor is an ImportError,
// as are a missing tensor and a shape that does not fit config.json — each naming the file and the
// tensor. Nothing is read twice: each weight is converted to float32 once, straight into its slot.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Backend, CheckpointError, type Graph, ParamStore, getBackend, tensor } from '@ganglion/core';
import { type SafetensorsReader, openSafetensorsModel } from '@ganglion/core/node';
import { gpt } from '@ganglion/layers';
import { type HfModelConfig, ImportError, parseHfConfig } from './config.js';

export interface ImportedModel {
  readonly config: HfModelConfig;
  /** The Ganglion graph (inputs ids, labels; outputs logits, loss). */
  readonly graph: Graph;
  readonly params: ParamStore;
  /** tokenizer.json as read, when the folder has one. */
  readonly tokenizer?: unknown;
  /** generation_config.json as read, when present. */
  readonly generation?: unknown;
  /** The folder imported (absolute). */
  readonly source: string;
}

/** One Ganglion parameter: the Hugging Face tensors it comes from, and how. */
interface Source {
  readonly key: string;
  readonly names: readonly string[];
  /** 'transpose': a Conv1D [in, out] weight; 'rows': the tensors stacked along dim 0. */
  readonly layout: 'copy' | 'transpose' | 'rows';
}

/** The Ganglion graph a config describes (the same builder `ganglion train` uses). */
export function graphOf(c: HfModelConfig): Graph {
  const common = { dim: c.dim, heads: c.heads, blocks: c.blocks, context: c.context, eps: c.eps, hidden: c.hidden };
  return c.family === 'gpt2'
    ? gpt({ ...common, position: 'learned', activation: c.activation, bias: true })(c.vocabSize)
    : gpt({
        ...common,
        position: 'rope',
        ropeBase: c.ropeTheta,
        window: c.context,
        norm: 'rms',
        activation: 'swiglu',
        kvHeads: c.kvHeads,
        bias: c.attentionBias,
        tied: c.tied,
      })(c.vocabSize);
}

function gpt2Sources(c: HfModelConfig, p: string): Source[] {
  const s: Source[] = [
    { key: 'embed.weight', names: [`${p}wte.weight`], layout: 'copy' },
    { key: 'pos.weight', names: [`${p}wpe.weight`], layout: 'copy' },
    { key: 'ln_f.weight', names: [`${p}ln_f.weight`], layout: 'copy' },
    { key: 'ln_f.bias', names: [`${p}ln_f.bias`], layout: 'copy' },
  ];
  for (let i = 0; i < c.blocks; i++) {
    const h = `${p}h.${i}.`;
    const b = `block${i + 1}.`;
    const pairs: [string, string, Source['layout']][] = [
      ['ln1.weight', 'ln_1.weight', 'copy'],
      ['ln1.bias', 'ln_1.bias', 'copy'],
      ['attn.in_proj_weight', 'attn.c_attn.weight', 'transpose'],
      ['attn.in_proj_bias', 'attn.c_attn.bias', 'copy'],
      ['attn.out_proj_weight', 'attn.c_proj.weight', 'transpose'],
      ['attn.out_proj_bias', 'attn.c_proj.bias', 'copy'],
      ['ln2.weight', 'ln_2.weight', 'copy'],
      ['ln2.bias', 'ln_2.bias', 'copy'],
      ['ff.in_weight', 'mlp.c_fc.weight', 'transpose'],
      ['ff.in_bias', 'mlp.c_fc.bias', 'copy'],
      ['ff.out_weight', 'mlp.c_proj.weight', 'transpose'],
      ['ff.out_bias', 'mlp.c_proj.bias', 'copy'],
    ];
    for (const [key, name, layout] of pairs) s.push({ key: b + key, names: [h + name], layout });
  }
  return s;
}

function llamaSources(c: HfModelConfig): Source[] {
  const s: Source[] = [
    { key: 'embed.weight', names: ['model.embed_tokens.weight'], layout: 'copy' },
    { key: 'ln_f.weight', names: ['model.norm.weight'], layout: 'copy' },
    ...(c.tied ? [] : [{ key: 'head.weight', names: ['lm_head.weight'], layout: 'copy' } as const]),
  ];
  for (let i = 0; i < c.blocks; i++) {
    const l = `model.layers.${i}.`;
    const b = `block${i + 1}.`;
    const qkv = (w: string) => ['q', 'k', 'v'].map((x) => `${l}self_attn.${x}_proj.${w}`);
    s.push(
      { key: `${b}ln1.weight`, names: [`${l}input_layernorm.weight`], layout: 'copy' },
      { key: `${b}attn.in_proj_weight`, names: qkv('weight'), layout: 'rows' },
      ...(c.attentionBias ? [{ key: `${b}attn.in_proj_bias`, names: qkv('bias'), layout: 'rows' } as const] : []),
      { key: `${b}attn.out_proj_weight`, names: [`${l}self_attn.o_proj.weight`], layout: 'copy' },
      ...(c.attentionBias
        ? [{ key: `${b}attn.out_proj_bias`, names: [`${l}self_attn.o_proj.bias`], layout: 'copy' } as const]
        : []),
      { key: `${b}ln2.weight`, names: [`${l}post_attention_layernorm.weight`], layout: 'copy' },
      { key: `${b}ff.gate_weight`, names: [`${l}mlp.gate_proj.weight`], layout: 'copy' },
      { key: `${b}ff.up_weight`, names: [`${l}mlp.up_proj.weight`], layout: 'copy' },
      { key: `${b}ff.down_weight`, names: [`${l}mlp.down_proj.weight`], layout: 'copy' },
    );
  }
  return s;
}

/** Tensors a checkpoint may carry that are not weights: causal-mask and RoPE buffers. */
const BUFFER = /(^|\.)attn\.(bias|masked_bias)$|rotary_emb\.inv_freq$/;

async function readJson(file: string, optional: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (optional && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ImportError(
      `${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (e as Error).message}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ImportError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/**
 * Import a Hugging Face model folder (GPT-2 or Llama family) as a Ganglion graph and parameters.
 *
 *   const { graph, params, tokenizer } = await importHf('models/SmolLM-135M');
 */
export async function importHf(dir: string, options: { backend?: Backend } = {}): Promise<ImportedModel> {
  const source = resolve(dir);
  const configFile = join(source, 'config.json');
  const generation = await readJson(join(source, 'generation_config.json'), true);
  const config = parseHfConfig(await readJson(configFile, false), configFile, generation);
  const tokenizer = await readJson(join(source, 'tokenizer.json'), true);
  const graph = graphOf(config);
  const backend = options.backend ?? getBackend();
  const reader = await openSafetensorsModel(source).catch(asImportError);
  try {
    const prefix = config.family === 'gpt2' && reader.tensors.has('transformer.wte.weight') ? 'transformer.' : '';
    const sources = config.family === 'gpt2' ? gpt2Sources(config, prefix) : llamaSources(config);
    const store = new ParamStore(graph);
    const used = new Set<string>();
    for (const { key, names, layout } of sources) {
      const spec = store.specs.get(key)!.spec;
      const parts = await Promise.all(
        names.map((name) => readChecked(reader, name, key, spec.shape, layout, configFile)),
      );
      names.forEach((n) => used.add(n));
      const values = parts.length === 1 ? parts[0] : concatenate(parts);
      const size = spec.shape.reduce((a, b) => a * b, 1);
      if (values.length !== size)
        throw new ImportError(
          `${reader.tensors.get(names[0])!.file}: tensors ${names.map((n) => `"${n}" ${fmt(reader.tensors.get(n)!.shape)}`).join(', ')} stack to ${values.length / spec.shape[1]} rows, but ${configFile} needs ${fmt(spec.shape)} for ${key}`,
        );
      store.set(key, tensor(values, spec.shape, 'float32', backend));
    }
    const tiedCopy = config.tied ? ['lm_head.weight'] : [];
    const extra = [...reader.tensors.keys()].filter((n) => !used.has(n) && !BUFFER.test(n) && !tiedCopy.includes(n));
    if (extra.length > 0)
      throw new ImportError(
        `${reader.tensors.get(extra[0])!.file}: tensor "${extra[0]}" is not part of a ${config.architecture} with this config.json${extra.length > 1 ? ` (nor are ${extra.length - 1} more)` : ''}`,
      );
    return { config, graph, params: store, tokenizer, generation, source };
  } finally {
    await reader.close();
  }
}

/**
 * One Hugging Face tensor as float32 in Ganglion's layout for `key` (of shape `shape`; a 'rows' part
 * is its share of the rows), or an ImportError naming the file and the tensor.
 */
async function readChecked(
  reader: SafetensorsReader,
  name: string,
  key: string,
  shape: readonly number[],
  layout: Source['layout'],
  configFile: string,
): Promise<Float32Array> {
  const info = reader.tensors.get(name);
  if (!info)
    throw new ImportError(
      `${[...new Set([...reader.tensors.values()].map((t) => t.file))].join(', ')}: missing tensor "${name}" (needed for ${key})`,
    );
  const expected = layout === 'transpose' ? [shape[1], shape[0]] : shape;
  const fits =
    layout === 'rows'
      ? info.shape.length === shape.length && info.shape.slice(1).every((d, i) => d === shape[i + 1])
      : info.shape.length === expected.length && info.shape.every((d, i) => d === expected[i]);
  if (!fits)
    throw new ImportError(
      `${info.file}: tensor "${name}" has shape ${fmt(info.shape)}, but ${configFile} needs ${layout === 'rows' ? `[*, ${shape.slice(1).join(', ')}]` : fmt(expected)}`,
    );
  const values = await reader.readFloat32(name).catch(asImportError);
  return layout === 'transpose' ? transpose2d(values, info.shape[0], info.shape[1]) : values;
}

/** The reader's CheckpointErrors (a truncated file, a dtype that is not a float) as this import's errors. */
function asImportError(e: unknown): never {
  throw e instanceof CheckpointError ? new ImportError(e.message) : e;
}

function transpose2d(v: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c];
  return out;
}

function concatenate(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
