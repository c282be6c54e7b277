// Seq2SeqAttention: attention of an RNN decoder's states over the encoder's outputs (Luong et al.
// 2015, Bahdanau et al. 2015). For decoder states q_t [batch, tgtTime, d] and encoder memory m_s
// [batch, srcTime, dEnc], one score per (t, s):
//   'dot'       score = q_t · m_s                                  (d = dEnc; Luong's dot)
//   'general'   score = q_t · (W m_s),  W [d, dEnc]               (Luong's general)
//   'additive'  score = v · tanh(Wq q_t + Wm m_s),  Wq [units, d], Wm [units, dEnc], v [units]
//                                                                  (Bahdanau's; no biases, as TF's)
// then a_t = softmax_s(score + padding) and the context c_t = Σ_s a_ts m_s [batch, tgtTime, dEnc].
// Luong's scores are unscaled; the padding mask adds MASKED (-1e9) to padded sources' scores, as
// attention.ts does, so their weights are exactly zero.
// Parameters (torch.nn.Linear layouts, [out, in], U(±1/√in) as torch.nn.Linear initializes them):
//   'general': weight [d, dEnc];  'additive': query_weight [units, d], memory_weight [units, dEnc],
//   v [units] (U(±1/√units)); 'dot': none.
// Ports: query [batch, tgtTime, d], memory [batch, srcTime, dEnc], optional mask [batch, srcTime]
// (1 = token, 0 = padding). Outputs: y, the context [batch, tgtTime, dEnc]; with `weights: true`
// also weights [batch, tgtTime, srcTime] (each row sums to 1).
// No state: the decoder's states carry the recurrence, so with the memory fed on every wave a
// decoder streams one token per wave with this node unchanged. The ONNX export traces `forward`.
import {
  AttributeError,
  Layer,
  type LayerResult,
  type LayerSignature,
  type ParamSpec,
  ShapeError,
  type Tensor,
  type TensorSpec,
  add,
  cast,
  expectPort,
  greater,
  lastDim,
  matMul,
  mul,
  reshape,
  softmax,
  sub,
  tanh,
  transpose,
} from '@ganglion/core';
import { MASKED } from './attention.js';
import { linear, linearInit } from './linear.js';

export type AttentionScore = 'dot' | 'general' | 'additive';

export interface Seq2SeqAttentionConfig {
  /** Luong's 'dot' or 'general', or Bahdanau's 'additive'. */
  readonly score: AttentionScore;
  /** Width of the additive score's hidden layer. Default the query's width. */
  readonly units?: number;
  /** Also output the attention weights on port `weights`. Default false. */
  readonly weights?: boolean;
}

const SCORES: readonly AttentionScore[] = ['dot', 'general', 'additive'];

/**
 * Attention weights [batch, tgtTime, srcTime] and context [batch, tgtTime, dEnc] of `query` over
 * `memory`, with Seq2SeqAttention's parameters and an optional padding mask [batch, srcTime].
 *
 *   const { context } = seq2seqAttention(h, memory, p, 'general', srcMask);
 */
export function seq2seqAttention(
  query: Tensor,
  memory: Tensor,
  p: Readonly<Record<string, Tensor>>,
  score: AttentionScore,
  mask?: Tensor,
): { context: Tensor; weights: Tensor } {
  const [batch, tgtTime] = query.shape;
  const srcTime = memory.shape[1];
  let scores: Tensor;
  if (score === 'additive') {
    const units = p.v.shape[0] as number;
    const q = reshape(linear(query, p.query_weight), [batch, tgtTime, 1, units]);
    const m = reshape(linear(memory, p.memory_weight), [batch, 1, srcTime, units]);
    const hidden = tanh(add(q, m)); // [batch, tgtTime, srcTime, units]
    scores = reshape(matMul(hidden, reshape(p.v, [units, 1])), [batch, tgtTime, srcTime]);
  } else {
    const keys = score === 'general' ? linear(memory, p.weight) : memory;
    scores = matMul(query, transpose(keys, [0, 2, 1]));
  }
  if (mask) {
    // Through a comparison, so the mask stays off the tape (as attentionBias does).
    const keep = cast(greater(reshape(mask, [batch, 1, srcTime]), 0.5), 'float32');
    scores = add(scores, mul(sub(1, keep), MASKED));
  }
  const weights = softmax(scores, -1);
  return { context: matMul(weights, memory), weights };
}

export class Seq2SeqAttention extends Layer<Seq2SeqAttentionConfig> {
  static override readonly kind = 'Seq2SeqAttention';
  readonly inputs = [{ name: 'query' }, { name: 'memory' }, { name: 'mask', optional: true }];

  /** new Seq2SeqAttention({ score: 'general' }): Luong attention of decoder states over the encoder's. */
  constructor(config: Seq2SeqAttentionConfig) {
    super(config);
    if (!SCORES.includes(config.score))
      throw new AttributeError(
        `Seq2SeqAttention: score must be one of ${SCORES.join(', ')}, got ${JSON.stringify(config.score)}`,
      );
    if (config.units !== undefined && !(Number.isInteger(config.units) && config.units >= 1))
      throw new AttributeError(`Seq2SeqAttention: units must be a positive integer, got ${config.units}`);
    if (config.units !== undefined && config.score !== 'additive')
      throw new AttributeError(`Seq2SeqAttention: units only applies to the 'additive' score, not '${config.score}'`);
  }

  signature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
    const query = expectPort('query', inputs.query, 'float32', [null, null, null]);
    const [batch, tgtTime] = query.shape;
    const memory = expectPort('memory', inputs.memory, 'float32', [batch, null, null]);
    const srcTime = memory.shape[1];
    if (inputs.mask) expectPort('mask', inputs.mask, 'float32', [batch, srcTime]);
    const d = lastDim('query', query);
    const dEnc = lastDim('memory', memory);
    const { score } = this.config;
    if (score === 'dot' && d !== dEnc)
      throw new ShapeError(
        `input "query" has ${d} features but "memory" has ${dEnc}; the 'dot' score needs equal widths (use 'general' or 'additive')`,
      );
    const units = this.config.units ?? d;
    const params: ParamSpec[] =
      score === 'general'
        ? [{ name: 'weight', shape: [d, dEnc], init: linearInit(dEnc) }]
        : score === 'additive'
          ? [
              { name: 'query_weight', shape: [units, d], init: linearInit(d) },
              { name: 'memory_weight', shape: [units, dEnc], init: linearInit(dEnc) },
              { name: 'v', shape: [units], init: linearInit(units) },
            ]
          : [];
    return {
      outputs: [
        { name: 'y', dtype: 'float32', shape: [batch, tgtTime, dEnc] },
        ...(this.config.weights
          ? [{ name: 'weights', dtype: 'float32' as const, shape: [batch, tgtTime, srcTime] }]
          : []),
      ],
      params,
    };
  }

  forward(
    { query, memory, mask }: Readonly<Record<string, Tensor>>,
    params: Readonly<Record<string, Tensor>>,
  ): LayerResult {
    const { context, weights } = seq2seqAttention(query, memory, params, this.config.score, mask);
    return this.config.weights ? { outputs: { y: context, weights } } : context;
  }
}
