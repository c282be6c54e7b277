// The pipeline's subjects and control messages, shared by the driver (pipeline-stepper.ts) and the
// stages (stage-worker.ts). Every subject starts with the run's id, so runs sharing a NATS server
// never see each other's traffic:
//   <run>.act.<node>.<port>    an activation of a port one stage (or the driver, for a graph input) sends on
//   <run>.grad.<node>.<port>   the gradient of that port, sent back by each stage that reads it
//   <run>.ctl.<k>              driver -> stage k: config, step, apply, discard, sync, stop
//   <run>.reply.<k>            stage k -> driver: the answer to a control message, or "still working"
//   <run>.msg.<k>              stage k -> driver: its runtime's messages, for the driver's messages$
//   <run>.hello                stage -> driver: connected and listening
// A stage sends its messages and its reply on one connection, so the driver sees a step's
// messages before the reply that ends the step.
import type { GraphJSON, MessageFilter, PluginChoice, PortRef } from '@ganglion/core';

export const subjects = (run: string) => ({
  act: (ref: PortRef) => `${run}.act.${ref.node}.${ref.port}`,
  grad: (ref: PortRef) => `${run}.grad.${ref.node}.${ref.port}`,
  ctl: (k: number) => `${run}.ctl.${k}`,
  reply: (k: number | '*') => `${run}.reply.${k}`,
  msg: (k: number | '*') => `${run}.msg.${k}`,
  hello: `${run}.hello`,
});

/** Backends a stage runs its eager runtimes on. */
export const STAGE_BACKENDS = ['tfjs', 'tfjs-wasm', 'reference'] as const;
export type StageBackend = (typeof STAGE_BACKENDS)[number];

/** Which of its runtime's messages a stage forwards: all, or those the driver's watches want. */
export type ForwardedMessages = 'all' | 'watched';

export interface ConfigRequest {
  readonly op: 'config';
  readonly graph: GraphJSON;
  readonly loss: string;
  readonly placement: Readonly<Record<string, number>>;
  readonly backend: StageBackend;
  /** The optimizer and clipping policy (the schedule stays with the driver, which sends each step's lr). */
  readonly plugins: PluginChoice;
  readonly lr: number;
  /** Updates the optimizer has applied (a resumed run's). */
  readonly optimizerStep: number;
  /** The driver's optimizer and clipping policy by name, checked against the stage's. */
  readonly optimizer: string;
  readonly clipping: string;
  readonly messages: ForwardedMessages;
  readonly timeoutMs: number;
  // Tensors: `param.<node>.<param>` and `slot.<node>.<param>.<slot>` of this stage's parameters.
}

export interface StepRequest {
  readonly op: 'step';
  readonly step: number;
  /** One dropout seed per micro-batch (their count is the micro-batch count). */
  readonly seeds: readonly number[];
  readonly correlationIds: readonly string[];
  /** The driver's watches now (forwarding 'watched'). */
  readonly watches: readonly MessageFilter[];
}

export interface ApplyRequest {
  readonly op: 'apply';
  readonly step: number;
  readonly gradNorm: number;
  readonly lr: number;
}

export type ControlRequest = ConfigRequest | StepRequest | ApplyRequest | { readonly op: 'discard' | 'sync' | 'stop' };

/** The head of a control frame: the request and its id. */
export type ControlHead = ControlRequest & { readonly id: number };

/** The head of a reply frame. `progress`: still working on `id` (the driver's timeout starts again). */
export interface ReplyHead {
  readonly id: number;
  readonly ok?: boolean;
  readonly progress?: boolean;
  /** One line: why the request failed. */
  readonly error?: string;
  /** step: each micro-batch's loss (the stage with the loss). */
  readonly losses?: readonly number[];
  /** step: Σ g² over this stage's accumulated gradients. */
  readonly sumSquares?: number;
  /** sync: the optimizer's update count. */
  readonly optimizerStep?: number;
}

/** The head of an activation or gradient frame between stages. */
export interface PortHead {
  readonly step: number;
  readonly micro: number;
  /** The stage that sent it (-1: the driver). */
  readonly stage: number;
}
