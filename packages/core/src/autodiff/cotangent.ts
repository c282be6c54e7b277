// The gradient of one tensor while a tape is replayed: a dense sum, plus the pieces that windowed
// ops (Slice) left, each the gradient of a window of the tensor along one axis. An unrolled
// recurrence slices every time step out of one [batch, T, F] projection; summing the T zero-padded
// step gradients one by one is O(T²) work and memory. Kept as pieces, the gradient is one Concat
// per set of disjoint pieces (zeros in the gaps), made when the tensor's gradient is first read.
// Exact: each element of such a Concat is one piece's value.
import { scalar } from '../creation.js';
import type { Dim } from '../shape/dim.js';
import type { Tensor } from '../tensor.js';
import { add } from '../ops/add.js';
import { concat } from '../ops/concat.js';
import { expand } from '../ops/expand.js';
import { pad } from '../ops/pad.js';

/** The gradient of the window [begin, begin + grad.shape[axis]) along `axis`, other axes whole. */
interface Piece {
  readonly axis: number;
  readonly begin: number;
  readonly size: number;
  readonly grad: Tensor;
}

export class Cotangent {
  private dense: Tensor | undefined;
  private pieces: Piece[] = [];

  constructor(private readonly shape: readonly Dim[]) {}

  /** Add a gradient of the tensor's full shape. */
  add(g: Tensor): void {
    this.dense = this.dense ? add(this.dense, g) : g;
  }

  /** Add `g`, the gradient of the window starting at `begin` along `axis` (other axes whole). */
  addWindow(axis: number, begin: number, g: Tensor): void {
    const size = g.shape[axis] as number;
    if (size > 0) this.pieces.push({ axis, begin, size, grad: g });
  }

  /** The summed gradient (undefined: nothing was added). Joins pending pieces first. */
  value(): Tensor | undefined {
    const pieces = this.pieces;
    this.pieces = [];
    const axes = [...new Set(pieces.map((p) => p.axis))];
    for (const axis of axes) {
      for (const layer of disjointLayers(pieces.filter((p) => p.axis === axis))) this.add(this.join(axis, layer));
    }
    return this.dense;
  }

  /** Pieces sorted and disjoint along `axis` as one tensor of the full shape. */
  private join(axis: number, layer: readonly Piece[]): Tensor {
    const total = this.shape[axis] as number;
    if (layer.length === 1) {
      // One piece: a Pad, as Slice's own VJP gives (and nothing at all when it covers the axis).
      const { begin, size, grad } = layer[0];
      if (begin === 0 && size === total) return grad;
      const pads = this.shape.flatMap(() => [0, 0]);
      pads[axis] = begin;
      pads[axis + this.shape.length] = total - begin - size;
      return pad(grad, pads);
    }
    const parts: Tensor[] = [];
    const zeros = (n: number, like: Tensor) =>
      expand(
        scalar(0, like.dtype, like.backend),
        like.shape.map((d, a) => (a === axis ? n : d)),
      );
    let at = 0;
    for (const p of layer) {
      if (p.begin > at) parts.push(zeros(p.begin - at, p.grad));
      parts.push(p.grad);
      at = p.begin + p.size;
    }
    if (at < total) parts.push(zeros(total - at, layer[0].grad));
    return concat(parts, axis);
  }
}

/** Split pieces of one axis into as few sets of non-overlapping pieces as possible, each sorted. */
function disjointLayers(pieces: readonly Piece[]): Piece[][] {
  const layers: Piece[][] = [];
  for (const p of [...pieces].sort((a, b) => a.begin - b.begin)) {
    const free = layers.find((l) => {
      const last = l[l.length - 1];
      return last.begin + last.size <= p.begin;
    });
    if (free) free.push(p);
    else layers.push([p]);
  }
  return layers;
}
