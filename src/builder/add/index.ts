/** ADD's sources beyond the build context: local archives (auto-extracted) and URLs. */
export { archiveEntries, detectArchive, isTarHeader } from './archive.js';
export type { ArchiveEntries, ArchiveEntryOptions, ArchiveFormat } from './archive.js';
export { cleanMemberName } from './archive-tree.js';
export { sniffCompression } from './decompress.js';
export type { Compression } from './decompress.js';
export { downloadUrl, redactUrl, urlFileName } from './url-source.js';
export type { DownloadOptions, DownloadResult } from './url-source.js';
