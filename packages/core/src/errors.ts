// Typed errors. Every error names what it is about (op, node, port, file) and what was expected,
// so a user can act on it without reading a stack trace.

/** Base class of every error Ganglion throws on purpose. */
export class GanglionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A tensor's shape does not fit what an op or port expects. */
export class ShapeError extends GanglionError {}

/** A tensor's dtype does not fit what an op or port expects. */
export class DTypeError extends GanglionError {}

/** An op attribute is missing, malformed or not finite. */
export class AttributeError extends GanglionError {}

/** An index (Gather, ScatterAdd) lies outside the axis it indexes. */
export class IndexError extends GanglionError {}

/** A backend cannot run something: no lowering, no kernel, tensors from two backends, a disposed tensor. */
export class BackendError extends GanglionError {}

/** A backend has no kernel for a primitive (e.g. a tfjs kernel missing on wasm). */
export class UnsupportedOpError extends BackendError {
  constructor(
    readonly op: string,
    readonly backend: string,
    detail: string,
  ) {
    super(`${op}: not supported on backend "${backend}": ${detail}`);
  }
}

/** Autodiff misuse: a non-scalar loss without an output gradient, a gradient of the wrong shape. */
export class GradientError extends GanglionError {}

/** A graph cannot be built: cycles, unconnected ports, disagreeing shapes, duplicate names. */
export class GraphError extends GanglionError {}

/** A checkpoint cannot be written or read. */
export class CheckpointError extends GanglionError {}

/** A graph cannot be exported. */
export class ExportError extends GanglionError {}

/** A configuration value (optimizer option, CLI flag, schedule setting) is invalid. */
export class ConfigError extends GanglionError {}

/** Training cannot go on: a non-finite loss or gradient, a dataset that yields nothing. */
export class TrainingError extends GanglionError {}
