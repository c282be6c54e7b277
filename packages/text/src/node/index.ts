// @ganglion/text/node: what reads and writes files — corpora (text files, folders of *.txt, .jsonl,
// Moby-Dick), token files, data folders (`openData`), the `prepare` pipeline (`prepareData`) and
// CMUdict as grapheme-to-phoneme pairs (`cmudictG2p`).
export {
  type Corpus,
  CorpusError,
  type CorpusSource,
  type PathCorpusOptions,
  type SourceEvent,
  corpusFromPaths,
  jsonlSource,
  mobyDick,
  textFileSource,
} from './sources.js';
export {
  DATA_FILES,
  DATA_FORMAT,
  DATA_VERSION,
  type DataDirStatus,
  type DataMeta,
  DataFolderError,
  type SplitMeta,
  checkDataDirWritable,
  dataDirStatus,
} from './data-folder.js';
export { type OpenedData, openData } from './open-data.js';
export { type PrepareOptions, type PrepareProgress, type PrepareResult, prepareData } from './prepare.js';
export { END_OF_TEXT, TEXT_SEPARATOR } from './first-pass.js';
export { MAX_VOCAB, TokenFile, TokenFileError, TokenFileWriter, dataDType } from './token-files.js';
export { nodeTextFiles } from './text-files.js';
export { MAX_PIECE_UNITS, type Piece, PieceCutter } from './pieces.js';
export { type CmudictOptions, type G2pData, type G2pEntry, cmudictG2p } from './cmudict.js';
