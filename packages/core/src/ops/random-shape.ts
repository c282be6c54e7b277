// The shape attribute check shared by RandomUniform and RandomNormal.
import { AttributeError } from '../errors.js';

export function checkShape(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new AttributeError(`${op}: attribute "shape" must be a list of sizes >= 0, got ${JSON.stringify(shape)}`);
  }
}
