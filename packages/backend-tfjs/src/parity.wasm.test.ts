// Parity of every primitive, forward and gradient, on tfjs's wasm backend (see parity-suite.ts),
// and what happens when wasm lacks a kernel.
import * as tf from '@tensorflow/tfjs';
import { UnsupportedOpError, erf, tensor, tidy, withBackend } from '@ganglion/core';
import { describe, expect, it } from 'vitest';
import { paritySuite } from './parity-suite.js';
import { TfjsBackend } from './tfjs-backend.js';

paritySuite('wasm');

describe('tfjs-wasm without a kernel', () => {
  it('raises UnsupportedOpError naming the primitive, and recovers once the kernel is back', async () => {
    const backend = await TfjsBackend.create('wasm');
    const config = tf.getKernel('Erf', 'wasm');
    expect(config).toBeDefined();
    const x = () => tensor([0.5, -1], [2], 'float32', backend);
    tf.unregisterKernel('Erf', 'wasm');
    try {
      expect(backend.supports('Erf')).toBe(false);
      expect(backend.supports('Exp')).toBe(true);
      let error: unknown;
      withBackend(backend, () =>
        tidy(() => {
          try {
            erf(x());
          } catch (e) {
            error = e;
          }
        }),
      );
      expect(error).toBeInstanceOf(UnsupportedOpError);
      expect((error as UnsupportedOpError).op).toBe('Erf');
      expect((error as Error).message).toBe(
        'Erf: not supported on backend "tfjs-wasm": tfjs kernel(s) Erf not registered for wasm',
      );
    } finally {
      tf.registerKernel(config!);
    }
    expect(backend.supports('Erf')).toBe(true);
    const y = withBackend(backend, () => tidy(() => erf(x()).toArray()));
    expect(y[0]).toBeCloseTo(0.5205, 4);
  });
});
