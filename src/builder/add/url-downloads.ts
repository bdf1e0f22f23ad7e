/**
 * The downloads of one build's `ADD <url>`s, each made once: the step's
 * cache key needs a URL's content when no `--checksum` names it (BuildKit
 * keys an HTTP source by what it downloaded), and the step then copies the
 * very file the key was made from, so the layer is what the key describes.
 * The files stay in the build's scratch directory, removed with it.
 */
import { downloadUrl, type DownloadResult } from './url-source.js';
import type { DownloadSettings } from '../executor/step-context.js';

export class UrlDownloads {
  private readonly made = new Map<string, Promise<DownloadResult>>();

  constructor(
    private readonly tmpDir: string,
    private readonly settings: DownloadSettings | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** `url` downloaded (and checked against `checksum`), once per build for each pair; a failure is the same failure for every caller. */
  get(url: string, checksum: string | undefined): Promise<DownloadResult> {
    const key = JSON.stringify([url, checksum ?? null]);
    let made = this.made.get(key);
    if (made === undefined) {
      made = this.download(url, checksum);
      // Awaited by the step later; a failure seen first by the key must not count as unhandled meanwhile.
      made.catch(() => undefined);
      this.made.set(key, made);
    }
    return made;
  }

  private async download(url: string, checksum: string | undefined): Promise<DownloadResult> {
    return downloadUrl(url, {
      tmpDir: this.tmpDir,
      ...(checksum !== undefined ? { checksum } : {}),
      ...(this.signal !== undefined ? { signal: this.signal } : {}),
      ...(this.settings?.timeoutMs !== undefined ? { timeoutMs: this.settings.timeoutMs } : {}),
      ...(this.settings?.dispatcher !== undefined ? { dispatcher: await this.settings.dispatcher() } : {}),
    });
  }
}
