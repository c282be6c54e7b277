// Any Hugging Face tokenizer.json (BPE, WordPiece, Unigram, WordLevel) as a tokenizer (`hf:PATH`),
// run by @huggingface/tokenizers, so a model trained here uses the ids its checkpoint's tokenizer
// gives. Choices, for a language model:
// - encode gives the raw ids of the text: no post-processor specials (BERT's [CLS]/[SEP], a BOS or
//   EOS); documents are separated by whoever builds the token stream (`prepare` uses
//   `<|endoftext|>` when the file has it);
// - decode keeps special tokens and leaves the text as the decoder makes it, without the
//   transformers "clean up tokenization spaces" pass (the Rust library has none either): that pass
//   rewrites text across token boundaries (` ' ` → `'`), so decode would not be prefix-stable and
//   StreamDecoder would lose text;
// - `unknown` is empty when the model has an unknown token or byte fallback (the library maps such
//   text to them); otherwise it probes each character and reports those that encode to nothing;
// - `toJSON` returns the file as it was read, so a checkpoint stores it unchanged.
// The library has no WordLevel class: it reads such a model as its "Legacy" one, given the unknown
// token through its config. It reads the file without `node:` modules; `open` reads through the
// TextFiles port.
import { type TextFiles, type Tokenizer, TokenizerError, type TokenizerPlugin } from '@ganglion/core';
import { Tokenizer as HfLibrary } from '@huggingface/tokenizers';

/** The model types the library reads. */
const HF_MODEL_TYPES: readonly string[] = ['BPE', 'WordPiece', 'Unigram', 'WordLevel'];

interface ModelJSON {
  type?: unknown;
  vocab?: unknown;
  unk_token?: unknown;
  unk_id?: unknown;
  byte_fallback?: unknown;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * A tokenizer.json run by @huggingface/tokenizers.
 *
 *   const tok = HfTokenizer.load(JSON.parse(text), 'tokenizer.json');
 *   tok.decode(tok.encode('Hello world'));
 */
export class HfTokenizer implements Tokenizer {
  readonly kind = 'hf';
  readonly vocabSize: number;
  private readonly added: ReadonlyMap<string, number>;
  /** The model's unknown token id, when it has one. */
  private readonly unknownId: number | undefined;
  /** Whether text can always be encoded (an unknown token or byte fallback). */
  private readonly total: boolean;
  /** Per character: true when it encodes to nothing (probed only without `total`). */
  private readonly dropped = new Map<string, boolean>();

  private constructor(
    private readonly json: object,
    private readonly lib: HfLibrary,
  ) {
    let max = -1;
    for (const id of lib.get_vocab(true).values()) if (id > max) max = id;
    this.vocabSize = max + 1;
    this.added = new Map([...lib.get_added_tokens_decoder()].map(([id, t]) => [t.content, id]));
    const model = (json as { model: ModelJSON }).model;
    this.unknownId =
      typeof model.unk_id === 'number'
        ? model.unk_id
        : typeof model.unk_token === 'string'
          ? lib.token_to_id(model.unk_token)
          : undefined;
    this.total = this.unknownId !== undefined || model.byte_fallback === true;
  }

