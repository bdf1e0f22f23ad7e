/**
 * The tar codec: one reader and one writer for all of hoist (layers, ADD
 * archives, `hoist export`, OCI and docker archives). It imports nothing of
 * the project, so that every other module may use it; errors are TarErrors
 * that callers turn into located HoistErrors.
 */
export { TarError, isTarError, type TarErrorKind } from './error.js';
export {
  BLOCK,
  END_OF_ARCHIVE,
  encodeHeader,
  encodePaxRecords,
  paddingFor,
  splitUstarName,
  type TarHeader,
  type TarType,
} from './header.js';
export { isTarHeader } from './decode.js';
export { readTar, readTarFile, type TarEntry, type TarEntryHeader, type TarEntryType } from './reader.js';
export { tarChunks, TarWriter, type TarContent, type TarMemberInput, type TarMemberSource } from './writer.js';
