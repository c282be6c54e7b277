// A Hugging Face config.json, read into the shape of a Ganglion GPT. Two families:
//   GPT-2 (GPT2LMHeadModel): learned positions (n_positions), LayerNorm with layer_norm_epsilon,
//     GELU (gelu_new / gelu_pytorch_tanh: tanh approximation; gelu: exact), biases everywhere, the
//     head tied to wte, hidden n_inner or 4·n_embd.
//   Llama (LlamaForCausalLM; SmolLM and TinyLlama are Llama): RoPE with rope_theta, RMSNorm with
//     rms_norm_eps, SwiGLU with intermediate_size, grouped-query attention (num_key_value_heads), no
//     biases unless attention_bias, a tied or untied head (tie_word_embeddings).
// Keys and defaults follow transformers' GPT2Config and LlamaConfig. Anything the Ganglion graph
// would compute differently (rope_scaling, mlp_bias, an activation other than silu, ...) is an
// ImportError naming config.json and the key, never a silently different model.
import { GanglionError } from '@ganglion/core';

/** A Hugging Face model folder that cannot be imported: the message names the file and what is wrong. */
export class ImportError extends GanglionError {
  override readonly name = 'ImportError';
}

export interface HfModelConfig {
  readonly family: 'gpt2' | 'llama';
  /** The `architectures` entry read, e.g. "GPT2LMHeadModel". */
  readonly architecture: string;
  readonly vocabSize: number;
  readonly dim: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly blocks: number;
  /** Feed-forward hidden width. */
  readonly hidden: number;
  /** Longest sequence: n_positions (GPT-2) or max_position_embeddings (Llama). */
  readonly context: number;
  /** LayerNorm or RMSNorm epsilon. */
  readonly eps: number;
  /** RoPE base (Llama only). */
  readonly ropeTheta?: number;
  readonly tied: boolean;
  readonly activation: 'gelu' | 'gelu-tanh' | 'swiglu';
  /** Biases on the attention projections. */
  readonly attentionBias: boolean;
  /** Token ids from config.json / generation_config.json, when given. */
  readonly bosTokenId?: number;
  readonly eosTokenIds: readonly number[];
}

const ARCHITECTURES: Readonly<Record<string, HfModelConfig['family']>> = {
  GPT2LMHeadModel: 'gpt2',
  LlamaForCausalLM: 'llama',
};

/** The supported `architectures` entries. */
export const SUPPORTED_ARCHITECTURES = Object.keys(ARCHITECTURES);

type Json = Record<string, unknown>;

/**
 * Read a parsed config.json (and generation_config.json when present); `file` names config.json in errors.
 *
 *   const config = parseHfConfig(JSON.parse(text), 'gpt2/config.json');
 */
