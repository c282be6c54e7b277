// The dtypes a Ganglion tensor can have. The reference backend computes every dtype in float64;
// the tag says what the value means (and what a real backend stores).

export type DType = 'float32' | 'int32' | 'bool';

export const DTYPES: readonly DType[] = ['float32', 'int32', 'bool'];

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32';
}

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}
