// Checkpoints in a folder on disk: `saveCheckpoint` writes the bytes of `checkpointFiles` as one
// generation of the folder (checkpoint-dir.ts explains how, what a crash at each moment leaves,
// and the lock), replacing only the checkpoint's own files; everything else in the folder is the
// user's. `loadCheckpoint` reads one complete save (checking meta.json's manifest) and hands the
// bytes to `decodeCheckpoint`, the same code that loads a checkpoint in a browser.

import { resolve as resolvePath } from 'node:path';
import {
  CHECKPOINT_FILES,
  type CheckpointFiles,
  type CheckpointState,
  type CheckpointStore,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
  checkpointFiles,
  decodeCheckpoint,
} from '../checkpoint/checkpoint.js';
import { CheckpointError } from '../errors.js';
import { type CommitHooks, checkpointDirStatus, readGeneration, writeGeneration } from './checkpoint-dir.js';

export interface SaveCheckpointOptions {
  /** @internal Tests simulate a crash with a hook that throws at a stage of the commit. */
  readonly hooks?: CommitHooks;
}

/** Turn a file-system error into a CheckpointError; anything else (a test hook's crash) passes. */
function fsError(e: unknown, what: string): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? new CheckpointError(`${what}: ${(e as Error).message}`) : e;
}

/**
 * A folder on disk as a checkpoint store: each write is one atomic save (see checkpoint-dir.ts);
 * a folder Ganglion did not write is refused.
 *
 *   trainer.fit(runtime, data, { checkpoint: { store: checkpointFolder('runs/lm/ckpt'), everySteps: 100 } });
 */
export function checkpointFolder(dir: string, options: SaveCheckpointOptions = {}): CheckpointStore {
  const target = resolvePath(dir);
  return {
    location: target,
    async write(files: CheckpointFiles): Promise<string> {
      const status = await checkpointDirStatus(target).catch((e: unknown) => {
        throw new CheckpointError(`cannot save checkpoint ${(e as Error).message}`);
      });
      if (status.kind === 'foreign')
        throw new CheckpointError(
          `cannot save checkpoint ${target}: the folder is not a Ganglion checkpoint (${status.reason}); refusing to write into it`,
        );
      try {
        await writeGeneration(target, files, options.hooks);
      } catch (e) {
        throw fsError(e, `cannot save checkpoint ${target}`);
      }
      return target;
    },
  };
}

/**
 * Save a checkpoint to `dir`, replacing only the checkpoint's own files (see checkpoint-dir.ts);
 * refuses a folder Ganglion did not write. Returns the absolute path.
 *
 *   await saveCheckpoint('runs/lm/ckpt', { graph, params: runtime.params, meta: { step, epoch, rng: rng.state } });
 */
export async function saveCheckpoint(
  dir: string,
  state: CheckpointState,
  options: SaveCheckpointOptions = {},
): Promise<string> {
  const store = checkpointFolder(dir, options);
  return store.write(checkpointFiles(state, { name: store.location }));
}

/**
 * Load a checkpoint: rebuild the graph, check the weights against it, put them on `backend`.
 *
 *   const { graph, params, meta } = await loadCheckpoint('runs/lm/ckpt', { resolve: (kind) => registry.get(kind) });
 *   const runtime = new Runtime(graph, { params });
 */
export async function loadCheckpoint(dir: string, options: LoadCheckpointOptions): Promise<LoadedCheckpoint> {
  const read = await readGeneration(
    resolvePath(dir),
    [CHECKPOINT_FILES.graph, CHECKPOINT_FILES.weights, CHECKPOINT_FILES.optimizer],
    [CHECKPOINT_FILES.tokenizer],
  );
  const loaded = decodeCheckpoint(read, options);
  return read.recovered ? { ...loaded, recovered: read.recovered } : loaded;
}