export function parseHfConfig(json: unknown, file: string, generation?: unknown): HfModelConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new ImportError(`${file}: expected a JSON object`);
  const c = json as Json;
  const fail = (problem: string): never => {
    throw new ImportError(`${file}: ${problem}`);
  };
  const archs = c.architectures;
  if (!Array.isArray(archs) || archs.length === 0 || !archs.every((a) => typeof a === 'string'))
    fail(`"architectures" must be a list of names, got ${JSON.stringify(archs)}`);
  const architecture = (archs as string[]).find((a) => a in ARCHITECTURES);
  if (!architecture)
    fail(
      `architecture ${(archs as string[]).map((a) => JSON.stringify(a)).join(', ')} is not supported; Ganglion imports ${SUPPORTED_ARCHITECTURES.join(' and ')}`,
    );
  const family = ARCHITECTURES[architecture!];
  const int = (key: string, fallback?: number): number => {
    const v = c[key] ?? fallback;
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= 1))
      fail(`"${key}" must be a positive integer, got ${JSON.stringify(c[key])}`);
    return v as number;
  };
  const positive = (key: string, fallback: number): number => {
    const v = c[key] ?? fallback;
    if (!(typeof v === 'number' && v > 0)) fail(`"${key}" must be a positive number, got ${JSON.stringify(c[key])}`);
    return v as number;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'boolean') fail(`"${key}" must be true or false, got ${JSON.stringify(c[key])}`);
    return v as boolean;
  };
  const unsupported = (key: string, ok: (v: unknown) => boolean, what: string) => {
    if (c[key] !== undefined && c[key] !== null && !ok(c[key]))
      fail(`"${key}": ${JSON.stringify(c[key])} is not supported (Ganglion computes ${what})`);
  };
  const tokens = readTokenIds(c, generation);

  if (family === 'gpt2') {
    const dim = int('n_embd');
    const heads = int('n_head');
    if (dim % heads !== 0) fail(`"n_embd" ${dim} does not split into "n_head" ${heads} heads`);
    const act = c.activation_function ?? 'gelu_new';
    const activation =
      act === 'gelu_new' || act === 'gelu_pytorch_tanh' || act === 'gelu_fast'
        ? 'gelu-tanh'
        : act === 'gelu'
          ? 'gelu'
          : fail(`"activation_function" ${JSON.stringify(act)} is not supported (gelu_new, gelu_pytorch_tanh or gelu)`);
    unsupported('scale_attn_by_inverse_layer_idx', (v) => v === false, 'attention scaled by 1/√head_dim only');
    unsupported('scale_attn_weights', (v) => v === true, 'attention scaled by 1/√head_dim');
    return {
      family,
      architecture: architecture!,
      vocabSize: int('vocab_size'),
      dim,
      heads,
      kvHeads: heads,
      blocks: int('n_layer'),
      hidden: c.n_inner === null || c.n_inner === undefined ? 4 * dim : int('n_inner'),
      context: int('n_positions'),
      eps: positive('layer_norm_epsilon', 1e-5),
      tied: flag('tie_word_embeddings', true),
      activation,
      attentionBias: true,
      ...tokens,
    };
  }
  const dim = int('hidden_size');
  const heads = int('num_attention_heads');
  const kvHeads = int('num_key_value_heads', heads);
  if (dim % heads !== 0) fail(`"hidden_size" ${dim} does not split into "num_attention_heads" ${heads} heads`);
  if (heads % kvHeads !== 0)
    fail(`"num_attention_heads" ${heads} is not a multiple of "num_key_value_heads" ${kvHeads}`);
  unsupported('head_dim', (v) => v === dim / heads, `head_dim = hidden_size / num_attention_heads = ${dim / heads}`);
  unsupported('hidden_act', (v) => v === 'silu', 'SwiGLU with silu');
  unsupported('rope_scaling', () => false, 'plain RoPE');
  unsupported('mlp_bias', (v) => v === false, 'an MLP without biases');
  unsupported('pretraining_tp', (v) => v === 1, 'unsplit projections');
  return {
    family,
    architecture: architecture!,
    vocabSize: int('vocab_size'),
    dim,
    heads,
    kvHeads,
    blocks: int('num_hidden_layers'),
    hidden: int('intermediate_size'),
    context: int('max_position_embeddings', 2048),
    eps: positive('rms_norm_eps', 1e-6),
    ropeTheta: positive('rope_theta', 10000),
    tied: flag('tie_word_embeddings', false),
    activation: 'swiglu',
    attentionBias: flag('attention_bias', false),
    ...tokens,
  };
}

/** bos/eos ids: generation_config.json's when present, else config.json's. eos may be a list. */
function readTokenIds(c: Json, generation: unknown): { bosTokenId?: number; eosTokenIds: number[] } {
  const g = generation !== null && typeof generation === 'object' ? (generation as Json) : {};
  const ids = (v: unknown): number[] =>
    (Array.isArray(v) ? v : [v]).filter((x): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0);
  const bos = ids(g.bos_token_id ?? c.bos_token_id)[0];
  return { ...(bos === undefined ? {} : { bosTokenId: bos }), eosTokenIds: ids(g.eos_token_id ?? c.eos_token_id) };
}
