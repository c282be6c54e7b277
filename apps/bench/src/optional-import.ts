// Import a package that may not load on this machine (onnxruntime-node's native binding,
// @ganglion/backend-onnx): the module, or a sentence saying why it cannot be loaded, for a
// contender's `available()`.
//
//   const onnx = await optionalImport('@ganglion/backend-onnx/node', () => import('@ganglion/backend-onnx/node'));
export async function optionalImport<T>(specifier: string, load: () => Promise<unknown>): Promise<T | string> {
  try {
    return (await load()) as T;
  } catch (e) {
    const first = String((e as Error)?.message ?? e).split('\n')[0];
    return `${specifier} cannot be imported here (${first})`;
  }
}

/** The few onnxruntime-node calls the benchmark makes. */
export interface Ort {
  readonly InferenceSession: {
    create(
      model: string | Uint8Array,
      options: { intraOpNumThreads: number; interOpNumThreads: number },
    ): Promise<OrtSession>;
  };
  readonly Tensor: new (type: 'int32' | 'int64', data: Int32Array | BigInt64Array, dims: readonly number[]) => unknown;
}

export interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, { readonly data: unknown }>>;
}

export const loadOrt = () => optionalImport<Ort>('onnxruntime-node', () => import('onnxruntime-node'));
