// A forward-only onnxruntime contender: the model file is written by another process (PyTorch's
// script, or Ganglion's export-child.ts), and this process only loads it into an onnxruntime-node
// session, as a deployment would. ort-pytorch and ganglion-onnx-export share this, so their
// session options and their measured processes are the same but for the file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchError, type Session } from '../contender.js';
import { type Ort, loadOrt } from '../optional-import.js';
import type { Workload } from '../workload.js';

export interface OrtFileModel {
  /** The file's name in a temporary folder. */
  readonly file: string;
  /** Write the model to `path` (in another process). */
  write(path: string): void;
  /** The inputs of one forward pass. */
  feeds(ort: Ort): Record<string, unknown>;
  readonly notes: readonly string[];
}

export async function ortFileSession(w: Workload, m: OrtFileModel): Promise<Session> {
  const ort = await loadOrt();
  if (typeof ort === 'string') throw new BenchError(ort);
  const dir = mkdtempSync(join(tmpdir(), 'ganglion-bench-'));
  try {
    const path = join(dir, m.file);
    m.write(path);
    const session = await ort.InferenceSession.create(path, { intraOpNumThreads: w.threads, interOpNumThreads: 1 });
    const feeds = m.feeds(ort);
    return {
      forward: async () => (await session.run(feeds)).logits.data,
      notes: m.notes,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
