// Row blocks: a large tensor of a training step handled a block of rows (its first dimension) at a
// time, so no single buffer the step allocates is large. onnxruntime-node returns every output as a
// new JS copy, and glibc maps an allocation above its mmap threshold (32 MiB under the CLI's malloc
// tunables) fresh each time, faulting in every page again. For GPT-2's [50257, 768] token table
// (147 MiB) that was a new mapping for its gradient, its new weights and both Adam slots (and every
// intermediate of the update) each step: 265K page faults and about half of a 5.2 s step here.
// Blocks below the threshold reuse freed heap memory. Split mode uses it twice:
//   - the gradients graph returns such a gradient as one output per block (trace-train-step.ts);
//   - apply updates such a parameter a block at a time, when the optimizer and the clipping
//     policy are elementwise (compiled-trainer.ts).
//
//   rowBlocks([50257, 768], BLOCK_BYTES)  // ten blocks: 5026 rows each, the last 5023

/** Rows `start` to `start + count` of a tensor (its first dimension). */
export interface RowBlock {
  readonly start: number;
  readonly count: number;
}

/** Tensors above this many bytes are cut into blocks of at most this size (float32). */
export const BLOCK_BYTES = 16 * 2 ** 20;

/**
 * Near-equal blocks of at most `limit` bytes (float32) covering a tensor of `shape`, or undefined
 * when it fits in one or has fewer than two rows.
 */
export function rowBlocks(shape: readonly number[], limit: number): RowBlock[] | undefined {
  const rows = shape[0] ?? 1;
  const size = shape.reduce((a, b) => a * b, 1);
  if (size * 4 <= limit || rows < 2) return undefined;
  const per = Math.max(1, Math.floor(limit / ((size / rows) * 4)));
  const count = Math.ceil(rows / Math.ceil(rows / per));
  const blocks: RowBlock[] = [];
  for (let start = 0; start < rows; start += count) blocks.push({ start, count: Math.min(count, rows - start) });
  return blocks;
}
