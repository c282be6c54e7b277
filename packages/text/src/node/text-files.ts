// The Node implementation of the TextFiles port: how a tokenizer plugin opened by name
// (`hf:PATH`) reads its file from the local file system.
import { readFile } from 'node:fs/promises';
import { type TextFiles, TokenizerError } from '@ganglion/core';

/** Reads files from the local file system; a missing or unreadable one is a TokenizerError naming it. */
export const nodeTextFiles: TextFiles = {
  async readText(path) {
    try {
      return await readFile(path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new TokenizerError(`cannot read "${path}": ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  },
};
