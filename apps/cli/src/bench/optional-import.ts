// Import a package the CLI does not declare (onnxruntime-node, @ganglion/backend-onnx): the module,
// or a sentence saying why it cannot be loaded, for a contender's `available()`. The specifier is a
// variable on purpose, so the build does not need the package or its types.
export async function optionalImport<T>(specifier: string): Promise<T | string> {
  try {
    return (await import(specifier)) as T;
  } catch (e) {
    const first = String((e as Error)?.message ?? e).split('\n')[0];
    return `${specifier} cannot be imported here (${first})`;
  }
}

/** The few onnxruntime-node calls the benchmark makes. */
export interface Ort {
  readonly InferenceSession: {
    create(model: string | Uint8Array, options: { intraOpNumThreads: number; interOpNumThreads: number }): Promise<OrtSession>;
  };
  readonly Tensor: new (type: 'int32' | 'int64', data: Int32Array | BigInt64Array, dims: readonly number[]) => unknown;
}

export interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, { readonly data: unknown }>>;
}

export const loadOrt = () => optionalImport<Ort>('onnxruntime-node');
