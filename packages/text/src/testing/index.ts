// @ganglion/text/testing: fixtures for tests and benchmarks (GPT-2's tokenizer.json, built from js-tiktoken's ranks).
export { gpt2TokenizerJSON } from './gpt2.js';

/** The error `f` throws (for checking its message); fails when it throws none. */
export function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}
