// @ganglion/core/node: what needs Node's file system. Checkpoint folders (atomic saves,
// generations, the lock) over the pure checkpoint bytes of `@ganglion/core`, and streamed reading
// of safetensors files and sharded Hugging Face model folders.
export { checkpointFolder, loadCheckpoint, saveCheckpoint } from './checkpoint-folder.js';
export type { SaveCheckpointOptions } from './checkpoint-folder.js';
export {
  type CheckpointDirStatus,
  type CheckpointLock,
  checkpointDirStatus,
  errnoCode,
  folderEntries,
  holdsFiles,
  isGanglionMeta,
  linkOrCopy,
  lockCheckpointDir,
  makeDirs,
  processRunning,
  recoverableDirectory,
  syncDirectory,
  writeFileAtomically,
} from './checkpoint-dir.js';
export {
  SAFETENSORS_INDEX_FILE,
  SAFETENSORS_MODEL_FILE,
  openSafetensors,
  openSafetensorsModel,
} from './safetensors-reader.js';
export type { SafetensorsReader, SafetensorsTensorInfo } from './safetensors-reader.js';
