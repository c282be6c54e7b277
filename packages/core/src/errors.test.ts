// Bad input: each a typed error naming the op and what was expected, never a silent NaN.
import { describe, expect, test } from 'vitest';
import { tensor } from './creation.js';
import { AttributeError, DTypeError, ShapeError } from './errors.js';
import * as op from './ops/index.js';
import { ReferenceBackend } from './reference/reference-backend.js';
import { softmaxCrossEntropy } from './composites/losses.js';
import { BackendError } from './errors.js';

describe('bad input', () => {
  test('wrong shapes', () => {
    expect(() => op.matMul(tensor([[1, 2]]), tensor([[1, 2]]))).toThrow(
      new ShapeError('MatMul: inner dims 2 and 1 differ (a: [1, 2], b: [1, 2])'),
    );
    expect(() => op.add(tensor([1, 2]), tensor([1, 2, 3]))).toThrow(ShapeError);
    expect(() => op.reshape(tensor([1, 2, 3]), [2, 2])).toThrow(
      /Reshape: cannot reshape \[3\] \(3 elements\) to \[2, 2\]/,
    );
    expect(() => softmaxCrossEntropy(tensor([[1, 2]]), tensor([0, 1], [2], 'int32'))).toThrow(
      /labels have shape \[2\], expected \[1\]/,
    );
  });

  test('mismatched dtypes', () => {
    expect(() => op.add(tensor([1]), tensor([1], [1], 'int32'))).toThrow(DTypeError);
    expect(() => op.exp(tensor([1], [1], 'int32'))).toThrow(/Exp: input "x" has dtype int32, expected float32/);
    expect(() => op.where(tensor([1]), tensor([1]), tensor([2]))).toThrow(
      /Where: input "condition" has dtype float32, expected bool/,
    );
  });

  test('non-finite or malformed attributes', () => {
    expect(() => op.clip(tensor([1]), Number.NaN, 1)).toThrow(
      new AttributeError('Clip: attribute "min" must be a finite number, got NaN'),
    );
    expect(() => op.clip(tensor([1]), 0, Infinity)).toThrow(
      /Clip: attribute "max" must be a finite number, got Infinity/,
    );
    expect(() => op.clip(tensor([1]), 2, 1)).toThrow(/Clip: min 2 is greater than max 1/);
    expect(() => op.pad(tensor([1]), [0, 1], Number.NaN)).toThrow(/Pad: attribute "value" must be a finite number/);
    expect(() => op.randomUniform([2], 1.5)).toThrow(/RandomUniform: attribute "seed" must be an integer/);
    expect(() => op.randomNormal([2], 1, 0, Number.POSITIVE_INFINITY)).toThrow(
      /RandomNormal: attribute "scale" must be a finite number/,
    );
    expect(() => op.reduceSum(tensor([1, 2]), [0.5])).toThrow(/ReduceSum: attribute "axes" must be a list of integers/);
    expect(() => op.softmax(tensor([1, 2]), 1)).toThrow(/Softmax: axis 1 is out of range for rank 1/);
  });

  test('tensors from two backends cannot meet in one op', () => {
    const other = new ReferenceBackend();
    expect(() => op.add(tensor([1]), tensor([1], [1], 'float32', other))).toThrow(BackendError);
    expect(() => op.add(tensor([1]), tensor([1], [1], 'float32', other))).toThrow(
      /Add: inputs live on different backends/,
    );
  });

  test('tensor() rejects values that do not fit the shape or dtype', () => {
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(/3 values do not fill shape \[2, 2\]/);
    expect(() => tensor([1.5], [1], 'int32')).toThrow(/value 1.5 at flat index 0 is not a valid int32/);
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged/);
  });
});
