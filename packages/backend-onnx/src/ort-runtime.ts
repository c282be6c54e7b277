// Which onnxruntime runs the models: backend-onnx's shared code depends only on
// onnxruntime-common's types and takes the module itself (its Tensor class and
// InferenceSession factory) from `useOrt`. In a browser that is onnxruntime-web (wasm, or WebGPU
// where the browser has it); on Node `@ganglion/backend-onnx/node` binds onnxruntime-node. The
// ONNX graphs are the same on both. One binding per process (or page), as onnxruntime itself
// keeps one `env`: tensors made under one module cannot feed another module's sessions.
import { BackendError } from '@ganglion/core';
import type * as Ort from 'onnxruntime-common';

/** The parts of an onnxruntime module (onnxruntime-web, onnxruntime-node) that Ganglion uses. */
export interface OrtModule {
  readonly Tensor: typeof Ort.Tensor;
  readonly InferenceSession: typeof Ort.InferenceSession;
  readonly env: Ort.Env;
}

/** Execution providers by name, in order of preference (onnxruntime falls back along the list). */
export type ExecutionProvider = 'webgpu' | 'wasm' | 'cpu';

export interface OrtOptions {
  /**
   * Execution providers for every session Ganglion creates, e.g. `['webgpu', 'wasm']` in a
   * browser with WebGPU. Default: the module's own default (wasm on the web, cpu on Node).
   */
  readonly executionProviders?: readonly ExecutionProvider[];
  /**
   * onnxruntime-web's wasm threads (`env.wasm.numThreads`). More than one takes effect only where
   * the page is cross-origin isolated (SharedArrayBuffer); elsewhere it is set to 1. Default:
   * onnxruntime's (up to 4 when isolated, else 1).
   */
  readonly numThreads?: number;
  /** A full garbage collection, where the runtime offers one (Node); split steps call it between phases. */
  readonly collectGarbage?: () => void;
  /**
   * Whether onnxruntime's intra-op threads spin between ops (onnxruntime's own default) or sleep,
   * for sessions that do not say. Spinning is faster on an idle machine (the char-LSTM step on 2
   * threads: 67-72 against 77-85 ms) and about twice as slow when other programs want the cores
   * (162 against 346 ms at load 7). Default false. The Node entry spins unless OMP_WAIT_POLICY is
   * PASSIVE: the switch PyTorch users set for its OpenMP threads, which spin too.
   */
  readonly spinThreads?: boolean;
  /**
   * Whether the module writes a run's outputs into the tensors given as preallocated outputs
   * (`session.run(feeds, { name: tensor })`). onnxruntime-node 1.30 does; onnxruntime-web 1.30
   * returns the tensor given without writing into it. Without it, split steps copy each result into
   * their buffers instead of updating them in place. Default false; the Node entry sets it.
   */
  readonly preallocatedOutputs?: boolean;
}

interface Binding {
  readonly ort: OrtModule;
  readonly options: OrtOptions;
}

let binding: Binding | undefined;

/**
 * Choose the onnxruntime module Ganglion's sessions and tensors come from.
 *
 *   import * as ort from 'onnxruntime-web';
 *   useOrt(ort, { executionProviders: ['webgpu', 'wasm'], numThreads: 4 });
 */
export function useOrt(ort: OrtModule, options: OrtOptions = {}): void {
  if (options.numThreads !== undefined) {
    if (!Number.isInteger(options.numThreads) || options.numThreads < 1)
      throw new BackendError(`useOrt: numThreads is ${options.numThreads}, expected an integer >= 1`);
    const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
    ort.env.wasm.numThreads = isolated ? options.numThreads : 1;
  }
  binding = { ort, options };
}

/** The bound onnxruntime module; a BackendError saying how to bind one when none is. */
export function currentOrt(): OrtModule {
  if (!binding)
    throw new BackendError(
      "no onnxruntime is bound: on Node import from '@ganglion/backend-onnx/node'; in a browser call useOrt(await import('onnxruntime-web'))",
    );
  return binding.ort;
}

/** Whether the bound module fills preallocated outputs (OrtOptions.preallocatedOutputs). */
export function fillsPreallocatedOutputs(): boolean {
  return binding?.options.preallocatedOutputs === true;
}

/** `options` with the binding's execution providers and thread spinning, where they do not name their own. */
export function withBinding(options: Ort.InferenceSession.SessionOptions): Ort.InferenceSession.SessionOptions {
  const providers = binding?.options.executionProviders;
  const session = (options.extra as { session?: { intra_op?: Record<string, string> } } | undefined)?.session;
  const spin = session?.intra_op?.allow_spinning ?? (binding?.options.spinThreads ? '1' : '0');
  return {
    ...options,
    ...(providers && !options.executionProviders ? { executionProviders: [...providers] } : {}),
    extra: { ...options.extra, session: { ...session, intra_op: { ...session?.intra_op, allow_spinning: spin } } },
  };
}

/** A full garbage collection where the bound runtime offers one; nothing elsewhere. */
export function collectGarbage(): void {
  binding?.options.collectGarbage?.();
}
