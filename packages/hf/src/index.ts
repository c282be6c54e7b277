// @ganglion/hf: Hugging Face model folders as Ganglion graphs (see import-hf.ts for the name map).
export { type HfModelConfig, ImportError, SUPPORTED_ARCHITECTURES, parseHfConfig } from './config.js';
export { type ImportedModel, graphOf, importHf } from './import-hf.js';
