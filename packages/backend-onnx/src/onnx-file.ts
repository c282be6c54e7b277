// What an .onnx file claims to be, read before onnxruntime sees it: whether it is an ONNX model at
// all, its inputs and outputs with their shapes, its metadata_props, and every tensor that keeps its
// values in an external file (data_location EXTERNAL), wherever it sits: initializers, sparse
// initializers, Constant-like attributes, subgraphs (If/Loop/Scan bodies), functions and training
// graphs. onnxruntime resolves external data against the folder it was told the model lives in (the
// current directory when it gets bytes), so a caller decides from this list whether to load at all.
import { GraphError, type Shape } from '@ganglion/core';
import type onnxProto from 'onnx-proto';
import { type IModelProto, type INodeProto, type ITensorProto, type IValueInfoProto, onnx, toNumber } from './proto.js';

type IGraphProto = onnxProto.onnx.IGraphProto;

/** TensorProto.DataLocation.EXTERNAL: the tensor's bytes live in another file. */
const EXTERNAL = 1;

export interface OnnxPort {
  readonly name: string;
  /** Fixed dims as numbers, named ones (dim_param) as strings, unknown ones as '?'. */
  readonly shape: Shape;
}

export interface ExternalTensor {
  /** The tensor's name (or where it sits, for an unnamed attribute tensor). */
  readonly tensor: string;
  /** The `location` entry of its external_data, as written in the file. */
  readonly location: string;
}

export interface OnnxFileInfo {
  readonly irVersion: number;
  readonly inputs: readonly OnnxPort[];
  readonly outputs: readonly OnnxPort[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly externalData: readonly ExternalTensor[];
}

/**
 * Decode a model's bytes and describe it; `source` names it in errors. Throws a GraphError "... is
 * not an ONNX model" for bytes that do not decode, or decode to no graph (an empty file does).
 *
 *   const info = describeOnnxModel(readFileSync(path), `"${path}"`);
 *   if (info.externalData.length > 0) ...
 */
export function describeOnnxModel(bytes: Uint8Array, source: string): OnnxFileInfo {
  let model: IModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new GraphError(`${source} is not an ONNX model (${e instanceof Error ? e.message : String(e)})`);
  }
  const irVersion = toNumber(model.irVersion);
  if (!model.graph || !(irVersion > 0))
    throw new GraphError(`${source} is not an ONNX model (${model.graph ? 'no ir_version' : 'no graph'})`);
  return {
    irVersion,
    inputs: (model.graph.input ?? []).map(port),
    outputs: (model.graph.output ?? []).map(port),
    metadata: Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? ''])),
    externalData: externalTensors(model),
  };
}

function port(v: IValueInfoProto): OnnxPort {
  const dims = v.type?.tensorType?.shape?.dim ?? [];
  return {
    name: v.name ?? '',
    shape: dims.map((d) =>
      d.dimValue !== undefined && d.dimValue !== null ? toNumber(d.dimValue) : d.dimParam ? d.dimParam : '?',
    ),
  };
}

function externalTensors(model: IModelProto): ExternalTensor[] {
  const found: ExternalTensor[] = [];
  const tensor = (t: ITensorProto | null | undefined, where: string) => {
    if (!t || t.dataLocation !== EXTERNAL) return;
    const location = (t.externalData ?? []).find((e) => e.key === 'location')?.value ?? '';
    found.push({ tensor: t.name || where, location });
  };
  const nodes = (list: readonly INodeProto[] | null | undefined) => {
    for (const n of list ?? []) {
      for (const a of n.attribute ?? []) {
        const where = `attribute "${a.name}" of node "${n.name ?? n.opType}"`;
        tensor(a.t, where);
        for (const t of a.tensors ?? []) tensor(t, where);
        for (const s of [a.sparseTensor, ...(a.sparseTensors ?? [])]) {
          tensor(s?.values, where);
          tensor(s?.indices, where);
        }
        graph(a.g);
        for (const g of a.graphs ?? []) graph(g);
      }
    }
  };
  const graph = (g: IGraphProto | null | undefined) => {
    if (!g) return;
    for (const t of g.initializer ?? []) tensor(t, 'an initializer');
    for (const s of g.sparseInitializer ?? []) {
      tensor(s.values, 'a sparse initializer');
      tensor(s.indices, 'a sparse initializer');
    }
    nodes(g.node);
  };
  graph(model.graph);
  for (const f of model.functions ?? []) nodes(f.node);
  for (const t of model.trainingInfo ?? []) {
    graph(t.initialization);
    graph(t.algorithm);
  }
  return found;
}
