/** `--progress quiet` and `-q`: nothing; errors are printed by the CLI as always. */
import type { ProgressRenderer } from './format.js';

export class QuietRenderer implements ProgressRenderer {
  event(): void {}
  end(): void {}
}
