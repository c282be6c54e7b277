// The ONNX protobuf schema (onnx-proto: static protobufjs code generated from onnx.proto) and the
// small conversions between Ganglion's dtypes/values and ONNX's TensorProto and AttributeProto.
import type { DType, OnnxAttribute } from '@ganglion/core';
import { ExportError } from '@ganglion/core';
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type IModelProto = onnxProto.onnx.IModelProto;
export type INodeProto = onnxProto.onnx.INodeProto;
export type ITensorProto = onnxProto.onnx.ITensorProto;
export type IValueInfoProto = onnxProto.onnx.IValueInfoProto;
export type IAttributeProto = onnxProto.onnx.IAttributeProto;

/** ONNX element types (TensorProto.DataType) Ganglion reads or writes. */
export const ElemType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  DOUBLE: 11,
} as const;
export type ElemType = (typeof ElemType)[keyof typeof ElemType];

export function elemTypeOf(dtype: DType): ElemType {
  return dtype === 'float32' ? ElemType.FLOAT : dtype === 'int32' ? ElemType.INT32 : ElemType.BOOL;
}

/** protobufjs decodes int64 as a Long (when the `long` package is present) or a number. */
export function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** Row-major values as a TensorProto's raw_data (little-endian, as ONNX requires). */
function rawData(values: ArrayLike<number>, elemType: ElemType): Uint8Array {
  const n = values.length;
  switch (elemType) {
    case ElemType.FLOAT:
      return bytesOf(Float32Array.from(values));
    case ElemType.INT32:
      return bytesOf(Int32Array.from(values));
    case ElemType.INT64:
      return bytesOf(BigInt64Array.from(Array.from({ length: n }, (_, i) => BigInt(Math.trunc(values[i])))));
    case ElemType.BOOL:
    case ElemType.UINT8:
      return Uint8Array.from(values, (v) => (elemType === ElemType.BOOL ? (v !== 0 ? 1 : 0) : v));
    case ElemType.DOUBLE:
      return bytesOf(Float64Array.from(values));
    default:
      throw new ExportError(`cannot write ONNX element type ${elemType}`);
  }
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  // Typed arrays are little-endian on every platform Node runs on.
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}

export function tensorProto(
  name: string,
  values: ArrayLike<number>,
  elemType: ElemType,
  dims: readonly number[],
): ITensorProto {
  return { name, dataType: elemType, dims: [...dims], rawData: rawData(values, elemType) };
}

/** The values of a TensorProto as numbers (raw_data or the typed fields). */
export function tensorValues(t: ITensorProto): {
  elemType: number;
  dims: number[];
  values: Float64Array | Float32Array | Int32Array | Uint8Array;
} {
  const dims = (t.dims ?? []).map(toNumber);
  const elemType = t.dataType ?? 0;
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const view = (Ctor: { new (b: ArrayBuffer): ArrayBufferView }) => {
    // A fresh, aligned buffer of exactly these bytes: `raw` may be a Node Buffer view into a larger
    // pool (slice() does not copy a Buffer), at any byte offset.
    const copy = new Uint8Array(raw!.length);
    copy.set(raw!);
    return new Ctor(copy.buffer);
  };
  switch (elemType) {
    case ElemType.FLOAT:
      return {
        elemType,
        dims,
        values: raw ? (view(Float32Array) as Float32Array) : Float32Array.from(t.floatData ?? []),
      };
    case ElemType.DOUBLE:
      return {
        elemType,
        dims,
        values: raw ? (view(Float64Array) as Float64Array) : Float64Array.from(t.doubleData ?? []),
      };
    case ElemType.INT32:
      return { elemType, dims, values: raw ? (view(Int32Array) as Int32Array) : Int32Array.from(t.int32Data ?? []) };
    case ElemType.INT64: {
      const src = raw ? Array.from(view(BigInt64Array) as BigInt64Array, Number) : (t.int64Data ?? []).map(toNumber);
      return { elemType, dims, values: Float64Array.from(src) };
    }
    case ElemType.BOOL:
    case ElemType.UINT8:
      return { elemType, dims, values: raw ? raw.slice() : Uint8Array.from(t.int32Data ?? []) };
    default:
      throw new ExportError(
        `tensor "${t.name}": ONNX element type ${elemType} is not supported (float, double, int32, int64, bool, uint8 are)`,
      );
  }
}

const AttrType = onnx.AttributeProto.AttributeType;

export function attributeProto(name: string, a: OnnxAttribute): IAttributeProto {
  switch (a.type) {
    case 'int':
      return { name, type: AttrType.INT, i: a.value };
    case 'float':
      return { name, type: AttrType.FLOAT, f: a.value };
    case 'string':
      return { name, type: AttrType.STRING, s: new TextEncoder().encode(a.value) };
    case 'ints':
      return { name, type: AttrType.INTS, ints: [...a.value] };
    case 'floats':
      return { name, type: AttrType.FLOATS, floats: [...a.value] };
    case 'strings':
      return { name, type: AttrType.STRINGS, strings: a.value.map((s) => new TextEncoder().encode(s)) };
  }
}

/** An attribute's value as read back: numbers, strings, lists, or a TensorProto. */
export type AttributeValue = number | string | number[] | string[] | ITensorProto;

export function attributeValue(a: IAttributeProto): AttributeValue {
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  switch (a.type) {
    case AttrType.INT:
      return toNumber(a.i);
    case AttrType.FLOAT:
      return a.f ?? 0;
    case AttrType.STRING:
      return dec(a.s ?? new Uint8Array());
    case AttrType.INTS:
      return (a.ints ?? []).map(toNumber);
    case AttrType.FLOATS:
      return [...(a.floats ?? [])];
    case AttrType.STRINGS:
      return (a.strings ?? []).map(dec);
    case AttrType.TENSOR:
      return a.t!;
    default:
      throw new ExportError(`attribute "${a.name}": ONNX attribute type ${a.type} is not supported`);
  }
}
