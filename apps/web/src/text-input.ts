// The text a user gives the page, checked before any training: a file that is empty, not UTF-8
// text, or too large to hold is refused with a message naming it, and the page stays usable.

/** A problem with what the user gave; its message is shown in the page as it is. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

/** The most text the page holds in memory (the corpus, its token ids and the windows over them). */
const MAX_TEXT_BYTES = 32 * 1024 * 1024;

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/**
 * The text of `bytes` (a file named `name`, or the pasted text): UTF-8, not empty, no NUL bytes.
 *
 *   const text = decodeText('notes.txt', new Uint8Array(await file.arrayBuffer()));
 */
function decodeText(name: string, bytes: Uint8Array): string {
  if (bytes.length === 0) throw new InputError(`${name} is empty: give the page some text to learn from`);
  if (bytes.length > MAX_TEXT_BYTES)
    throw new InputError(`${name} is ${mb(bytes.length)}; the page trains on at most ${mb(MAX_TEXT_BYTES)} of text`);
  const nul = bytes.indexOf(0);
  let text: string;
  try {
    if (nul >= 0) throw new TypeError('NUL byte');
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InputError(
      `${name} is not UTF-8 text (a binary file?)${nul >= 0 ? `: it holds a NUL byte at offset ${nul}` : ''}; pick a plain-text file`,
    );
  }
  checkText(name, text);
  return text;
}

/** Refuse text with nothing to learn (empty or whitespace only). */
export function checkText(name: string, text: string): void {
  if (text.trim() === '') throw new InputError(`${name} is empty: give the page some text to learn from`);
}

/** Read a picked file, refusing a too-large one before reading it into memory. */
export async function readTextFile(file: File): Promise<string> {
  if (file.size > MAX_TEXT_BYTES)
    throw new InputError(`${file.name} is ${mb(file.size)}; the page trains on at most ${mb(MAX_TEXT_BYTES)} of text`);
  return decodeText(file.name, new Uint8Array(await file.arrayBuffer()));
}
