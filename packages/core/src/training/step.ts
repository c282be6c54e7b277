// The training step, written once:
//   forward wave -> loss -> backward wave -> ParamGrads -> global norm      (stepGradients)
//   -> clipping policy -> optimizer update                                   (stepUpdates)
// Neither reads a value back, so the same two functions run eagerly (Trainer.trainStep, on real
// tensors) and are traced into ONNX by backend-onnx: together as one fused graph, or as a
// `gradients` graph and an `apply` graph with the reduction of gradients across workers between
// them. The optimizer's step-dependent numbers (learning rate, bias corrections) come in as
// `scalars`: numbers eagerly, graph inputs when compiled.
//
//   const g = stepGradients(runtime, batch, { loss: 'loss', seed });
//   const updates = stepUpdates(trainer, g.paramGrads, g.gradNorm, (k) => runtime.params.get(k), (k) => optimizer.slotsOf(k), scalars);
import type { Runtime } from '../graph/runtime.js';
import { reshape } from '../ops/reshape.js';
import type { Tensor } from '../tensor.js';
import { type ClippingPolicy, globalNorm } from './clipping/clipping-policy.js';
import { type Optimizer, type ParamUpdate, type Slots, type StepScalars, updateAll } from './optimizer.js';

export interface StepGradients {
  /** The loss, a scalar tensor. */
  readonly loss: Tensor;
  /** √Σ‖g‖² over every parameter gradient, before clipping (what every step reports). */
  readonly gradNorm: Tensor;
  /** Gradient of the loss for every trainable parameter, keyed `<node>.<param>`. */
  readonly paramGrads: Map<string, Tensor>;
  /** Every graph output of the forward wave. */
  readonly outputs: Record<string, Tensor>;
}

/** What turns gradients into an update: the clipping policy and the optimizer (a Trainer has both). */
export interface UpdateRule {
  readonly optimizer: Optimizer;
  readonly clipping: ClippingPolicy;
}

/**
 * Forward wave in training mode, the loss, the backward wave and the global gradient norm, on the
 * runtime's backend. Intermediates are left to the caller's `tidy`.
 */
export function stepGradients(
  runtime: Runtime,
  feeds: Readonly<Record<string, Tensor>>,
  opts: { readonly loss: string; readonly seed: number; readonly step?: number },
): StepGradients {
  const r = runtime.gradients(feeds, opts);
  return {
    loss: r.loss.rank === 0 ? r.loss : reshape(r.loss, []),
    gradNorm: globalNorm(r.paramGrads),
    paramGrads: r.paramGrads,
    outputs: r.outputs,
  };
}

/**
 * Clipping, then the optimizer's update of each parameter in `grads` (all of them, or one group:
 * every built-in policy clips a group given the global norm). Returns the new parameters and
 * slots; nothing is stored.
 */
export function stepUpdates(
  rule: UpdateRule,
  grads: ReadonlyMap<string, Tensor>,
  gradNorm: Tensor,
  param: (key: string) => Tensor,
  slots: (key: string) => Readonly<Slots>,
  scalars: StepScalars,
): Map<string, ParamUpdate> {
  return updateAll(rule.optimizer, rule.clipping.clip(grads, gradNorm), param, slots, scalars);
}
