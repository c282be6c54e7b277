// Fused apply: an apply graph (clipping + an elementwise optimizer update, traced from the plugins)
// lowered to one WebAssembly SIMD loop per parameter, so the update reads the weights, gradient
// and slots once and writes the new ones once. onnxruntime runs the same graph one op at a time,
// each op a pass over memory with its own output (AdamW: about 15 passes); at 85M parameters that
// was 590 ms a step, where memory moves the 7 arrays AdamW must touch in about 60 ms here.
//
// Only elementwise graphs are lowered: every value is a scalar (a step scalar, the gradient norm,
// a one-element constant, or an op of those) or has the element count of the parameter it
// updates; the ops are the float32 arithmetic below. Scalars are computed in JS, rounded to float32
// after every op; each parameter's values are computed four lanes at a time in float32. Both round
// every op as onnxruntime does, so the results are the same bits. A graph with anything else (a
// ReduceSum of per-tensor clipping, a broadcast of a row) is not lowered, and onnxruntime runs it.
//
// The loop works on blocks of CHUNK elements in the module's own memory: a block's inputs are
// copied in, the loop runs, its outputs are copied out to where the caller wants them (the held
// weights and slots, in place). Blocks stay in cache, so the copies cost about what the one pass
// over the held arrays costs anyway.
//
//   const kernel = fuseApply(model.bytes);          // undefined: not elementwise
//   kernel?.run(arrays, scalars);                    // arrays: input and output name → Float32Array
import { onnx, type INodeProto, tensorValues } from '../proto.js';

/** Elements per block (64 KiB per array: AdamW's 7 arrays are 448 KiB, within L2). */
const CHUNK = 16384;

/** The float32 ops a fused apply computes: [arity, SIMD opcode, the same op on one float32]. */
const OPS: Record<string, readonly [number, number, (...x: number[]) => number]> = {
  Add: [2, 0xe4, (a, b) => a + b],
  Sub: [2, 0xe5, (a, b) => a - b],
  Mul: [2, 0xe6, (a, b) => a * b],
  Div: [2, 0xe7, (a, b) => a / b],
  Min: [2, 0xe8, Math.min],
  Max: [2, 0xe9, Math.max],
  Sqrt: [1, 0xe3, Math.sqrt],
  Neg: [1, 0xe1, (a) => -a],
  Abs: [1, 0xe0, Math.abs],
};

export interface FusedApply {
  /**
   * One update: `arrays` has every full-sized input (read) and output (written; it may be the
   * array of an input, for an update in place), `scalars` every scalar input, by graph name.
   */
  run(arrays: ReadonlyMap<string, Float32Array>, scalars: ReadonlyMap<string, number>): void;
  /** The outputs it writes (every output of the graph). */
  readonly outputs: readonly string[];
}

