// The signature shared by single-input, shape-preserving layers (activations, Dropout).
import { type LayerSignature, type TensorSpec, expectPort } from '@ganglion/core';

export function sameShapeSignature(inputs: Readonly<Record<string, TensorSpec | undefined>>): LayerSignature {
  const x = expectPort('x', inputs.x, 'float32');
  return { outputs: [{ name: 'y', dtype: 'float32', shape: x.shape }], params: [] };
}
