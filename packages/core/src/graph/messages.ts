// The messages nodes exchange. A forward pass is a wave of Activations from the inputs to the
// outputs; a backward pass is a wave of Gradients from the loss back to the inputs, with ParamGrads
// peeled off for the optimizer. Every message carries the step it belongs to.

import { type MonoTypeOperatorFunction, type OperatorFunction, filter } from 'rxjs';
import type { Tensor } from '../tensor.js';

/** A port of a node: `{ node: 'lstm1', port: 'y' }`. */
export interface PortRef {
  readonly node: string;
  readonly port: string;
}

/**
 * What travels with an activation besides its value: sequence positions (where a streamed chunk
 * starts), a padding/causal mask, the training flag, the dropout RNG stream and a correlation id.
 */
export interface Context {
  readonly step: number;
  readonly training: boolean;
  /** Position of the first time step of this wave in the whole sequence (0 unless streaming). */
  readonly position: number;
  /** Optional mask, e.g. [batch, time] with 1 for real tokens and 0 for padding. */
  readonly mask?: Tensor;
  /** Seed of this wave's RNG stream (dropout); each node derives its own from it. */
  readonly seed: number;
  /** Ties the messages of one request/step together, for logs and traces. */
  readonly correlationId: string;
}

export interface Activation {
  readonly kind: 'activation';
  readonly step: number;
  readonly from: PortRef;
  readonly value: Tensor;
  readonly context: Context;
  /** Hidden state the node carries to its next wave (LSTM/GRU h and c, attention caches). */
  readonly state?: Readonly<Record<string, Tensor>>;
}

export interface Gradient {
  readonly kind: 'gradient';
  readonly step: number;
  /** The output port whose value this is the gradient of. */
  readonly to: PortRef;
  /** The consumer's input port that sent it (several consumers of one port each send one). */
  readonly from: PortRef;
  readonly grad: Tensor;
}

export interface ParamGrad {
  readonly kind: 'param-grad';
  readonly step: number;
  readonly node: string;
  readonly param: string;
  readonly grad: Tensor;
}

export interface Control {
  readonly kind: 'reset-state' | 'end-of-stream';
  readonly step: number;
}

export type Message = Activation | Gradient | ParamGrad | Control;
export type MessageKind = Message['kind'];

type OfKind<K extends MessageKind> = Extract<Message, { kind: K }>;

/** Keep messages of one kind: `messages$.pipe(ofKind('param-grad'))`. */
export function ofKind<K extends MessageKind>(...kinds: K[]): OperatorFunction<Message, OfKind<K>> {
  return filter((m): m is OfKind<K> => (kinds as string[]).includes(m.kind));
}

/** The node a message is about: the producer of an activation, the receiver of a gradient. */
export function nodeOf(m: Message): string | undefined {
  switch (m.kind) {
    case 'activation':
      return m.from.node;
    case 'gradient':
      return m.to.node;
    case 'param-grad':
      return m.node;
    default:
      return undefined;
  }
}

/** Keep messages about one node. */
export function forNode<M extends Message>(node: string): MonoTypeOperatorFunction<M> {
  return filter((m) => nodeOf(m) === node);
}

/** Keep activations and gradients of one port (`'lstm1.y'` or a PortRef). */
export function forPort<M extends Message>(port: string | PortRef): MonoTypeOperatorFunction<M> {
  const ref = typeof port === 'string' ? parsePortRef(port) : port;
  return filter((m) => samePort(portOf(m), ref));
}

/** The port an activation or gradient is about: the producer's output port (`from` / `to`). */
function portOf(m: Message): PortRef | undefined {
  return m.kind === 'activation' ? m.from : m.kind === 'gradient' ? m.to : undefined;
}

function samePort(p: PortRef | undefined, ref: PortRef): boolean {
  return p !== undefined && p.node === ref.node && p.port === ref.port;
}

/**
 * Which messages a watcher wants (`Runtime.watch`): every field optional, each narrowing the one
 * before. Declarative rather than an RxJS predicate so a compiled training step can see what is
 * wanted and add exactly those values to its graph's outputs.
 *
 *   runtime.watch({ kind: 'param-grad', every: 10 })       // every gradient of every parameter, every 10th step
 *   runtime.watch({ kind: 'activation', port: 'lstm1.y' })  // one port's activations
 */
export interface MessageFilter {
  readonly kind?: MessageKind | readonly MessageKind[];
  /** The node a message is about (`nodeOf`). */
  readonly node?: string | readonly string[];
  /** An activation's or gradient's port (`'lstm1.y'`); a ParamGrad's parameter (`'lstm1.W'`). */
  readonly port?: string;
  /** Only steps divisible by N (default 1: every step). */
  readonly every?: number;
}

/** Whether a message is one a filter wants (kind, node and port; `every` is the caller's). */
export function matchesFilter(f: MessageFilter, m: Message): boolean {
  const list = <T>(v: T | readonly T[] | undefined): readonly T[] | undefined =>
    v === undefined ? undefined : Array.isArray(v) ? (v as readonly T[]) : [v as T];
  const kinds = list(f.kind);
  if (kinds && !kinds.includes(m.kind)) return false;
  const nodes = list(f.node);
  if (nodes && !nodes.includes(nodeOf(m) ?? '')) return false;
  // A ParamGrad's "port" is its parameter.
  const p = m.kind === 'param-grad' ? { node: m.node, port: m.param } : portOf(m);
  return f.port === undefined || samePort(p, parsePortRef(f.port));
}

export function formatPortRef(p: PortRef): string {
  return `${p.node}.${p.port}`;
}

export function parsePortRef(s: string): PortRef {
  const i = s.lastIndexOf('.');
  return i < 0 ? { node: s, port: 'y' } : { node: s.slice(0, i), port: s.slice(i + 1) };
}
