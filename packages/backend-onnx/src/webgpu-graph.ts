// A model as onnxruntime-web's WebGPU execution provider can run it. Its Concat kernel binds every
// input as a storage buffer, plus one for the output, and WebGPU caps storage buffers per shader
// stage: 8 by the specification's default, and SwiftShader's maximum. A wider Concat (a traced
// step joins the T per-step gradients of an unrolled recurrence in one) fails validation, and the
// run goes on with garbage in its output. Each Concat of more than MAX_CONCAT_INPUTS inputs is
// rewritten into a tree of Concats along the same axis: the same values, in the same order.
import type onnxProto from 'onnx-proto';
import { type INodeProto, onnx } from './proto.js';

/** Inputs one WebGPU Concat may take: 8 storage buffers a stage, less the output's. */
export const MAX_CONCAT_INPUTS = 7;

type IGraphProto = onnxProto.onnx.IGraphProto;

/** Split every Concat of `graph` wider than `maxInputs` into a tree of Concats, in place; how many were split. */
export function splitWideConcats(graph: IGraphProto, maxInputs = MAX_CONCAT_INPUTS): number {
  const names = new Set<string>();
  for (const n of graph.node ?? []) for (const o of n.output ?? []) names.add(o);
  for (const v of [...(graph.input ?? []), ...(graph.initializer ?? [])]) names.add(v.name!);
  const fresh = (base: string) => {
    let k = 0;
    while (names.has(`${base}/part${k}`)) k++;
    names.add(`${base}/part${k}`);
    return `${base}/part${k}`;
  };
  let split = 0;
  graph.node = (graph.node ?? []).flatMap((n) => {
    if (n.opType !== 'Concat' || (n.input?.length ?? 0) <= maxInputs) return [n];
    split++;
    const out = n.output![0];
    const emitted: INodeProto[] = [];
    let level = [...n.input!];
    while (level.length > maxInputs) {
      const next: string[] = [];
      for (let i = 0; i < level.length; i += maxInputs) {
        const group = level.slice(i, i + maxInputs);
        if (group.length === 1) {
          next.push(group[0]);
          continue;
        }
        const part = fresh(out);
        emitted.push({ ...n, name: part, input: group, output: [part] });
        next.push(part);
      }
      level = next;
    }
    emitted.push({ ...n, input: level });
    return emitted;
  });
  return split;
}

/** `model` with its wide Concats split (the same bytes when none is). */
export function forWebGpu(model: Uint8Array): Uint8Array {
  const proto = onnx.ModelProto.decode(model);
  return splitWideConcats(proto.graph!) > 0 ? onnx.ModelProto.encode(proto).finish() : model;
}