  /**
   * The tokenizer in `json` (any object with a `model`); a file the library cannot read is a
   * TokenizerError that starts with `where`.
   */
  static load(json: unknown, where: string): HfTokenizer {
    if (json === null || typeof json !== 'object' || Array.isArray(json))
      throw new TokenizerError(`${where}: expected a Hugging Face tokenizer.json (a JSON object with a "model")`);
    const model = (json as { model?: unknown }).model as ModelJSON | undefined;
    if (model === null || typeof model !== 'object' || Array.isArray(model))
      throw new TokenizerError(`${where}: "model" must be an object, got ${JSON.stringify(model) ?? 'nothing'}`);
    if (model.type !== undefined && !HF_MODEL_TYPES.includes(model.type as string))
      throw new TokenizerError(
        `${where}: model type ${JSON.stringify(model.type)} is not one the Hugging Face tokenizers library reads (${HF_MODEL_TYPES.join(', ')})`,
      );
    // The Rust library treats these fields as optional; the JavaScript one wants them present. It
    // only reads the rest, so a shallow copy keeps `json` as it was (a large vocabulary is not copied).
    const copy = {
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      added_tokens: [],
      ...json,
    };
    const config = model.type === 'WordLevel' ? { unk_token: model.unk_token } : {};
    let lib: HfLibrary;
    try {
      lib = new HfLibrary(copy, config);
    } catch (e) {
      throw new TokenizerError(
        `${where}: the Hugging Face tokenizers library cannot read it: ${oneLine((e as Error).message ?? String(e))}`,
      );
    }
    return new HfTokenizer(json, lib);
  }

  encode(text: string): Int32Array {
    const ids: (number | undefined)[] = this.lib.encode(text, { add_special_tokens: false }).ids;
    const out = new Int32Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === undefined) {
        // A WordPiece or Unigram model without an unknown token yields no id for what it cannot split.
        const unknown = this.unknown(text);
        if (unknown.length > 0) throw TokenizerError.notInVocabulary(unknown);
        throw new TokenizerError('the text has words the vocabulary cannot split, and the model has no unknown token');
      }
      out[i] = ids[i]!;
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    const list = Array.from(ids);
    if (list.length === 0) return '';
    list.forEach((id, i) => {
      if (!(Number.isInteger(id) && id >= 0 && id < this.vocabSize) || this.lib.id_to_token(id) === undefined)
        throw new TokenizerError(
          `id ${id} at position ${i} is outside the vocabulary (ids 0..${this.vocabSize - 1}${id < this.vocabSize ? ', and it has no token' : ''})`,
        );
    });
    return this.lib.decode(list, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  /**
   * Empty when the model has an unknown token or byte fallback; otherwise the characters of `text`
   * (whitespace aside) that encode to nothing or to no id on their own, each once, in order.
   */
  unknown(text: string): string[] {
    if (this.total) return [];
    const out: string[] = [];
    for (const c of new Set(text)) {
      if (/\s/u.test(c)) continue;
      let d = this.dropped.get(c);
      if (d === undefined) {
        const ids: (number | undefined)[] = this.lib.encode(c, { add_special_tokens: false }).ids;
        d = ids.length === 0 || ids.includes(undefined);
        this.dropped.set(c, d);
      }
      if (d) out.push(c);
    }
    return out;
  }

  /** An added token's id by content; `<unk>` also names the model's unknown token, whatever it is called. */
  specialId(token: string): number | undefined {
    return this.added.get(token) ?? (token === '<unk>' ? this.unknownId : undefined);
  }

  /** The tokenizer.json as it was read. */
  toJSON(): object {
    return this.json;
  }
}

export const hfTokenizer: TokenizerPlugin = {
  kind: 'hf',
  description: 'hf:PATH    a Hugging Face tokenizer.json (BPE, WordPiece, Unigram, WordLevel), used as it is',
  async open(path: string, files: TextFiles) {
    const where = `tokenizer hf:${path}`;
    let text: string;
    try {
      text = await files.readText(path);
    } catch (e) {
      const message = oneLine((e as Error).message ?? String(e));
      throw new TokenizerError(
        message.includes(path) ? `${where}: ${message}` : `${where}: cannot read ${path}: ${message}`,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new TokenizerError(`${where}: not JSON (${oneLine((e as Error).message)})`);
    }
    return HfTokenizer.load(json, where);
  },
  fromJSON(json) {
    const model = (json as { model?: unknown } | null)?.model;
    if (json === null || typeof json !== 'object' || model === null || typeof model !== 'object') return undefined;
    return HfTokenizer.load(json, 'Hugging Face tokenizer.json');
  },
};
