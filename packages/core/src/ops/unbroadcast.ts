// sumToShape: the gradient of broadcasting. Sums a gradient over the axes that broadcasting
// expanded, so it gets back the shape of the input that was broadcast.

import { type Shape, sameDim, sameShape } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { reduceSum } from './reduce-sum.js';
import { reshape } from './reshape.js';

export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead) axes.push(i);
    else if (shape[i - lead] === 1 && !sameDim(g.shape[i], 1)) axes.push(i);
  }
  const summed = axes.length > 0 ? reduceSum(g, axes, true) : g;
  return sameShape(summed.shape, shape) ? summed : reshape(summed, shape);
}
