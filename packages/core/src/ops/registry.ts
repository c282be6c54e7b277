// The op registry: every primitive, listed once. Backends' lowering tables are typed from this
// map, so adding a primitive here without lowering it everywhere is a compile error.
import { absPrimitive } from './abs.js';
import { addPrimitive } from './add.js';
import { castPrimitive } from './cast.js';
import { clipPrimitive } from './clip.js';
import { concatPrimitive } from './concat.js';
import { divPrimitive } from './div.js';
import { equalPrimitive } from './equal.js';
import { erfPrimitive } from './erf.js';
import { expPrimitive } from './exp.js';
import { expandPrimitive } from './expand.js';
import { gatherPrimitive } from './gather.js';
import { greaterPrimitive } from './greater.js';
import { lessPrimitive } from './less.js';
import { logPrimitive } from './log.js';
import { logSoftmaxPrimitive } from './log-softmax.js';
import { matMulPrimitive } from './mat-mul.js';
import { maxPrimitive } from './max.js';
import { minPrimitive } from './min.js';
import { mulPrimitive } from './mul.js';
import { negPrimitive } from './neg.js';
import { padPrimitive } from './pad.js';
import { powPrimitive } from './pow.js';
import type { Primitive } from './primitive.js';
import { randomNormalPrimitive } from './random-normal.js';
import { randomUniformPrimitive } from './random-uniform.js';
import { reduceMaxPrimitive } from './reduce-max.js';
import { reduceMeanPrimitive } from './reduce-mean.js';
import { reduceSumPrimitive } from './reduce-sum.js';
import { reluPrimitive } from './relu.js';
import { reshapePrimitive } from './reshape.js';
import { scatterAddPrimitive } from './scatter-add.js';
import { sigmoidPrimitive } from './sigmoid.js';
import { signPrimitive } from './sign.js';
import { slicePrimitive } from './slice.js';
import { softmaxPrimitive } from './softmax.js';
import { sqrtPrimitive } from './sqrt.js';
import { subPrimitive } from './sub.js';
import { tanhPrimitive } from './tanh.js';
import { transposePrimitive } from './transpose.js';
import { wherePrimitive } from './where.js';

export const primitives = {
  Abs: absPrimitive,
  Add: addPrimitive,
  Cast: castPrimitive,
  Clip: clipPrimitive,
  Concat: concatPrimitive,
  Div: divPrimitive,
  Equal: equalPrimitive,
  Erf: erfPrimitive,
  Exp: expPrimitive,
  Expand: expandPrimitive,
  Gather: gatherPrimitive,
  Greater: greaterPrimitive,
  Less: lessPrimitive,
  Log: logPrimitive,
  LogSoftmax: logSoftmaxPrimitive,
  MatMul: matMulPrimitive,
  Max: maxPrimitive,
  Min: minPrimitive,
  Mul: mulPrimitive,
  Neg: negPrimitive,
  Pad: padPrimitive,
  Pow: powPrimitive,
  RandomNormal: randomNormalPrimitive,
  RandomUniform: randomUniformPrimitive,
  ReduceMax: reduceMaxPrimitive,
  ReduceMean: reduceMeanPrimitive,
  ReduceSum: reduceSumPrimitive,
  Relu: reluPrimitive,
  Reshape: reshapePrimitive,
  ScatterAdd: scatterAddPrimitive,
  Sigmoid: sigmoidPrimitive,
  Sign: signPrimitive,
  Slice: slicePrimitive,
  Softmax: softmaxPrimitive,
  Sqrt: sqrtPrimitive,
  Sub: subPrimitive,
  Tanh: tanhPrimitive,
  Transpose: transposePrimitive,
  Where: wherePrimitive,
} as const;

export type Primitives = typeof primitives;
export type OpName = keyof Primitives;
export type AttrsOf<K extends OpName> = Primitives[K] extends Primitive<string, infer A> ? A : never;

export const OP_NAMES = Object.keys(primitives) as OpName[];

export function isOpName(name: string): name is OpName {
  return Object.prototype.hasOwnProperty.call(primitives, name);
}