/** The part of the WebAssembly API used here (this package compiles without the DOM's types). */
interface Wasm {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

interface Part {
  /** Element count. */
  size: number;
  inputs: string[];
  outputs: string[];
  nodes: INodeProto[];
  /** Scalar values the loop reads (indices into the scalar table). */
  scalars: number[];
}

/**
 * The apply graph in `bytes` as a fused kernel, or undefined when it is not elementwise (or this
 * runtime has no WebAssembly SIMD).
 */
export function fuseApply(bytes: Uint8Array): FusedApply | undefined {
  const wasm = (globalThis as { WebAssembly?: Wasm }).WebAssembly;
  if (!wasm) return;
  const graph = onnx.ModelProto.decode(bytes).graph;
  if (!graph) return;
  const sizeOf = new Map<string, number>();
  for (const v of graph.input ?? []) {
    const dims = v.type?.tensorType?.shape?.dim ?? [];
    if (v.type?.tensorType?.elemType !== 1 || dims.some((d) => d.dimValue == null)) return;
    sizeOf.set(
      v.name!,
      dims.reduce((a, d) => a * Number(d.dimValue), 1),
    );
  }
  // Scalars: a table of values, filled per run from constants, scalar inputs and scalar nodes.
  const scalarIndex = new Map<string, number>();
  const constants: [number, number][] = [];
  const scalarInputs: string[] = [];
  for (const t of graph.initializer ?? []) {
    const { elemType, values } = tensorValues(t);
    if (elemType !== 1 || values.length !== 1) return;
    scalarIndex.set(t.name!, scalarIndex.size);
    constants.push([scalarIndex.size - 1, values[0]]);
  }
  for (const [name, size] of sizeOf)
    if (size === 1 && !scalarIndex.has(name)) {
      scalarIndex.set(name, scalarIndex.size);
      scalarInputs.push(name);
    }
  const scalarNodes: { node: INodeProto; args: number[]; out: number }[] = [];
  const fullNodes: INodeProto[] = [];
  for (const node of graph.node ?? []) {
    const op = node.opType ?? '';
    const ins = node.input ?? [];
    // Clip(x, min, max) with scalar bounds is max then min; no other op has attributes or optional inputs.
    const clip = op === 'Clip' && ins.length === 3 && scalarIndex.has(ins[1]) && scalarIndex.has(ins[2]);
    if (!clip && ins.length !== OPS[op]?.[0]) return;
    if ((node.output ?? []).length !== 1 || node.domain || (node.attribute ?? []).length) return;
    if (ins.every((v) => scalarIndex.has(v))) {
      scalarIndex.set(node.output![0], scalarIndex.size);
      scalarNodes.push({ node, args: ins.map((v) => scalarIndex.get(v)!), out: scalarIndex.size - 1 });
      continue;
    }
    const sizes = new Set(ins.filter((v) => !scalarIndex.has(v)).map((v) => sizeOf.get(v)));
    if (sizes.size !== 1 || sizes.has(undefined)) return;
    sizeOf.set(node.output![0], [...sizes][0]!);
    fullNodes.push(node);
  }
  const outputs = (graph.output ?? []).map((o) => o.name!);
  const produced = new Set(fullNodes.map((n) => n.output![0]));
  if (!outputs.every((o) => produced.has(o))) return;
  const parts = partsOf(fullNodes, outputs, scalarIndex, sizeOf);
  const module = moduleOf(parts, scalarIndex);
  if (!wasm.validate(module)) return;
  const { exports } = new wasm.Instance(new wasm.Module(module));
  const memory = new Float32Array((exports.memory as { buffer: ArrayBuffer }).buffer);
  const scalarOps = scalarNodes.map(({ node, args, out }) => {
    const op = node.opType!;
    const f = op === 'Clip' ? (x: number, lo: number, hi: number) => Math.min(Math.max(x, lo), hi) : OPS[op][2];
    return { f, args, out };
  });
  const table = new Float64Array(scalarIndex.size);
  return {
    outputs,
    run(arrays, scalars) {
      for (const [i, v] of constants) table[i] = v;
      for (const name of scalarInputs) {
        const v = scalars.get(name);
        if (v === undefined) throw new Error(`fused apply: no value for scalar input "${name}"`);
        table[scalarIndex.get(name)!] = Math.fround(v);
      }
      for (const { f, args, out } of scalarOps) table[out] = Math.fround(f(...args.map((i) => table[i])));
      parts.forEach((part, k) => {
        const fn = exports[`part${k}`] as (n: number, ...s: number[]) => void;
        const ins = part.inputs.map((name) => need(arrays, name, part.size));
        const outs = part.outputs.map((name) => need(arrays, name, part.size));
        const args = part.scalars.map((i) => table[i]);
        for (let start = 0; start < part.size; start += CHUNK) {
          const len = Math.min(CHUNK, part.size - start);
          ins.forEach((a, j) => memory.set(a.subarray(start, start + len), j * CHUNK));
          fn(Math.ceil(len / 4), ...args);
          outs.forEach((a, j) => {
            const at = (ins.length + j) * CHUNK;
            a.set(memory.subarray(at, at + len), start);
          });
        }
      });
    },
  };
}

function need(arrays: ReadonlyMap<string, Float32Array>, name: string, size: number): Float32Array {
  const a = arrays.get(name);
  if (!a || a.length !== size)
    throw new Error(`fused apply: "${name}" needs ${size} values, got ${a ? a.length : 'none'}`);
  return a;
}

/** The full-sized nodes cut into independent parts (one per parameter, by shared values). */
function partsOf(
  nodes: INodeProto[],
  outputs: string[],
  scalarIndex: ReadonlyMap<string, number>,
  sizeOf: ReadonlyMap<string, number>,
): Part[] {
  const root = new Map<string, string>();
  const find = (v: string): string => {
    let r = v;
    while (root.has(r) && root.get(r) !== r) r = root.get(r)!;
    root.set(v, r);
    return r;
  };
  for (const n of nodes) {
    const full = [...(n.input ?? []).filter((v) => !scalarIndex.has(v)), n.output![0]];
    for (const v of full) if (!root.has(v)) root.set(v, v);
    for (const v of full.slice(1)) root.set(find(v), find(full[0]));
  }
  const parts = new Map<string, Part>();
  const partOf = (v: string): Part => {
    const r = find(v);
    let p = parts.get(r);
    if (!p) parts.set(r, (p = { size: sizeOf.get(v)!, inputs: [], outputs: [], nodes: [], scalars: [] }));
    return p;
  };
  const produced = new Set(nodes.map((n) => n.output![0]));
  for (const n of nodes) {
    const p = partOf(n.output![0]);
    p.nodes.push(n);
    for (const v of n.input ?? []) {
      if (scalarIndex.has(v)) {
        if (!p.scalars.includes(scalarIndex.get(v)!)) p.scalars.push(scalarIndex.get(v)!);
      } else if (!produced.has(v) && !p.inputs.includes(v)) p.inputs.push(v);
    }
  }
  for (const o of outputs) partOf(o).outputs.push(o);
  return [...parts.values()];
}

// WebAssembly binary encoding (just what the loops need).
const u32 = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const str = (s: string) => [...u32(s.length), ...new TextEncoder().encode(s)];
const vec = (items: number[][]) => [...u32(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [id, ...u32(body.length), ...body];
const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const simd = (op: number, ...imm: number[]) => [0xfd, ...u32(op), ...imm];

/**
 * A module with one memory (every part's blocks: inputs, then outputs, CHUNK floats each) and one
 * function per part, `part<k>(vectors, ...scalars)`: the loop over `vectors` groups of 4 lanes.
 */
function moduleOf(parts: Part[], scalarIndex: ReadonlyMap<string, number>): Uint8Array {
  const arrays = Math.max(1, ...parts.map((p) => p.inputs.length + p.outputs.length));
  const pages = Math.ceil((arrays * CHUNK * 4) / 65536);
  const types = parts.map((p) => [0x60, ...vec([[I32], ...p.scalars.map(() => [F32])]), ...vec([])]);
  const bodies = parts.map((p) => {
    // Locals: params (n, scalars), then $o and $end (i32), then one v128 per scalar splat, input and node.
    const nParams = 1 + p.scalars.length;
    const [o, end] = [nParams, nParams + 1];
    let next = nParams + 2;
    const local = new Map<string, number>();
    const splat = new Map<number, number>();
    for (const s of p.scalars) splat.set(s, next++);
    for (const v of p.inputs) local.set(v, next++);
    for (const n of p.nodes) local.set(n.output![0], next++);
    const code: number[] = [];
    p.scalars.forEach((s, i) => code.push(0x20, ...u32(1 + i), ...simd(0x13), 0x21, ...u32(splat.get(s)!)));
    code.push(0x41, 0, 0x21, ...u32(o)); // $o = 0
    code.push(0x20, 0, 0x41, 4, 0x74, 0x21, ...u32(end)); // $end = n << 4
    code.push(0x02, 0x40, 0x03, 0x40); // block loop
    code.push(0x20, ...u32(o), 0x20, ...u32(end), 0x4f, 0x0d, 1); // if $o >= $end break
    p.inputs.forEach((v, j) =>
      code.push(0x20, ...u32(o), ...simd(0x00, 4, ...u32(j * CHUNK * 4)), 0x21, ...u32(local.get(v)!)),
    );
    const get = (v: string) => {
      const s = scalarIndex.get(v);
      return s !== undefined ? [0x20, ...u32(splat.get(s)!)] : [0x20, ...u32(local.get(v)!)];
    };
    for (const n of p.nodes) {
      const ins = n.input ?? [];
      if (n.opType === 'Clip') code.push(...get(ins[0]), ...get(ins[1]), ...simd(0xe9), ...get(ins[2]), ...simd(0xe8));
      else code.push(...ins.flatMap(get), ...simd(OPS[n.opType!][1]));
      code.push(0x21, ...u32(local.get(n.output![0])!));
    }
    p.outputs.forEach((v, j) =>
      code.push(0x20, ...u32(o), ...get(v), ...simd(0x0b, 4, ...u32((p.inputs.length + j) * CHUNK * 4))),
    );
    code.push(0x20, ...u32(o), 0x41, 16, 0x6a, 0x21, ...u32(o)); // $o += 16
    code.push(0x0c, 0, 0x0b, 0x0b, 0x0b); // br loop; end loop; end block; end
    const locals = vec([
      [...u32(2), I32],
      [...u32(next - nParams - 2), V128],
    ]);
    const body = [...locals, ...code];
    return [...u32(body.length), ...body];
  });
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(3, vec(parts.map((_, k) => u32(k)))),
    ...section(5, vec([[0x00, ...u32(pages)]])),
    ...section(7, vec([[...str('memory'), 0x02, 0], ...parts.map((_, k) => [...str(`part${k}`), 0x00, ...u32(k)])])),
    ...section(10, [...u32(bodies.length), ...bodies.flat()]),
  ]);
}
